using System.Diagnostics;
using Fabric.Actors.Pseudowire;
using Xunit;

namespace Fabric.Tests.Pseudowire;

/// <summary>Least-loaded per-flow assignment: spread, stickiness, idle-gap moves, failover and return.</summary>
public class TrunkFlowPinsTests
{
    private static readonly TrunkMemberWeight[] FourEqual =
        [new("pw-1", 1), new("pw-2", 1), new("pw-3", 1), new("pw-4", 1)];

    private static readonly TimeSpan Window = TimeSpan.FromMilliseconds(100);
    private static readonly long Ms = Stopwatch.Frequency / 1000;

    private static TrunkFlowPins Pins() => new(4, Window, TimeSpan.FromMilliseconds(100), 4096);

    private static int[] Members(TrunkFlowPins pins, ulong[] flows, TrunkSelector selector, long now, int length = 1500) =>
        flows.Select(f => pins.Assign(f, length, selector, now)).ToArray();

    [Fact]
    public void Eight_flows_opened_together_land_two_on_each_of_four_members()
    {
        var pins = Pins();
        var selector = TrunkSelector.Build(FourEqual);
        var flows = TrunkSelectorTests.Flows(8);
        var members = Members(pins, flows, selector, 1000 * Ms, length: 74);
        Assert.All(Enumerable.Range(0, 4), m => Assert.Equal(2, members.Count(x => x == m)));
        Assert.Equal(8, pins.Assigned);
    }

    [Fact]
    public void Flows_of_an_earlier_burst_that_went_quiet_no_longer_count_when_the_next_burst_opens()
    {
        var pins = Pins();
        var selector = TrunkSelector.Build(FourEqual);
        var flows = TrunkSelectorTests.Flows(19);
        long now = 1000 * Ms;
        pins.BeginBatch(now);
        // A first burst: three flows (say a ping and ARP before iperf3), then nothing for 300 ms.
        Members(pins, flows[..3], selector, now, length: 98);
        now += 300 * Ms;
        pins.BeginBatch(now); // the first batch after the quiet spell
        var members = Members(pins, flows[3..11], selector, now, length: 74);
        Assert.All(Enumerable.Range(0, 4), m => Assert.Equal(2, members.Count(x => x == m)));
        Assert.All(Enumerable.Range(0, 4), m => Assert.Equal(2, pins.LiveFlows(m)));
    }

    [Fact]
    public void A_busy_flow_keeps_its_member_however_the_loads_change()
    {
        var pins = Pins();
        var selector = TrunkSelector.Build(FourEqual);
        var flows = TrunkSelectorTests.Flows(8);
        long now = 1000 * Ms;
        var first = Members(pins, flows, selector, now);
        // Flow 0 alone sends heavily for a second (every 1 ms, never idle): it never moves, though its member becomes the most loaded.
        for (int t = 1; t <= 1000; t++)
        {
            now += Ms;
            pins.BeginBatch(now);
            for (int k = 0; k < 10; k++) Assert.Equal(first[0], pins.Assign(flows[0], 9000, selector, now));
        }

        Assert.Equal(0, pins.IdleMoves);
        Assert.Equal(0, pins.Failovers);
    }

    [Fact]
    public void A_new_flow_avoids_the_member_whose_flow_sends_the_most_bytes()
    {
        var pins = Pins();
        var selector = TrunkSelector.Build(FourEqual);
        var flows = TrunkSelectorTests.Flows(5);
        long now = 1000 * Ms;
        var first = Members(pins, flows[..4], selector, now, length: 100);
        for (int t = 1; t <= 50; t++)
        {
            now += Ms;
            pins.BeginBatch(now);
            for (int k = 0; k < 20; k++) pins.Assign(flows[0], 9000, selector, now); // an elephant
            pins.Assign(flows[1], 1500, selector, now);
            pins.Assign(flows[2], 100, selector, now);
            pins.Assign(flows[3], 100, selector, now);
        }

        // Every member carries one live flow; the new one goes by bytes: not to the elephant's member, not to the 1500 B/ms one.
        int fifth = pins.Assign(flows[4], 100, selector, now);
        Assert.NotEqual(first[0], fifth);
        Assert.NotEqual(first[1], fifth);
    }

    [Fact]
    public void A_flow_idle_longer_than_the_reordering_window_re_decides_and_may_move()
    {
        var pins = Pins();
        var selector = TrunkSelector.Build(FourEqual);
        var flows = TrunkSelectorTests.Flows(5);
        long now = 1000 * Ms;
        var first = Members(pins, flows[..4], selector, now, length: 100);
        Assert.Equal([0, 1, 2, 3], first);
        // Flow 3 falls silent; 150 ms later (past the window) a new elephant takes member 3 and sends for 100 ms.
        for (int t = 1; t <= 250; t++)
        {
            now += Ms;
            pins.BeginBatch(now);
            if (t <= 150)
            {
                for (int k = 0; k < 3; k++) pins.Assign(flows[k], 100, selector, now);
            }
            else
            {
                Assert.Equal(3, pins.Assign(flows[4], 9000, selector, now));
            }
        }

        // Flow 3 comes back: member 3 now carries the elephant, so flow 3 goes elsewhere; that is an idle move, not reordering.
        int back = pins.Assign(flows[3], 100, selector, now);
        Assert.NotEqual(3, back);
        Assert.Equal(1, pins.IdleMoves);
        Assert.Equal(0, pins.Failovers);
        Assert.Equal(0, pins.LiveEvictions);
    }

    [Fact]
    public void A_member_that_leaves_moves_only_its_flows_at_once_and_when_it_returns_new_flows_go_to_it_while_busy_flows_stay()
    {
        var pins = Pins();
        var all = TrunkSelector.Build(FourEqual);
        var flows = TrunkSelectorTests.Flows(12);
        long now = 1000 * Ms;
        var before = Members(pins, flows[..8], all, now);
        var withoutThird = TrunkSelector.Build(FourEqual, 0b1011);
        now += Ms;
        var during = Members(pins, flows[..8], withoutThird, now);
        for (int i = 0; i < 8; i++)
        {
            if (before[i] == 2) Assert.NotEqual(2, during[i]);
            else Assert.Equal(before[i], during[i]);
        }

        Assert.Equal(2, pins.Failovers);
        // pw-3 returns: the busy flows stay where they are (no reordering), new flows go to pw-3 first.
        now += Ms;
        var after = Members(pins, flows[..8], all, now);
        Assert.Equal(during, after);
        Assert.Equal(2, pins.Assign(flows[8], 100, all, now));
        Assert.Equal(0, pins.IdleMoves);
        Assert.Equal(TrunkSelector.None, pins.Assign(flows[9], 100, TrunkSelector.Build(FourEqual, 0), now));
    }

    [Fact]
    public void Weights_scale_the_share_of_new_flows()
    {
        var pins = Pins();
        var selector = TrunkSelector.Build([new("a", 3), new("b", 1), new("c", 1), new("d", 1)]);
        var members = Members(pins, TrunkSelectorTests.Flows(60), selector, 1000 * Ms);
        Assert.InRange(members.Count(m => m == 0), 28, 32);
        Assert.All(Enumerable.Range(1, 3), m => Assert.InRange(members.Count(x => x == m), 9, 11));
    }
}
