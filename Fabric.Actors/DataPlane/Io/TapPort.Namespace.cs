using System.Runtime.ExceptionServices;
using System.Text;

namespace Fabric.Actors.DataPlane.Io;

// Devices in a named network namespace, and devices that outlive the process.
// A port that names its namespace (intent `namespace: ce-a`) is opened inside it: a short-lived
// thread joins the namespace (setns on /run/netns/NAME), opens /dev/net/tun there (a TAP is made
// in the namespace of the process that opens it), attaches or creates the device, opens a control
// socket there for MTU and flags, and ends. The descriptors keep working from any thread; the
// node's own threads never leave its namespace. A restarted node finds the device again there.
public sealed unsafe partial class TapPort
{
    private AttachmentDevices? _devices;
    private int _controlFd = -1;

    /// <summary>The network namespace the device was opened in ("" = the process's own).</summary>
    public string Namespace { get; private init; } = "";

    /// <summary>True when this node created the device (now or before a restart), false for one it attached to (made by <c>ip tuntap add</c>, a VM manager, a container runtime).</summary>
    public bool CreatedByNode { get; private init; }

    /// <summary>Where named namespaces live (iproute2's convention).</summary>
    public const string NamespaceDirectory = "/run/netns";

    /// <summary>Runs <paramref name="open"/> on a dedicated thread that joined network namespace <paramref name="netns"/>; the thread then ends.</summary>
    internal static T InNamespace<T>(string netns, Func<T> open)
    {
        if (netns.Length == 0 || netns.Contains('/') || netns is "." or "..")
        {
            throw new ArgumentException($"'{netns}' is not a network namespace name", nameof(netns));
        }

        var path = Path.Combine(NamespaceDirectory, netns);
        T? result = default;
        ExceptionDispatchInfo? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                int nsFd = LinuxNative.Open(path, LinuxNative.O_RDONLY | LinuxNative.O_CLOEXEC);
                if (nsFd < 0)
                {
                    int errno = LinuxNative.LastError;
                    throw new IOException(errno == LinuxNative.ENOENT
                        ? $"network namespace '{netns}' does not exist ({path})"
                        : $"open {path} failed: {LinuxNative.Describe(errno)}");
                }

                try
                {
                    if (LinuxNative.SetNs(nsFd, LinuxNative.CLONE_NEWNET) < 0)
                    {
                        throw new IOException($"setns {path} failed: {LinuxNative.Describe(LinuxNative.LastError)}");
                    }
                }
                finally
                {
                    LinuxNative.Close(nsFd);
                }

                result = open();
            }
            catch (Exception e)
            {
                failure = ExceptionDispatchInfo.Capture(e);
            }
        })
        {
            IsBackground = true,
            Name = "tap-netns",
        };
        thread.Start();
        thread.Join();
        failure?.Throw();
        return result!;
    }

    /// <summary>Sets IFF_UP on <paramref name="interfaceName"/> through control socket <paramref name="sock"/> (SIOCGIFFLAGS, SIOCSIFFLAGS).</summary>
    private static void SetUp(int sock, string interfaceName)
    {
        byte* ifreq = stackalloc byte[LinuxNative.IfReqSize];
        new Span<byte>(ifreq, LinuxNative.IfReqSize).Clear();
        Encoding.ASCII.GetBytes(interfaceName).CopyTo(new Span<byte>(ifreq, LinuxNative.IfNameSize));
        Check(LinuxNative.Ioctl(sock, LinuxNative.SIOCGIFFLAGS, ifreq), $"SIOCGIFFLAGS {interfaceName}");
        *(short*)(ifreq + LinuxNative.IfNameSize) |= LinuxNative.IFF_UP;
        Check(LinuxNative.Ioctl(sock, LinuxNative.SIOCSIFFLAGS, ifreq), $"SIOCSIFFLAGS {interfaceName}");
    }

    /// <summary>
    /// Closing for good a device the node created and whose port left the intent
    /// (<see cref="AttachmentDevices.Retire"/>): clears its persistence, so closing the descriptor
    /// deletes it, and forgets it. Any other close only detaches: the device stays.
    /// </summary>
    private void DeleteIfRetired()
    {
        if (_devices is null || !_devices.ShouldDelete(Namespace, InterfaceName))
        {
            return;
        }

        if (LinuxNative.IoctlValue(_fd, LinuxNative.TUNSETPERSIST, 0) == 0)
        {
            _devices.Forget(Namespace, InterfaceName);
        }
    }
}
