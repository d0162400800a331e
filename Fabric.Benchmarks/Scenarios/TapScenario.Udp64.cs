using System.Globalization;
using System.Text.RegularExpressions;

namespace Fabric.Benchmarks.Scenarios;

// The small-frame figure of issue #10 (`udp64_lossless_kfps_*`), RFC 2544 style: 64-byte frames
// (60 on the wire without FCS: Ethernet, IPv4, UDP, 18 bytes of payload) offered at a fixed rate
// on the client's device, counted where they arrive (the server device's rx_packets), rate after
// rate up a ladder. The highest rate with nothing lost is the lossless rate. iperf3 cannot offer
// these rates here (one sendto per datagram through the socket layer tops out near 120 k/s on
// this box), so trafgen (netsniff-ng) writes the frames on an AF_PACKET socket, paced by -b.
public static partial class TapScenario
{
    /// <summary>Offered rates, in thousands of frames per second.</summary>
    private static readonly int[] Udp64LadderKfps = [100, 150, 200, 300, 400, 600, 800];

    /// <summary>What one ladder found: the highest lossless rate (null: none), and the loss at each rate tried.</summary>
    private sealed record Udp64Result(int? LosslessKfps, IReadOnlyList<(int Kfps, long Offered, long Received, double OfferedSeconds)> Steps);

    /// <summary>
    /// Climbs the ladder on <paramref name="p"/> for <paramref name="seconds"/> per rate; stops at
    /// the first rate that loses frames or that trafgen could not offer in time (the generator's
    /// own limit on this box, printed as such).
    /// </summary>
    private static Udp64Result Udp64Ladder(string trafgen, TrafficPath p, string root, double seconds)
    {
        string clientDevice = p.ClientDevice!, serverDevice = p.ServerDevice!;
        var nft = Tool("nft", "nftables");
        var config = Path.Combine(root, $"udp64-{p.Name}.cfg");
        var serverMac = p.Server.Ip($"-br link show {serverDevice}").Split(' ', StringSplitOptions.RemoveEmptyEntries)[2];
        File.WriteAllText(config,
            $"{{ eth(da={serverMac}, type=0x0800), ipv4(saddr={p.ClientAddress}, daddr={p.ServerAddress}, ttl=64), udp(sp=40000, dp=9), fill(0x00, 18) }}\n");
        var steps = new List<(int, long, long, double)>();
        int? lossless = null;
        // The server's stack drops the frames before routing (nftables, prerouting at raw
        // priority): with no socket on the port it would answer each with an ICMP port
        // unreachable, whose route lookups and rate limiting run inside the writer's write().
        // What is counted (the device's rx_packets) is unchanged.
        p.Server.Exec(nft, "add table ip udp64");
        p.Server.Exec(nft, "add chain ip udp64 sink { type filter hook prerouting priority -300 ; policy accept ; }");
        p.Server.Exec(nft, "add rule ip udp64 sink udp dport 9 drop");
        try
        {
            foreach (var kfps in Udp64LadderKfps)
            {
                long count = (long)(kfps * 1000 * seconds);
                long before = RxPackets(p.Server, serverDevice);
                long queueDropsBefore = Statistic(p.Client, clientDevice, "tx_dropped");
                long socketDropsBefore = UdpReceiveBufferErrors();
                var started = DateTime.UtcNow;
                var said = p.Client.Exec(trafgen, $"--dev {clientDevice} --conf {config} -b {kfps * 1000}pps -n {count} -P 1 -q", timeoutMs: (int)(seconds * 1000) + 30_000, check: false);
                var took = (DateTime.UtcNow - started).TotalSeconds;
                Thread.Sleep(300); // frames still in queues
                long received = RxPackets(p.Server, serverDevice) - before;
                var m = Outgoing().Match(said);
                long offered = m.Success ? long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
                steps.Add((kfps, offered, received, took));
                // Where they were lost, when they were: the client device's queue towards its reader
                // (for a TAP: the fabric did not read in time), the host's UDP receive buffers (the underlay).
                Console.WriteLine($"udp64 {p.Name,-15} {kfps,4} kfps offered {offered} in {took:0.00} s, received {received} (lost {Math.Max(0, offered - received)}; "
                    + $"device queue drops {Statistic(p.Client, clientDevice, "tx_dropped") - queueDropsBefore}, host UDP receive-buffer drops {UdpReceiveBufferErrors() - socketDropsBefore})");
                if (offered < count || took > seconds * 1.1 + 0.3)
                {
                    Console.WriteLine($"udp64 {p.Name}: trafgen could not offer {kfps} kfps on this box; the ladder stops");
                    break;
                }

                if (received < offered) break;
                lossless = kfps;
            }
        }
        finally
        {
            p.Server.Exec(nft, "delete table ip udp64", check: false);
        }

        return new Udp64Result(lossless, steps);
    }

    /// <summary>Frames the device took in (for a TAP: what its owner wrote; for a veth: what its peer sent).</summary>
    private static long RxPackets(ScenarioNamespace ns, string device) => Statistic(ns, device, "rx_packets");

    private static long Statistic(ScenarioNamespace ns, string device, string name) =>
        long.Parse(ns.Exec("cat", $"/sys/class/net/{device}/statistics/{name}").Trim(), CultureInfo.InvariantCulture);

    /// <summary>Udp RcvbufErrors of this (the host's) network namespace, where the nodes' underlay sockets are.</summary>
    private static long UdpReceiveBufferErrors()
    {
        var lines = File.ReadAllLines("/proc/net/snmp").Where(l => l.StartsWith("Udp:", StringComparison.Ordinal)).ToArray();
        var names = lines[0].Split(' ');
        var values = lines[1].Split(' ');
        return long.Parse(values[Array.IndexOf(names, "RcvbufErrors")], CultureInfo.InvariantCulture);
    }

    [GeneratedRegex(@"(\d+) packets outgoing")]
    private static partial Regex Outgoing();
}
