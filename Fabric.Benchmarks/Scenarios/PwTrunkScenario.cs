using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Akka.Actor;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Pseudowire;
using Fabric.Messages.Intent;

namespace Fabric.Benchmarks.Scenarios;

/// <summary>
/// PW trunk load sharing end to end, in one process: two "nodes" (each its own
/// <see cref="PseudowireNode"/> with a real UDP underlay socket, 127.0.0.12:6635 and
/// 127.0.0.13:6635), a trunk actor on each with 4 PWs towards the other (hellos every 50 ms,
/// multiplier 3). A simulated CE behind node A sends 10,000 UDP flows as fast as it can;
/// node B's CE port is a counting sink. Figures:
/// <list type="bullet">
/// <item>fps_64 / gbps_1500: frames (bits) per second that came out of B's attachment circuit,
/// for 64-byte and 1500-byte CE frames (median of the runs; min and max printed too);</item>
/// <item>share_max_over_mean: the busiest PW's frames over the mean, during the 64-byte runs;</item>
/// <item>reordered: frames B's PWs saw out of control-word sequence, all runs;</item>
/// <item>failover_gap_ms: from dropping everything one PW receives (at B) to A's trunk no
/// longer selecting it (its flows flow again on the others from the next batch on);</item>
/// <item>moved_flows_on_healthy_pws: of the 10,000 flows, those that changed PW although
/// their PW stayed up.</item>
/// </list>
/// </summary>
public static class PwTrunkScenario
{
    private const int Flows = 10_000;

