using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Akka.Actor;
using Fabric.Actors.Cellular;
using Fabric.Actors.Cellular.Bridge;
using Fabric.Actors.Cellular.Emulator;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Messages.Intent;

namespace Fabric.Benchmarks.Scenarios;

/// <summary>
/// Cellular connectivity for a VM. Figures (medians over the repetitions):
/// <list type="bullet">
/// <item>dial_ms: a hypervisor element started → its simulated modem's bearer up (the whole AT
/// dialogue over a pseudo-terminal; in process, no root);</item>
/// <item>passthrough_fps_64 / modem_to_vm_fps_64: 64-byte frames per second through the bridge's
/// data path alone (VM frame stripped to raw IP into a counting sink; raw IP framed to the VM),
/// one thread, in process;</item>
/// <item>dhcp_ms: ISC dhclient started in a VM namespace on the bridge's TAP → the VM holds the
/// cellular address (root, isc-dhcp-client);</item>
/// <item>ip_change_recovery_ms: the carrier changes the address → the VM holds the new one and a
/// ping from it to the carrier's server (through a TUN in a carrier namespace) is answered.</item>
/// </list>
/// Without root or dhclient the last two are null and the reason is printed.
/// </summary>
public static class CellularScenario
{
    private const string Hypervisor = "hv-bench";
    private static readonly MacAddress BridgeMac = MacAddress.Parse("02:00:00:00:3c:00");
    private static readonly MacAddress VmMac = MacAddress.Parse("02:00:00:00:3c:01");

    public static int Run(string[] args)
    {
        double seconds = Math.Clamp(Option(args, "--seconds", 2), 0.5, 30);
        int reps = (int)Math.Clamp(Option(args, "--reps", 3), 1, 10);

        var dial = new List<double>();
        for (var i = 0; i < reps; i++) dial.Add(DialOnce());
        Console.WriteLine($"dial_ms: {string.Join(", ", dial.Select(F))}");

        var (toModem, toVm) = (new List<double>(), new List<double>());
        Passthrough(1, towardsModem: true); // warm-up: tiered JIT runs unoptimized code first
        Passthrough(1, towardsModem: false);
        for (var i = 0; i < reps; i++)
        {
            toModem.Add(Passthrough(seconds, towardsModem: true));
            toVm.Add(Passthrough(seconds, towardsModem: false));
        }
        Console.WriteLine($"passthrough_fps_64 (VM -> modem): {string.Join(", ", toModem.Select(F))}; modem -> VM: {string.Join(", ", toVm.Select(F))} " +
                          $"(load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]})");

        double? dhcp = null, recovery = null;
        var why = RealTrafficUnavailable();
        if (why is null)
        {
            (dhcp, recovery) = RealTraffic(reps);
        }
        else
        {
            Console.WriteLine($"dhcp_ms and ip_change_recovery_ms skipped: {why}");
        }

        Console.WriteLine(JsonSerializer.Serialize(new
        {
            scenario = "cellular",
            dial_ms = Median(dial),
            dhcp_ms = dhcp,
            ip_change_recovery_ms = recovery,
            passthrough_fps_64 = Median(toModem),
            modem_to_vm_fps_64 = Median(toVm),
            reps,
        }));
        return 0;
    }

    private static HypervisorIntent Intent(PortRef vmPort) => IntentParser.Parse($$"""
        version: 1
        nodes:
          - name: node-1
            roles: [fabric]
        hypervisors:
          - name: {{Hypervisor}}
            node: node-1
            modems:
              - name: modem-1
                device: simulated
                apn: internet
            bridge: { name: cbr0, mac: {{BridgeMac}} }
            vms:
              - name: vm-1
                mac: {{VmMac}}
                port: { kind: {{(vmPort.Kind == PortKind.Tap ? "tap" : "simulated")}}, name: {{vmPort.Name}} }
        """).Document!.Hypervisors.Single();

