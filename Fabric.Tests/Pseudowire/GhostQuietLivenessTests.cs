using System.Diagnostics;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Ghost;
using Fabric.Actors.Pseudowire;
using Fabric.Messages.Intent;
using Fabric.Tests.Support;
using Xunit;

namespace Fabric.Tests.Pseudowire;

/// <summary>
/// The ghost copy's liveness clock between verifications (issue 13, idle): quiet, its hellos go
/// <c>ghost-quiet-stretch</c> times less often and say so (RFC 5880 Desired Min TX), so the peer's
/// detection time grows with them and nothing flaps; made fast again, it tells the peer at once;
/// and a PW whose other end went away while quiet keeps the long detection time (which the
/// verifier waits out) until it is seen down. Two real ghost underlays, real clocks and sockets.
/// </summary>
[Collection("pw-traffic")]
public class GhostQuietLivenessTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(50);

    [Fact]
    public async Task A_quiet_ghost_clock_hellos_16x_slower_is_fast_again_at_once_and_a_peer_gone_while_quiet_is_seen_down_within_the_long_detection_time()
    {
        var (a, b) = GhostUnderlays(LivenessSettings.Default with { GhostQuietStretch = 16 });
        using var disposeA = a;
        using var disposeB = b;
        Assert.Equal(16, a.Liveness.QuietStretch);
        var (a0, b0, a1, b1) = (Link("a0", 501, 601, b), Link("b0", 601, 501, a), Link("a1", 502, 602, b), Link("b1", 602, 502, a));
        foreach (var (on, link) in new[] { (a, a0), (b, b0), (a, a1), (b, b1) })
        {
            on.Register(link);
            on.Liveness.Add(link, (_, _, _) => { });
        }

        await Eventually.Holds(() => a0.IsUp && b0.IsUp && a1.IsUp && b1.IsUp, TimeSpan.FromSeconds(10), "both PWs up");
        await Eventually.Holds(() => Ms(a0.Liveness.DetectionTime) == 150, TimeSpan.FromSeconds(2), "a0's detection time 3 x 50 ms");
        Assert.Equal(TimeSpan.Zero, a.Liveness.LongestDetectionTime); // nothing beyond the intent's

        // Quiet: 800 ms hellos, advertised at once, so each end now waits 3 x 800 ms for the other.
        a.Liveness.Quiet = true;
        b.Liveness.Quiet = true;
        await Eventually.Holds(() => a0.Liveness.TxInterval == TimeSpan.FromMilliseconds(800), TimeSpan.FromSeconds(1), "a0 sends every 800 ms");
        await Eventually.Holds(() => Ms(a.Liveness.LongestDetectionTime) == 2400 && Ms(b.Liveness.LongestDetectionTime) == 2400,
            TimeSpan.FromSeconds(2), "both ends' detection times 3 x 800 ms");
        long sent = a0.HellosSent;
        await Task.Delay(TimeSpan.FromSeconds(2));
        long quietHellos = a0.HellosSent - sent;
        Assert.InRange(quietHellos, 1, 4); // 2 s at 800 ms; at 50 ms it would be 40
        Assert.True(a0.IsUp && b0.IsUp && a1.IsUp && b1.IsUp, "nothing went down while quiet");

        // b1's end goes away while quiet (a proposal removed it); then both clocks are made fast.
        b.Liveness.Remove(b1);
        b.Unregister(b1);
        var clock = Stopwatch.StartNew();
        a.Liveness.Quiet = false;
        b.Liveness.Quiet = false;
        await Eventually.Holds(() => a0.Liveness.TxInterval == Interval, TimeSpan.FromSeconds(1), "a0 sends every 50 ms again");
        // b0 said it is fast again at once: a0 expects its hellos every 50 ms again within milliseconds...
        await Eventually.Holds(() => Ms(a0.Liveness.DetectionTime) == 150, TimeSpan.FromSeconds(1), "a0's detection time back to 3 x 50 ms");
        Assert.True(clock.Elapsed < TimeSpan.FromMilliseconds(500), $"a0's peer took {clock.ElapsedMilliseconds} ms to say it is fast");
        // ... but nobody tells a1: it keeps the quiet detection time, which the clock reports as its
        // longest (the verifier's hold), until a1 goes down within it.
        var reported = a.Liveness.LongestDetectionTime;
        bool a1UpAtReport = a1.IsUp;
        await Eventually.Holds(() => !a1.IsUp, TimeSpan.FromSeconds(5), "a1 down once its peer is gone");
        var downAfter = clock.Elapsed;
        if (a1UpAtReport)
        {
            Assert.Equal(2400, Ms(reported));
        }

        Assert.True(downAfter < TimeSpan.FromMilliseconds(2400 + 500), $"a1 went down {downAfter.TotalMilliseconds:F0} ms after the clocks were made fast");
        Assert.Equal(TimeSpan.Zero, a.Liveness.LongestDetectionTime);
        Assert.True(a0.IsUp && b0.IsUp, "the PW with both ends stayed up");
    }

    [Fact]
    public async Task A_stretch_the_hello_budget_forces_on_both_ends_is_not_reported_as_a_quiet_detection_time()
    {
        // A ghost budget of 1 hello/s: both ends stretch 50 ms to 1.6 s or more (as thousands of
        // ghost PWs on one node do); that is the copy's standing floor, not a quiet spell.
        var (a, b) = GhostUnderlays(LivenessSettings.Default with { GhostHelloBudget = 1 });
        using var disposeA = a;
        using var disposeB = b;
        var (a0, b0) = (Link("a0", 511, 611, b), Link("b0", 611, 511, a));
        a.Register(a0);
        b.Register(b0);
        a.Liveness.Add(a0, (_, _, _) => { });
        b.Liveness.Add(b0, (_, _, _) => { });
        await Eventually.Holds(() => a0.IsUp && b0.IsUp && a0.Liveness.DetectionTime >= TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10), "a0 up at a stretched interval");
        Assert.True(a.Liveness.Stretch >= 16, $"stretch {a.Liveness.Stretch}");
        Assert.Equal(TimeSpan.Zero, a.Liveness.LongestDetectionTime);
    }

    [Fact]
    public async Task PWs_a_verification_judges_run_at_their_intent_interval_under_a_budget_stretch_and_are_reported_when_they_cannot()
    {
        // 8 PWs a clock at 50 ms ask for 160 hellos/s; a budget of 40 stretches them all 4 x (200 ms).
        var (a, b) = GhostUnderlays(LivenessSettings.Default with { GhostHelloBudget = 40 });
        using var disposeA = a;
        using var disposeB = b;
        var pairs = Enumerable.Range(0, 8).Select(i => (A: Link($"a{i}", (uint)(520 + i), (uint)(620 + i), b), B: Link($"b{i}", (uint)(620 + i), (uint)(520 + i), a))).ToList();
        foreach (var (pa, pb) in pairs)
        {
            a.Register(pa);
            b.Register(pb);
            a.Liveness.Add(pa, (_, _, _) => { });
            b.Liveness.Add(pb, (_, _, _) => { });
        }

        await Eventually.Holds(() => pairs.All(p => p.A.IsUp && p.B.IsUp && Ms(p.A.Liveness.DetectionTime) == 600), TimeSpan.FromSeconds(10), "all up at 4 x 50 ms");
        Assert.Equal(4, a.Liveness.Stretch);
        Assert.Equal(TimeSpan.Zero, a.Liveness.LongestDetectionTime); // the budget's stretch is the copy's floor

        // One PW judged (both ends): 20 hellos/s fit in half the budget, so it runs at 50 ms while the rest stay at 200 ms.
        var (a0, b0) = pairs[0];
        a.Liveness.Urgent = new HashSet<string> { "a0", "b0" };
        b.Liveness.Urgent = new HashSet<string> { "a0", "b0" };
        await Eventually.Holds(() => a0.Liveness.TxInterval == Interval && Ms(a0.Liveness.DetectionTime) == 150 && Ms(b0.Liveness.DetectionTime) == 150,
            TimeSpan.FromSeconds(1), "a0 and b0 at 3 x 50 ms");
        Assert.All(pairs.Skip(1), p => Assert.Equal(TimeSpan.FromMilliseconds(200), p.A.Liveness.TxInterval));
        Assert.Equal(TimeSpan.Zero, a.Liveness.LongestDetectionTime);

        // Its other end goes away (the change removed it): seen down within the intent's detection time, not 4 x that.
        var clock = Stopwatch.StartNew();
        b.Liveness.Remove(b0);
        b.Unregister(b0);
        await Eventually.Holds(() => !a0.IsUp, TimeSpan.FromSeconds(5), "a0 down once its peer is gone");
        Assert.True(clock.Elapsed < TimeSpan.FromMilliseconds(500), $"a0 went down {clock.ElapsedMilliseconds} ms after its peer went (600 ms stretched)");

        // Every PW judged: 160 hellos/s do not fit; they keep the stretch, and the clock reports
        // their 600 ms as longer than the intent's 150, so the verifier holds that long.
        var all = pairs.Skip(1).SelectMany(p => new[] { p.A.Name, p.B.Name }).ToHashSet();
        a.Liveness.Urgent = all;
        b.Liveness.Urgent = all;
        await Task.Delay(200);
        Assert.All(pairs.Skip(1), p => Assert.Equal(TimeSpan.FromMilliseconds(200), p.A.Liveness.TxInterval));
        Assert.Equal(600, Ms(a.Liveness.LongestDetectionTime));
        Assert.True(pairs.Skip(1).All(p => p.A.IsUp && p.B.IsUp), "nothing else went down");
    }

    /// <summary>Two ghost underlays (a tracer makes them the ghost copy's) on fresh loopback addresses.</summary>
    private static (PwUnderlay A, PwUnderlay B) GhostUnderlays(LivenessSettings settings)
    {
        var addresses = UnderlayAddresses.Next(2);
        var tracer = new ProbeTracer("node-1");
        var a = PwUnderlay.Open(Ipv4Address.Parse(addresses[0]), PseudowireNode.GhostUnderlayPort, tracer: tracer, liveness: settings);
        try
        {
            return (a, PwUnderlay.Open(Ipv4Address.Parse(addresses[1]), PseudowireNode.GhostUnderlayPort, tracer: tracer, liveness: settings));
        }
        catch
        {
            a.Dispose();
            throw;
        }
    }

    private static PwLink Link(string name, uint local, uint remote, PwUnderlay to) =>
        new(new PwConfig(name, "pe", "pe-far", new MplsLabel(local), new MplsLabel(remote), true, false, 1, to.Local, "t"), Interval, 3);

    private static int Ms(TimeSpan t) => (int)Math.Round(t.TotalMilliseconds);
}
