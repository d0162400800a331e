using System.Collections.Concurrent;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Pseudowire;
using Fabric.Messages.Intent;
using Fabric.Tests.Support;
using Xunit;

namespace Fabric.Tests.Pseudowire;

/// <summary>
/// The node's hello budget (issue 13, liveness at scale): when a clock's sessions together would
/// send more hellos than <see cref="LivenessSettings.HelloBudget"/>, every session's TX interval
/// is stretched by a power of two and advertised (RFC 5880 Desired Min TX), so the peer's
/// detection time grows with it and nothing flaps; when sessions go, it shrinks back.
/// </summary>
[Collection("pw-traffic")]
public class PwLivenessBudgetTests
{
    [Theory]
    [InlineData(400.0, 100, 4)]
    [InlineData(100.0, 100, 1)]
    [InlineData(101.0, 100, 2)]
    [InlineData(80_000.0, 20_000, 4)]
    [InlineData(1_000_000.0, 0, 1)]
    public void The_stretch_is_the_smallest_power_of_two_that_fits_the_budget(double rate, int budget, int stretch) =>
        Assert.Equal(stretch, PwLivenessClock.StretchFor(rate, budget));

    [Fact]
    public async Task Sessions_beyond_the_budget_send_at_a_stretched_advertised_interval_without_flapping_and_shrink_back_when_removed()
    {
        // 8 PWs at 20 ms x 3 (60 ms detection) on each clock: 400 hellos/s against a budget of 150.
        var settings = LivenessSettings.Default with { HelloBudget = 150 };
        var addresses = UnderlayAddresses.Next(2);
        using var a = PwUnderlay.Open(Ipv4Address.Parse(addresses[0]), MplsInUdp.Port, liveness: settings);
        using var b = PwUnderlay.Open(Ipv4Address.Parse(addresses[1]), MplsInUdp.Port, liveness: settings);
        PwLink Link(string name, uint local, uint remote, PwUnderlay to) =>
            new(new PwConfig(name, "pe", "pe-far", new MplsLabel(local), new MplsLabel(remote), true, false, 1, to.Local, "t"), TimeSpan.FromMilliseconds(20), 3);
        var transitions = new ConcurrentQueue<string>();
        var pairs = Enumerable.Range(0, 8).Select(i => (A: Link($"a{i}", 100 + (uint)i, 200 + (uint)i, b), B: Link($"b{i}", 200 + (uint)i, 100 + (uint)i, a))).ToArray();
        foreach (var (la, lb) in pairs)
        {
            a.Register(la);
            b.Register(lb);
            a.Liveness.Add(la, (from, to, _) => transitions.Enqueue($"{la.Name} {from}->{to}"));
            b.Liveness.Add(lb, (from, to, _) => transitions.Enqueue($"{lb.Name} {from}->{to}"));
        }

        await Eventually.Holds(() => pairs.All(p => p.A.IsUp && p.B.IsUp), TimeSpan.FromSeconds(10), "all 16 session ends up");
        Assert.Equal(4, a.Liveness.Stretch);
        Assert.All(pairs, p => Assert.Equal(TimeSpan.FromMilliseconds(80), p.A.Liveness.TxInterval));
        var status = PseudowireNode.Status(pairs[0].A);
        Assert.Equal((20.0, 80.0), (status.HelloIntervalMs, status.TxIntervalMs));

        // Hellos every 80 ms against the intent's 60 ms detection: only the advertised interval
        // keeps the peers from declaring every session down.
        int settled = transitions.Count;
        long sentBefore = pairs.Sum(p => p.A.HellosSent);
        await Task.Delay(2000);
        long sent = pairs.Sum(p => p.A.HellosSent) - sentBefore;
        Assert.True(transitions.Count == settled, $"flaps while stretched: {string.Join(", ", transitions.Skip(settled))}");
        Assert.True(sent is >= 100 and <= 300, $"{sent} hellos in 2 s from 8 sessions within a budget of 150/s (stretch {a.Liveness.Stretch})");

        // Six PWs go: 100 hellos/s fit the budget with a quarter to spare, the rest run at 20 ms, still up.
        foreach (var (la, lb) in pairs[2..])
        {
            a.Liveness.Remove(la);
            b.Liveness.Remove(lb);
        }

        Assert.Equal(1, a.Liveness.Stretch);
        await Eventually.Holds(() => pairs[..2].All(p => p.A.Liveness.TxInterval == TimeSpan.FromMilliseconds(20)), TimeSpan.FromSeconds(5), "the remaining sessions back at 20 ms");
        await Task.Delay(500);
        Assert.True(transitions.Count == settled, $"flaps after shrinking: {string.Join(", ", transitions.Skip(settled))}");
        Assert.True(pairs[..2].All(p => p.A.IsUp && p.B.IsUp));

        // A real loss is still detected at the stretched interval's detection time.
        pairs[0].B.FaultDropReceive = true;
        await Eventually.Holds(() => !pairs[0].A.IsUp && !pairs[0].B.IsUp, TimeSpan.FromSeconds(5), "a0 and b0 down after the loss");
        Assert.True(pairs[1].A.IsUp && pairs[1].B.IsUp);
    }
}
