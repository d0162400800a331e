using System.Diagnostics;
using System.Text;
using Fabric.Actors.Cellular.Emulator;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Messages.Intent;
using Fabric.Tests.DataPlane.Io;

namespace Fabric.Tests.Cellular;

/// <summary>
/// The simulated carrier as real namespaces: a carrier router namespace holding the modem's
/// raw-IP TUN device (its /24 routed into it) and a veth to a server namespace
/// (198.51.100.10, behind router 198.51.100.1). Every name starts with <c>cel</c>.
/// </summary>
internal sealed class CarrierNetwork : IDisposable
{
    private static int _counter;

    public CarrierNetwork()
    {
        Tag = $"{Environment.ProcessId % 100000}{(char)('a' + (Interlocked.Increment(ref _counter) % 26))}";
        Router = new TestNamespace("cel-carrier");
        Server = new TestNamespace("cel-server");
        var routerSide = $"celr{Tag}";
        var serverSide = $"cels{Tag}";
        HostTools.Ip($"link add {routerSide} netns {Router.Name} type veth peer name {serverSide} netns {Server.Name}");
        Router.Ip("link set lo up");
        Router.Ip($"addr add {SimulatedCarrier.RouterAddress}/24 dev {routerSide}");
        Router.Ip($"link set {routerSide} up");
        Router.Exec("sysctl", "-qw net.ipv4.ip_forward=1");
        Router.Exec("sysctl", "-qw net.ipv4.conf.all.rp_filter=0");
        Server.Ip("link set lo up");
        Server.Ip($"addr add {SimulatedCarrier.ServerAddress}/24 dev {serverSide}");
        Server.Ip($"link set {serverSide} up");
        Server.Ip($"route add default via {SimulatedCarrier.RouterAddress}");
    }

    public string Tag { get; }

    public TestNamespace Router { get; }

    public TestNamespace Server { get; }

    /// <summary>
    /// For <c>CellularNode.CarrierFactory</c>: opens the modem's raw-IP TUN device, moves it into
    /// the carrier namespace, and routes the modem's pool there.
    /// </summary>
    public IPort OpenTun(string hypervisor, string modem, ushort id)
    {
        var name = $"celt{Tag}";
        var tun = TapPort.Open(name, id, rawIp: true);
        try
        {
            HostTools.Ip($"link set {name} netns {Router.Name}");
            Router.Ip($"link set {name} up");
            Router.Ip($"route add {CarrierPool.NetworkOf(hypervisor, modem)}/{CarrierPool.PrefixLength} dev {name}");
            return tun;
        }
        catch
        {
            tun.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        Router.Dispose();
        Server.Dispose();
    }
}

/// <summary>A VM: a namespace whose one NIC is the TAP the bridge opened, with the VM's MAC.</summary>
internal sealed class VmNamespace : IDisposable
{
    public VmNamespace(string tap, MacAddress mac)
    {
        Tap = tap;
        Mac = mac;
        Ns = new TestNamespace("cel-vm");
        Ns.Ip("link set lo up");
    }

    public TestNamespace Ns { get; }

    public string Tap { get; }

    public MacAddress Mac { get; }

    /// <summary>For <c>CellularNode.PortFactory</c>: opens the TAP and plugs it into the VM.</summary>
    public IPort OpenTap(PortRef port, ushort id)
    {
        Assert.Equal(Tap, port.Name);
        var tap = TapPort.Open(port.Name, id);
        try
        {
            HostTools.Ip($"link set {Tap} netns {Ns.Name}");
            Ns.Ip($"link set {Tap} address {Mac}");
            Ns.Ip($"link set {Tap} up");
            return tap;
        }
        catch
        {
            tap.Dispose();
            throw;
        }
    }

    /// <summary>The VM's IPv4 address on its NIC, or null.</summary>
    public string? Address()
    {
        var line = Ns.Ip($"-4 -o addr show dev {Tap}").Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
        var inet = line?.Split(' ', StringSplitOptions.RemoveEmptyEntries).SkipWhile(w => w != "inet").Skip(1).FirstOrDefault();
        return inet?.Split('/')[0];
    }

    /// <summary>How often the NIC's carrier went down or up (a link flap counts twice).</summary>
    public long CarrierChanges() => long.Parse(Ns.Exec("cat", $"/sys/class/net/{Tap}/carrier_changes").Stdout.Trim());

    public bool Ping(string address, int count = 1) => Ns.Exec("ping", $"-n -c {count} -W 1 {address}", timeoutMs: (count + 3) * 1000).ExitCode == 0;

    public void Dispose() => Ns.Dispose();
}

/// <summary>A tool running in the background (dhclient, a continuous ping, a listener), output kept, killed by PID on dispose.</summary>
internal sealed class BackgroundTool : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    public BackgroundTool(string file, string arguments)
    {
        var psi = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        _process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>Runs <paramref name="file"/> inside namespace <paramref name="ns"/>.</summary>
    public static BackgroundTool In(TestNamespace ns, string file, string arguments) =>
        new(HostTools.Require("ip", "iproute2"), $"netns exec {ns.Name} {file} {arguments}");

    public string Output
    {
        get
        {
            lock (_output) return _output.ToString();
        }
    }

    public bool HasExited => _process.HasExited;

    public bool WaitForExit(TimeSpan timeout) => _process.WaitForExit(timeout);

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
    }
}