    public static int Run(string[] args)
    {
        double seconds = Math.Clamp(Option(args, "--seconds", 2), 0.5, 30);
        int reps = (int)Math.Clamp(Option(args, "--reps", 3), 1, 10);
        using var system = ActorSystem.Create("pw-bench", "akka.loglevel = WARNING");
        using var nodeA = new PseudowireNode();
        using var nodeB = new PseudowireNode();
        var underlayA = nodeA.EnsureUnderlay(new Ipv4Address(127, 0, 0, 12));
        var underlayB = nodeB.EnsureUnderlay(new Ipv4Address(127, 0, 0, 13));
        var sinkB = new SimulatedPort("ce-b", 2);
        using var acB = new AttachmentCircuit("ce-b", sinkB, nodeB.Pool);
        using var idleA = new AttachmentCircuit("ce-a", new SimulatedPort("idle", 3, new TrafficProfile { FramesPerSecond = 1e-9 }), nodeA.Pool);
        string[] membersA = ["pw-a1", "pw-a2", "pw-a3", "pw-a4"];
        string[] membersB = ["pw-b1", "pw-b2", "pw-b3", "pw-b4"];
        system.ActorOf(TrunkActor.Props(new TrunkIntent("trunk-a", "pe-a", "ce-a", [.. membersA]),
            membersA.Select((n, i) => Pw(n, "trunk-a", 1001u + (uint)i, 2001u + (uint)i, underlayB)).ToArray(), idleA, underlayA, nodeA), "trunk-a");
        system.ActorOf(TrunkActor.Props(new TrunkIntent("trunk-b", "pe-b", "ce-b", [.. membersB]),
            membersB.Select((n, i) => Pw(n, "trunk-b", 2001u + (uint)i, 1001u + (uint)i, underlayA)).ToArray(), acB, underlayB, nodeB), "trunk-b");
        if (!WaitFor(() => nodeA.TrunkStatus("trunk-a") is { Active: 4 } && nodeB.TrunkStatus("trunk-b") is { Active: 4 }, 10_000))
        {
            Console.Error.WriteLine("trunks did not come up");
            return 1;
        }

        var forwarder = nodeA.Trunks["trunk-a"].Forwarder;
        var fps64 = new List<double>();
        var gbps1500 = new List<double>();
        var shares = new List<double>();
        for (int r = 0; r < reps; r++)
        {
            var before = forwarder.Members.Select(m => m.TxFrames).ToArray();
            var (fps, _) = Blast(forwarder, nodeA, sinkB, 64, seconds);
            var sent = forwarder.Members.Select((m, i) => (double)(m.TxFrames - before[i])).ToArray();
            double share = sent.Max() / sent.Average();
            fps64.Add(fps);
            shares.Add(share);
            var (fps1500, bps) = Blast(forwarder, nodeA, sinkB, 1500, seconds);
            gbps1500.Add(bps / 1e9);
            Console.WriteLine(FormattableString.Invariant(
                $"run={r + 1} fps_64={fps:F0} share_max_over_mean={share:F3} fps_1500={fps1500:F0} gbps_1500={bps / 1e9:F3}"));
        }

        long reordered = nodeB.Pws.Values.Sum(p => p.RxReordered);
        long lost = nodeB.Pws.Values.Sum(p => p.RxLost);
        long sentTotal = forwarder.Members.Sum(m => m.TxFrames);
        var (gap, moved) = Failover(forwarder, nodeB);
        Console.WriteLine(FormattableString.Invariant($"failover_gap_ms={gap:F1} moved_flows_on_healthy_pws={moved} reordered={reordered}"));
        var fpsStats = Stats.Of(fps64);
        var gbpsStats = Stats.Of(gbps1500.Select(g => g * 1000).ToArray());
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            scenario = "pw-trunk",
            fps_64 = fpsStats.Median,
            fps_64_min = fpsStats.Min,
            fps_64_max = fpsStats.Max,
            gbps_1500 = Math.Round(gbpsStats.Median / 1000, 3),
            gbps_1500_min = Math.Round(gbpsStats.Min / 1000, 3),
            gbps_1500_max = Math.Round(gbpsStats.Max / 1000, 3),
            share_max_over_mean = Math.Round(shares.Max(), 3),
            reordered,
            lost,
            sent = sentTotal,
            failover_gap_ms = Math.Round(gap, 1),
            moved_flows_on_healthy_pws = moved,
            flows = Flows,
            pws = 4,
            reps,
            seconds,
        }));
        return 0;
    }

    private static PwConfig Pw(string name, string trunk, uint local, uint remote, PwUnderlay to) =>
        new(name, "pe", "pe-far", new MplsLabel(local), new MplsLabel(remote), true, true, 1, to.Local, trunk);

    /// <summary>Unlimited CE traffic of <paramref name="length"/>-byte frames for a while; frames/s and bits/s out of B's CE port.</summary>
    private static (double Fps, double Bps) Blast(TrunkForwarder forwarder, PseudowireNode nodeA, SimulatedPort sink, int length, double seconds)
    {
        var generator = new SimulatedPort("ce-a-gen", 1, new TrafficProfile { Flows = Flows, FrameLengths = [length], Seed = 7 });
        using var ac = new AttachmentCircuit("ce-a", generator, nodeA.Pool) { Forwarder = forwarder };
        ac.Start();
        Thread.Sleep(200); // warm-up, not measured
        long f0 = sink.Counters.TxFrames, b0 = sink.Counters.TxBytes;
        var sw = Stopwatch.StartNew();
        Thread.Sleep(TimeSpan.FromSeconds(seconds));
        long f1 = sink.Counters.TxFrames, b1 = sink.Counters.TxBytes;
        double elapsed = sw.Elapsed.TotalSeconds;
        ac.Port.StopReceiving();
        Thread.Sleep(100); // let the underlay drain before the next run
        return ((f1 - f0) / elapsed, (b1 - b0) * 8.0 / elapsed);
    }

    /// <summary>Breaks pw-a3's path at B and times how long A keeps selecting it; then checks which flows moved.</summary>
    private static (double GapMs, int Moved) Failover(TrunkForwarder forwarder, PseudowireNode nodeB)
    {
        var profile = new TrafficProfile { Flows = Flows };
        var hashes = Enumerable.Range(0, Flows).Select(f => TrunkForwarder.Hash(SimulatedPort.BuildUdpFrame(profile, f, 64))).ToArray();
        var before = forwarder.Selector;
        int failed = 2;
        var sw = Stopwatch.StartNew();
        nodeB.Pws["pw-b3"].FaultDropReceive = true;
        bool routedAround = WaitFor(() => !forwarder.Selector.IsActive(failed), 5_000);
        double gap = routedAround ? sw.Elapsed.TotalMilliseconds : double.NaN;
        var after = forwarder.Selector;
        int moved = hashes.Count(h => before.Select(h) != failed && before.Select(h) != after.Select(h));
        nodeB.Pws["pw-b3"].FaultDropReceive = false;
        WaitFor(() => forwarder.Selector.IsActive(failed), 5_000);
        return (gap, moved);
    }

    private static bool WaitFor(Func<bool> condition, int timeoutMs)
    {
        var sw = Stopwatch.StartNew();
        while (sw.ElapsedMilliseconds < timeoutMs)
        {
            if (condition()) return true;
            Thread.Sleep(1);
        }

        return condition();
    }

    private static double Option(string[] args, string name, double fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? double.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
