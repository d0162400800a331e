using System.Diagnostics;
using Fabric.Actors.DataPlane.Wire;
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

    /// <summary>
    /// Every millisecond for <paramref name="milliseconds"/>, each flow sends 64 KiB, except those
    /// on member 3, which send <paramref name="member3Sends"/> bytes (0 = nothing); each keeps its
    /// member. Returns the time after.
    /// </summary>
    private static long Stream(TrunkFlowPins pins, TrunkSelector selector, ulong[] flows, int[] members, long now, int milliseconds, int member3Sends)
    {
        for (int t = 1; t <= milliseconds; t++)
        {
            now += Ms;
            pins.BeginBatch(now);
            for (int f = 0; f < flows.Length; f++)
            {
                int length = members[f] == 3 ? member3Sends : 65_536;
                if (length > 0) Assert.Equal(members[f], pins.Assign(flows[f], length, selector, now));
            }
        }

        return now;
    }

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
    public void A_control_connection_opened_just_before_eight_streams_does_not_cost_its_member_a_stream()
    {
        // iperf3 -P 8: the control connection sends a few hundred bytes over 4 ms, then the 8 streams
        // open, each with its SYN and a 37-byte cookie, while the control connection still talks.
        var pins = Pins();
        var selector = TrunkSelector.Build(FourEqual);
        var flows = TrunkSelectorTests.Flows(9);
        long now = 1000 * Ms;
        int control = pins.Assign(flows[0], 74, selector, now, TcpFlags.Syn);
        foreach (int length in new[] { 66, 103, 66, 400, 66 })
        {
            now += Ms;
            pins.BeginBatch(now);
            Assert.Equal(control, pins.Assign(flows[0], length, selector, now));
        }

        var streams = new int[8];
        for (int i = 0; i < 8; i++)
        {
            now += Ms / 4;
            pins.BeginBatch(now);
            streams[i] = pins.Assign(flows[1 + i], 74, selector, now, TcpFlags.Syn);
            Assert.Equal(streams[i], pins.Assign(flows[1 + i], 103, selector, now));
            Assert.Equal(control, pins.Assign(flows[0], 66, selector, now));
        }

        Assert.All(Enumerable.Range(0, 4), m => Assert.Equal(2, streams.Count(x => x == m)));
        Assert.Equal(3, pins.LiveFlows(control));
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
    public void Flows_that_ended_leave_no_load_behind_so_the_next_burst_spreads_evenly_again()
    {
        // Before: a member's load kept the bytes of flows that had ended, decayed, and the next
        // iperf3 -P 8 (its control connection the only live flow when its streams open) saw those
        // leftovers over one live flow: 6 of the 8 streams went to the member that had carried
        // least, none to two others.
        var pins = Pins();
        var selector = TrunkSelector.Build(FourEqual);
        var flows = TrunkSelectorTests.Flows(18);
        long now = 1000 * Ms;
        pins.BeginBatch(now);
        var first = Members(pins, flows[..8], selector, now, length: 74);
        // One second of traffic: the flows of members 0-2 send 64 KiB a millisecond each, member 3's nothing.
        now = Stream(pins, selector, flows[..8], first, now, milliseconds: 1000, member3Sends: 0);

        Assert.True(pins.LoadOf(0) > 1e6 && pins.LoadOf(3) < 1e3);
        // 400 ms later (a few half-lives: the leftovers would still be megabytes), a control
        // connection, then eight streams one after another.
        now += 400 * Ms;
        pins.BeginBatch(now);
        pins.Assign(flows[8], 74, selector, now);
        var next = new List<int>();
        foreach (var flow in flows[9..17])
        {
            now += Ms / 2;
            pins.BeginBatch(now);
            next.Add(pins.Assign(flow, 74, selector, now));
        }

        Assert.All(Enumerable.Range(0, 4), m => Assert.InRange(next.Count(x => x == m), 1, 3));
        Assert.All(Enumerable.Range(0, 4), m => Assert.True(pins.LoadOf(m) < 1e3, $"member {m} kept {pins.LoadOf(m):F0} bytes of ended flows"));
    }

    [Fact]
    public void Connections_that_closed_stop_counting_at_once_so_the_next_ones_spread_evenly_and_their_last_acks_stay_put()
    {
        // iperf3 run after run: the next run's streams open within a window of the last run's
        // FINs. Counted until idle, the closed streams steered the new ones away from where they
        // had been: two members got none.
        var pins = Pins();
        var selector = TrunkSelector.Build(FourEqual);
        var flows = TrunkSelectorTests.Flows(16);
        long now = 1000 * Ms;
        pins.BeginBatch(now);
        // Eight connections, two per member, each closed with a FIN.
        var first = Members(pins, flows[..8], selector, now, length: 74);
        now += 5 * Ms;
        pins.BeginBatch(now);
        foreach (var (flow, member) in flows[..8].Zip(first))
        {
            Assert.Equal(member, pins.Assign(flow, 66, selector, now, TcpFlags.Fin | TcpFlags.Ack));
        }

        Assert.All(Enumerable.Range(0, 4), m => Assert.Equal(0, pins.LiveFlows(m)));
        // Their last ACKs, a moment later: same members, not counted again.
        now += Ms;
        pins.BeginBatch(now);
        Assert.Equal(first, Members(pins, flows[..8], selector, now, length: 66));
        Assert.All(Enumerable.Range(0, 4), m => Assert.Equal(0, pins.LiveFlows(m)));

        // 20 ms later (well inside the 100 ms window), eight new connections: two per member.
        now += 20 * Ms;
        pins.BeginBatch(now);
        var next = flows[8..16].Select(f => pins.Assign(f, 74, selector, now, TcpFlags.Syn)).ToArray();
        Assert.All(Enumerable.Range(0, 4), m => Assert.Equal(2, next.Count(x => x == m)));
        Assert.All(Enumerable.Range(0, 4), m => Assert.Equal(2, pins.LiveFlows(m)));

        // A new connection on a closed one's 5-tuple (its SYN) counts again, on the same member.
        Assert.Equal(first[0], pins.Assign(flows[0], 74, selector, now, TcpFlags.Syn));
        Assert.Equal(3, pins.LiveFlows(first[0]));
    }

    [Fact]
    public void Flows_that_stopped_without_a_fin_in_this_direction_no_longer_steer_the_next_burst()
    {
        // iperf3's streams are reset by the receiver: the trunk carrying their data sees them just
        // stop. The next run's streams came 60 ms later, within the reordering window, and were
        // placed around the silent ones: 6 of 8 on the member whose flows had sent least.
        var pins = Pins();
        var selector = TrunkSelector.Build(FourEqual);
        var flows = TrunkSelectorTests.Flows(16);
        long now = 1000 * Ms;
        pins.BeginBatch(now);
        var first = Members(pins, flows[..8], selector, now, length: 74);
        now = Stream(pins, selector, flows[..8], first, now, milliseconds: 500, member3Sends: 66); // member 3's flows trickle

        now += 60 * Ms; // silent, no FIN: within the 100 ms reordering window, past the 20 ms active window
        var next = new List<int>();
        foreach (var flow in flows[8..16])
        {
            pins.BeginBatch(now);
            next.Add(pins.Assign(flow, 74, selector, now, TcpFlags.Syn));
            now += Ms / 2;
        }

        Assert.All(Enumerable.Range(0, 4), m => Assert.Equal(2, next.Count(x => x == m)));
        // A silent flow that comes back within the reordering window keeps its member (and counts again).
        Assert.Equal(first[0], pins.Assign(flows[0], 1500, selector, now));
        Assert.Equal(3, pins.LiveFlows(first[0]));
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
    /// <summary>
    /// The sweep looks only at the live flows (a list kept as flows start and end), not at the
    /// whole table. Churn through a small table (evictions), with FINs, idle moves and a member
    /// leaving and coming back: after every batch the live list and the per-member counts agree,
    /// and once every flow has been silent past the active window, one sweep leaves no flow
    /// counted and no load.
    /// </summary>
    [Fact]
    public void The_live_flows_the_sweep_looks_at_stay_those_counted_through_churn_and_all_go_once_silent()
    {
        var pins = new TrunkFlowPins(4, Window, TimeSpan.FromMilliseconds(100), 16, TimeSpan.FromMilliseconds(20));
        var all = TrunkSelector.Build(FourEqual);
        var withoutSecond = TrunkSelector.Build(FourEqual, 0b1101);
        var flows = TrunkSelectorTests.Flows(64);
        var random = new Random(7);
        long now = 1000 * Ms;
        int sum() => Enumerable.Range(0, 4).Sum(pins.LiveFlows);
        for (int step = 0; step < 5_000; step++)
        {
            now += Ms * random.Next(0, 4) + random.Next(0, (int)Ms);
            pins.BeginBatch(now);
            var selector = step % 700 < 100 ? withoutSecond : all;
            for (int i = random.Next(1, 9); i > 0; i--)
            {
                var flags = random.Next(10) switch { 0 => TcpFlags.Fin | TcpFlags.Ack, 1 => TcpFlags.Syn, _ => TcpFlags.Ack };
                Assert.InRange(pins.Assign(flows[random.Next(flows.Length)], random.Next(60, 9000), selector, now, flags), 0, 3);
            }

            Assert.Equal(sum(), pins.LiveTotal);
            Assert.InRange(pins.LiveTotal, 0, 16);
            Assert.All(Enumerable.Range(0, 4), m => Assert.True(pins.LiveFlows(m) >= 0));
        }

        Assert.True(pins.LiveEvictions > 0 && pins.Failovers > 0, "the churn evicted and failed over");
        now += 21 * Ms;
        pins.BeginBatch(now);
        Assert.Equal(0, pins.LiveTotal);
        Assert.All(Enumerable.Range(0, 4), m =>
        {
            Assert.Equal(0, pins.LiveFlows(m));
            Assert.Equal(0, pins.LoadOf(m), 6);
        });
    }
}
