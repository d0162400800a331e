using System.Globalization;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Benchmarks.Scenarios;

// The small-frame figure of issue #10 (`udp64_lossless_kfps_*`), RFC 2544 style: 64-byte frames
// (60 on the wire without FCS: Ethernet, IPv4, UDP, 18 bytes of payload) offered at a steady rate
// on the client's device, counted where they arrive (the server device's rx_packets), rate after
// rate up a ladder. The highest rate with nothing lost is the lossless rate. iperf3 cannot offer
// these rates here (one sendto per datagram through the socket layer tops out near 120 k/s on
// this box), so PacedFrameSender writes the frames on an AF_PACKET socket in millisecond ticks.
// A tick that wakes late sends what it owes at once; when such a burst was longer than the client
// device's queue and frames were dropped there, the step runs once more (both printed) so that the
// generator's own jitter on this 2-core machine is not counted as the path's loss.
public static partial class TapScenario
{
    /// <summary>Offered rates, in thousands of frames per second.</summary>
    private static readonly int[] Udp64LadderKfps = [100, 150, 200, 300, 400, 600, 800];

    /// <summary>What one ladder found: the highest lossless rate (null: none), and the loss at each rate tried.</summary>
    private sealed record Udp64Result(int? LosslessKfps, IReadOnlyList<(int Kfps, long Offered, long Received)> Steps);

    /// <summary>
    /// Climbs the ladder on <paramref name="p"/> for <paramref name="seconds"/> per rate; stops at
    /// the first rate that loses frames or that the sender could not offer in time (the
    /// generator's own limit on this box, printed as such).
    /// </summary>
    private static Udp64Result Udp64Ladder(string nft, TrafficPath p, double seconds)
    {
        string clientDevice = p.ClientDevice, serverDevice = p.ServerDevice;
        var frame = PacedFrameSender.Udp64(FirstHopMac(p, serverDevice), Ipv4Address.Parse(p.ClientAddress), Ipv4Address.Parse(p.ServerAddress));
        int ifIndex = int.Parse(p.Client.Exec("cat", $"/sys/class/net/{clientDevice}/ifindex").Trim(), CultureInfo.InvariantCulture);
        var steps = new List<(int, long, long)>();
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
            long queueLength = long.Parse(p.Client.Exec("cat", $"/sys/class/net/{clientDevice}/tx_queue_len").Trim(), CultureInfo.InvariantCulture);
            foreach (var kfps in Udp64LadderKfps)
            {
                long count = (long)(kfps * 1000 * seconds);
                long offered, received, queueDrops;
                double took;
                for (int attempt = 1; ; attempt++)
                {
                    long before = RxPackets(p.Server, serverDevice);
                    long queueDropsBefore = Statistic(p.Client, clientDevice, "tx_dropped");
                    long socketDropsBefore = UdpReceiveBufferErrors();
                    (offered, long refused, took, long maxBurst) = PacedFrameSender.SendApart(p.Client.Name, ifIndex, frame, count, kfps * 1000);
                    Thread.Sleep(300); // frames still in queues
                    received = RxPackets(p.Server, serverDevice) - before;
                    queueDrops = Statistic(p.Client, clientDevice, "tx_dropped") - queueDropsBefore;
                    // Where they were lost, when they were: refused by the sending kernel (its queue
                    // full), dropped at the client device's queue towards its reader (for a TAP: the
                    // fabric did not read in time), the host's UDP receive buffers (the underlay).
                    Console.WriteLine($"udp64 {p.Name,-15} {kfps,4} kfps offered {offered} in {took:0.00} s, received {received} (lost {Math.Max(0, offered - received)}; "
                        + $"refused by the sender's kernel {refused}, device queue drops {queueDrops}, "
                        + $"host UDP receive-buffer drops {UdpReceiveBufferErrors() - socketDropsBefore}); largest burst {maxBurst} frames");
                    // A burst longer than the device's queue is the sender's (its thread woke late),
                    // not the paced rate: such a step is run once more, and what the second finds counts.
                    if (received >= offered || queueDrops == 0 || maxBurst <= queueLength || attempt == 2) break;
                    Console.WriteLine($"udp64 {p.Name}: the sender burst {maxBurst} frames at once, past the device's queue of {queueLength}: the step runs again");
                }

                steps.Add((kfps, offered, received));
                if (took > seconds * 1.1 + 0.3)
                {
                    Console.WriteLine($"udp64 {p.Name}: the sender could not offer {kfps} kfps on this box; the ladder stops");
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

    /// <summary>
    /// Where the frames go on the client's link: the server's device, or the router's MAC as the
    /// client's neighbour table holds it (a ping first, so that it does).
    /// </summary>
    private static MacAddress FirstHopMac(TrafficPath p, string serverDevice)
    {
        if (p.FirstHop is not { } router)
        {
            return MacAddress.Parse(p.Server.Ip($"-br link show {serverDevice}").Split(' ', StringSplitOptions.RemoveEmptyEntries)[2]);
        }

        p.Client.Exec("ping", $"-c 1 -W 1 {router}", check: false);
        var words = p.Client.Ip($"neigh show {router}").Split(' ', StringSplitOptions.RemoveEmptyEntries);
        int at = Array.IndexOf(words, "lladdr");
        if (at < 0 || at + 1 >= words.Length) throw new InvalidOperationException($"{p.Name}: no MAC for {router} in {p.Client.Name}");
        return MacAddress.Parse(words[at + 1]);
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
}