    private static double DialOnce()
    {
        using var system = ActorSystem.Create("cellular-bench", "akka.loglevel = WARNING");
        var node = new CellularNode(portFactory: CellularNode.MemoryPorts);
        var clock = Stopwatch.StartNew();
        system.ActorOf(Fabric.Actors.Cellular.Actors.HypervisorActor.Props(Intent(new PortRef(PortKind.Simulated, "vm-1")), node), $"hv-{Hypervisor}");
        if (!WaitFor(() => node.Status(Hypervisor)?.Modems.SingleOrDefault()?.Bearer == "up", 10_000)) throw new InvalidOperationException("the modem did not dial");
        var ms = clock.Elapsed.TotalMilliseconds;
        system.Terminate().Wait(TimeSpan.FromSeconds(10));
        return ms;
    }

    /// <summary>Frames per second through one direction of the bridge's data path, 256-frame batches.</summary>
    private static double Passthrough(double seconds, bool towardsModem)
    {
        var cellular = Ipv4Address.Parse("100.64.0.10");
        var pool = new PacketBatchPool(maxRetained: 16, preallocate: 8);
        using var vm = new SimulatedPort("vm", 1);
        using var modem = new SimulatedPort("modem", 2);
        var bridge = new VmBridge("vm-1", BridgeMac, VmMac, new LeaseTerms(), vm, modem, pool);
        bridge.SetAddress(cellular);
        var udp = new UdpRepr(40000, 9, 64 - 14 - 20 - 8);
        var ip = new Ipv4Repr(cellular, SimulatedCarrier.ServerAddress, IpProtocol.Udp, udp.BufferLength);
        var packet = new byte[ip.BufferLength];
        udp.Emit(packet.AsSpan(ip.HeaderLength), cellular, SimulatedCarrier.ServerAddress);
        ip.Emit(packet);
        if (!towardsModem)
        {
            var back = new Ipv4Repr(SimulatedCarrier.ServerAddress, cellular, IpProtocol.Udp, udp.BufferLength);
            back.Emit(packet);
        }
        var frame = new byte[14 + packet.Length];
        new EthernetRepr(VmMac, BridgeMac, EtherType.Ipv4).Emit(frame);
        packet.CopyTo(frame, 14);
        var input = towardsModem ? frame : packet;

        long frames = 0;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            var batch = pool.Rent();
            while (batch.TryAppend(input))
            {
            }
            frames += batch.Count;
            if (towardsModem) bridge.FromVm(batch);
            else bridge.FromModem(batch);
        }
        var rate = frames / clock.Elapsed.TotalSeconds;
        var delivered = towardsModem ? bridge.ToModem : bridge.ToVm;
        if (delivered != frames) throw new InvalidOperationException($"{frames - delivered} frames lost in the bridge");
        return rate;
    }

    private static string? RealTrafficUnavailable()
    {
        if (Environment.UserName != "root") return "needs root (namespaces, TAP, TUN)";
        if (!File.Exists("/usr/sbin/dhclient") && !File.Exists("/sbin/dhclient")) return "needs ISC dhclient (apt-get install isc-dhcp-client)";
        return null;
    }

    /// <summary>Carrier (router + server) and VM namespaces, dhclient in the VM; one DHCP time, then <paramref name="reps"/> address changes.</summary>
    private static (double? DhcpMs, double? RecoveryMs) RealTraffic(int reps)
    {
        var tag = (Environment.ProcessId % 100000).ToString(CultureInfo.InvariantCulture);
        using var router = new ScenarioNamespace("celb-carrier");
        using var server = new ScenarioNamespace("celb-server");
        using var vmNs = new ScenarioNamespace("celb-vm");
        string tun = $"celbt{tag}", tap = $"celbv{tag}";
        ScenarioNamespace.Run("ip", $"link add celbr{tag} netns {router.Name} type veth peer name celbs{tag} netns {server.Name}");
        router.Ip($"addr add {SimulatedCarrier.RouterAddress}/24 dev celbr{tag}");
        router.Ip($"link set celbr{tag} up");
        router.Exec("sysctl", "-qw net.ipv4.ip_forward=1");
        router.Exec("sysctl", "-qw net.ipv4.conf.all.rp_filter=0");
        server.Ip($"addr add {SimulatedCarrier.ServerAddress}/24 dev celbs{tag}");
        server.Ip($"link set celbs{tag} up");
        server.Ip($"route add default via {SimulatedCarrier.RouterAddress}");

        var node = new CellularNode(portFactory: (port, id) =>
        {
            var p = TapPort.Open(port.Name, id);
            ScenarioNamespace.Run("ip", $"link set {tap} netns {vmNs.Name}");
            vmNs.Ip($"link set {tap} address {VmMac}");
            vmNs.Ip($"link set {tap} up");
            return p;
        })
        {
            CarrierFactory = (hv, modem, id) =>
            {
                var p = TapPort.Open(tun, id, rawIp: true);
                ScenarioNamespace.Run("ip", $"link set {tun} netns {router.Name}");
                router.Ip($"link set {tun} up");
                router.Ip($"route add {CarrierPool.NetworkOf(hv, modem)}/{CarrierPool.PrefixLength} dev {tun}");
                return p;
            },
        };
        using var system = ActorSystem.Create("cellular-bench", "akka.loglevel = WARNING");
        system.ActorOf(Fabric.Actors.Cellular.Actors.HypervisorActor.Props(Intent(new PortRef(PortKind.Tap, tap)), node), $"hv-{Hypervisor}");
        if (!WaitFor(() => node.Status(Hypervisor)?.Modems.SingleOrDefault()?.Bearer == "up", 15_000)) throw new InvalidOperationException("the modem did not dial");

        var leases = Path.Combine(Path.GetTempPath(), $"celb-dhclient-{tag}");
        var dhclient = Process.Start(new ProcessStartInfo("ip", $"netns exec {vmNs.Name} dhclient -4 -d -pf {leases}.pid -lf {leases}.leases {tap}")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        })!;
        dhclient.BeginErrorReadLine();
        dhclient.BeginOutputReadLine();
        try
        {
            var clock = Stopwatch.StartNew();
            var address = node.Status(Hypervisor)!.Modems.Single().Address;
            if (!WaitFor(() => VmAddress(vmNs, tap) == address, 20_000)) throw new InvalidOperationException("the VM got no address");
            var dhcp = clock.Elapsed.TotalMilliseconds;
            Console.WriteLine($"dhcp_ms: {F(dhcp)}");

            var emulator = node.Hypervisors[Hypervisor].Modems["modem-1"].Device.Simulated!.Emulator;
            var recoveries = new List<double>();
            for (var i = 0; i < reps; i++)
            {
                Thread.Sleep(1_500);
                clock.Restart();
                var moved = emulator.ChangeAddress()!.Value.ToString();
                if (!WaitFor(() => VmAddress(vmNs, tap) == moved && PingOk(vmNs), 15_000))
                {
                    throw new InvalidOperationException($"the VM did not recover on {moved}");
                }
                recoveries.Add(clock.Elapsed.TotalMilliseconds);
            }
            Console.WriteLine($"ip_change_recovery_ms: {string.Join(", ", recoveries.Select(F))}");
            return (dhcp, Median(recoveries));
        }
        finally
        {
            dhclient.Kill(entireProcessTree: true);
            dhclient.WaitForExit(5_000);
            system.Terminate().Wait(TimeSpan.FromSeconds(10));
            foreach (var f in new[] { $"{leases}.pid", $"{leases}.leases" }) File.Delete(f);
        }
    }

    private static bool PingOk(ScenarioNamespace ns) =>
        ns.Exec("ping", $"-n -c 1 -W 1 {SimulatedCarrier.ServerAddress}", check: false).Contains(" 0% packet loss", StringComparison.Ordinal);

    private static string? VmAddress(ScenarioNamespace ns, string tap)
    {
        var line = ns.Ip($"-4 -o addr show dev {tap}").Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
        return line?.Split(' ', StringSplitOptions.RemoveEmptyEntries).SkipWhile(w => w != "inet").Skip(1).FirstOrDefault()?.Split('/')[0];
    }

    private static bool WaitFor(Func<bool> condition, int timeoutMs)
    {
        var clock = Stopwatch.StartNew();
        while (clock.ElapsedMilliseconds < timeoutMs)
        {
            if (condition()) return true;
            Thread.Sleep(10);
        }
        return false;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }

    private static string F(double value) => value.ToString("0", CultureInfo.InvariantCulture);

    private static double Option(string[] args, string name, double fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length && double.TryParse(args[i + 1], CultureInfo.InvariantCulture, out var v) ? v : fallback;
    }
}
