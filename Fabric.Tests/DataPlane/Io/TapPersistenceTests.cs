using Fabric.Actors.DataPlane.Io;
using Fabric.Tests.Support;

namespace Fabric.Tests.DataPlane.Io;

/// <summary>
/// TAP devices that outlive their port: opened inside a named namespace, made persistent when the
/// node creates them and recorded in the data directory, deleted only when retired (their port
/// left the intent) and created by the node; a device someone else made is attached to and kept.
/// </summary>
public class TapPersistenceTests
{
    private static int _counter;

    private static string NewTapName(char kind) => $"fp{Environment.ProcessId % 100000}{kind}{Interlocked.Increment(ref _counter)}";

    private static bool Exists(TestNamespace ns, string tap) =>
        HostTools.Run(HostTools.Require("ip", "iproute2"), $"-n {ns.Name} link show {tap}").ExitCode == 0;

    [Fact]
    public void A_device_the_node_created_in_a_namespace_survives_its_port_and_is_deleted_only_when_retired()
    {
        HostTools.RequireRoot();
        using var ns = new TestNamespace("ftp-own");
        using var dir = new TempDir();
        var tap = NewTapName('o');
        var devices = AttachmentDevices.InDataDir(dir.Path);

        using (var port = TapPort.Open(tap, id: 1, netns: ns.Name, devices: devices))
        {
            Assert.True(port.CreatedByNode);
            Assert.Equal(ns.Name, port.Namespace);
            port.SetMtu(1400);
        }

        // Created there, up, persistent: closing the port only detached it. The CE side's address stays.
        Assert.True(Exists(ns, tap), "the device outlives its port");
        var link = ns.Ip($"link show {tap}");
        Assert.Contains("mtu 1400", link);
        Assert.Contains("UP", link);
        Assert.False(HostTools.Run("ip", $"link show {tap}").ExitCode == 0, "the device was made in the named namespace, not the node's");
        ns.Ip($"addr add 10.214.0.2/24 dev {tap}");
        Assert.Contains(tap, File.ReadAllText(Path.Combine(dir.Path, AttachmentDevices.FileName)));

        // A restarted node (a fresh record read from the same data directory) attaches to it and knows it made it.
        var restarted = AttachmentDevices.InDataDir(dir.Path);
        using (var port = TapPort.Open(tap, id: 1, netns: ns.Name, devices: restarted))
        {
            Assert.True(port.CreatedByNode);
            Assert.Contains("10.214.0.2/24", ns.Ip($"addr show dev {tap}"));
            restarted.Retire(ns.Name, tap);
        }

        Assert.False(Exists(ns, tap), "a retired device the node created is deleted when its port closes");
        Assert.DoesNotContain(tap, File.ReadAllText(Path.Combine(dir.Path, AttachmentDevices.FileName)));
    }

    [Fact]
    public void A_device_made_by_ip_tuntap_add_is_attached_to_and_never_deleted_even_when_retired()
    {
        HostTools.RequireRoot();
        using var ns = new TestNamespace("ftp-ext");
        using var dir = new TempDir();
        var tap = NewTapName('e');
        ns.Ip($"tuntap add dev {tap} mode tap");
        ns.Ip($"addr add 10.214.1.2/24 dev {tap}");
        ns.Ip($"link set {tap} up");
        var devices = AttachmentDevices.InDataDir(dir.Path);

        using (var port = TapPort.Open(tap, id: 1, netns: ns.Name, devices: devices))
        {
            Assert.False(port.CreatedByNode);
            devices.Retire(ns.Name, tap);
        }

        Assert.True(Exists(ns, tap), "a device someone else made stays when its port is removed");
        Assert.Contains("10.214.1.2/24", ns.Ip($"addr show dev {tap}"));
        Assert.Empty(devices.All);
    }

    [Fact]
    public void Opening_in_a_namespace_that_does_not_exist_fails_with_a_clear_error()
    {
        HostTools.RequireRoot();
        var missing = $"ftp-none-{Environment.ProcessId}";
        var e = Assert.Throws<IOException>(() => TapPort.Open(NewTapName('m'), netns: missing));
        Assert.Contains($"network namespace '{missing}' does not exist", e.Message);
        Assert.Throws<ArgumentException>(() => TapPort.Open(NewTapName('m'), netns: "../etc"));
    }
}
