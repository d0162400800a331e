using System.Collections.Concurrent;
using System.Diagnostics;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Pseudowire;
using Fabric.Messages.Intent;
using Fabric.Tests.Support;
using Xunit;

namespace Fabric.Tests.Pseudowire;

/// <summary>
/// The BFD handshake (RFC 5880 §6.8.6, §6.8.7: a system may send a control packet at once when
/// its state changes) takes three one-way hellos, each sent as soon as the state it answers
/// changed, not at the next interval; and a session added to a sleeping clock sends its first
/// hello at once (issue 13, part 5: the ghost copy's clock runs at 3.2 s intervals at 1,000 PWs,
/// and a PW waiting one interval per step took seconds to come up). Real clocks, real sockets.
/// </summary>
[Collection("pw-traffic")]
public class PwLivenessHandshakeTests
{
    [Fact]
    public async Task A_pw_added_between_two_hellos_of_a_2_s_interval_comes_up_at_both_ends_well_within_one_interval()
    {
        var interval = TimeSpan.FromSeconds(2);
        var addresses = UnderlayAddresses.Next(2);
        using var a = PwUnderlay.Open(Ipv4Address.Parse(addresses[0]), MplsInUdp.Port);
        using var b = PwUnderlay.Open(Ipv4Address.Parse(addresses[1]), MplsInUdp.Port);
        PwLink Link(string name, uint local, uint remote, PwUnderlay to) =>
            new(new PwConfig(name, "pe", "pe-far", new MplsLabel(local), new MplsLabel(remote), true, false, 1, to.Local, "t"), interval, 3);
        var transitions = new ConcurrentQueue<string>();
        void Add(PwUnderlay on, PwLink link)
        {
            on.Register(link);
            on.Liveness.Add(link, (from, to, _) => transitions.Enqueue($"{link.Name} {from}->{to}"));
        }

        // A first PW up: both clocks now sleep until its next hello, up to 2 s away.
        var (a0, b0) = (Link("a0", 301, 401, b), Link("b0", 401, 301, a));
        Add(a, a0);
        Add(b, b0);
        await Eventually.Holds(() => a0.IsUp && b0.IsUp, TimeSpan.FromSeconds(10), "a0 and b0 up");

        // Just after one of a0's hellos left (the clocks' next due hello is ~2 s away), add a second
        // PW, one end, then the other: a0's hellos are on the same grid, so nothing else wakes them.
        long sent = a0.HellosSent;
        await Eventually.Holds(() => a0.HellosSent > sent, TimeSpan.FromSeconds(5), "one of a0's periodic hellos");
        await Task.Delay(50);
        var (a1, b1) = (Link("a1", 302, 402, b), Link("b1", 402, 302, a));
        var clock = Stopwatch.StartNew();
        Add(a, a1);
        Add(b, b1);
        await Eventually.Holds(() => a1.IsUp && b1.IsUp, TimeSpan.FromSeconds(10), "a1 and b1 up");
        var took = clock.Elapsed;

        // Three one-way hellos (Down, Init, Up) on loopback: milliseconds. One interval waited at
        // any step would be ~2 s; a clock left asleep until its next wake-up (it sleeps at most
        // 1 s) ~950 ms.
        Assert.True(took < TimeSpan.FromMilliseconds(500), $"a1/b1 took {took.TotalMilliseconds:F0} ms to come up (hello interval 2 s)");
        Assert.Contains(transitions, t => t.StartsWith("a1 ", StringComparison.Ordinal) && t.EndsWith("->Up", StringComparison.Ordinal));
        Assert.Contains(transitions, t => t.StartsWith("b1 ", StringComparison.Ordinal) && t.EndsWith("->Up", StringComparison.Ordinal));
        Assert.True(a0.IsUp && b0.IsUp, "the first PW stayed up");
    }

    [Fact]
    public async Task Under_a_stretched_interval_a_new_pw_still_comes_up_within_milliseconds_not_one_stretched_interval()
    {
        // A budget of 1 hello/s stretches every session of 100 ms to 1.6 s or more (as the ghost
        // copy's clock runs at 3.2 s at 1,000 PWs): the handshake must not follow the stretch.
        var settings = LivenessSettings.Default with { HelloBudget = 1 };
        var addresses = UnderlayAddresses.Next(2);
        using var a = PwUnderlay.Open(Ipv4Address.Parse(addresses[0]), MplsInUdp.Port, liveness: settings);
        using var b = PwUnderlay.Open(Ipv4Address.Parse(addresses[1]), MplsInUdp.Port, liveness: settings);
        PwLink Link(string name, uint local, uint remote, PwUnderlay to) =>
            new(new PwConfig(name, "pe", "pe-far", new MplsLabel(local), new MplsLabel(remote), true, false, 1, to.Local, "t"), TimeSpan.FromMilliseconds(100), 3);
        var pairs = Enumerable.Range(0, 4).Select(i => (A: Link($"a{i}", 310 + (uint)i, 410 + (uint)i, b), B: Link($"b{i}", 410 + (uint)i, 310 + (uint)i, a))).ToArray();
        foreach (var (la, lb) in pairs[..3])
        {
            a.Register(la);
            b.Register(lb);
            a.Liveness.Add(la, (_, _, _) => { });
            b.Liveness.Add(lb, (_, _, _) => { });
        }

        await Eventually.Holds(() => pairs[..3].All(p => p.A.IsUp && p.B.IsUp), TimeSpan.FromSeconds(10), "three PWs up");
        Assert.True(pairs[0].A.Liveness.TxInterval >= TimeSpan.FromSeconds(1), $"stretched TX interval {pairs[0].A.Liveness.TxInterval}");

        // Just after a periodic hello, as above: the clocks' next due hello is a stretched interval away.
        long sent = pairs[0].A.HellosSent;
        await Eventually.Holds(() => pairs[0].A.HellosSent > sent, TimeSpan.FromSeconds(10), "one of a0's periodic hellos");
        await Task.Delay(50);
        var (a3, b3) = pairs[3];
        var clock = Stopwatch.StartNew();
        a.Register(a3);
        b.Register(b3);
        a.Liveness.Add(a3, (_, _, _) => { });
        b.Liveness.Add(b3, (_, _, _) => { });
        await Eventually.Holds(() => a3.IsUp && b3.IsUp, TimeSpan.FromSeconds(10), "the fourth PW up");
        Assert.True(clock.Elapsed < TimeSpan.FromMilliseconds(500),
            $"the fourth PW took {clock.Elapsed.TotalMilliseconds:F0} ms to come up at a TX interval of {a3.Liveness.TxInterval.TotalMilliseconds:F0} ms");
        Assert.All(pairs[..3], p => Assert.True(p.A.IsUp && p.B.IsUp));
    }
}
