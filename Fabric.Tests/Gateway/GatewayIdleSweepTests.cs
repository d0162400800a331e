using System.Diagnostics;
using System.Text.Json.Nodes;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Gateway;
using Fabric.Tests.Support;
using Xunit.Abstractions;
using static Fabric.Tests.Gateways.GatewayNodeSupport;

namespace Fabric.Tests.Gateways;

/// <summary>
/// Idle means idle (issue 13 part 4): the gateway and its flow-cache entities sweep connections
/// only while some are tracked, armed for the first one due (TimerWheel.NextDue), instead of
/// every sweep-interval. What must not change: a connection and its NAT binding still go on time.
/// </summary>
public class GatewayIdleSweepTests(ITestOutputHelper output)
{
    private const uint Vni = 1001;
    private const int DatagramTimeoutMs = 1500;
    private static readonly Ipv4Address Server = Ipv4Address.Parse("203.0.113.80");
    private static readonly Ipv4Address Pool = Ipv4Address.Parse("198.51.100.10");
    private static readonly Ipv4Address Upstream = Ipv4Address.Parse("198.51.100.1");
    private static readonly MacAddress UpstreamMac = MacAddress.Parse("02:00:00:00:01:01");
    private static readonly MacAddress HostMac = MacAddress.Parse("02:00:00:00:00:0a");
    private static readonly Ipv4Address Host = Ipv4Address.Parse("10.0.0.10");

    [Fact]
    public void An_empty_wheel_asks_for_no_wake_up_and_a_filed_deadline_for_one_no_later_than_it()
    {
        var wheel = new TimerWheel<string>(tickMs: 100);
        Assert.Equal(long.MaxValue, wheel.NextDue);

        wheel.Schedule("b", 2_350, now: 1_000);
        Assert.InRange(wheel.NextDue, 2_300, 2_400); // the end of the deadline's tick
        wheel.Schedule("a", 1_420, now: 1_000);
        Assert.InRange(wheel.NextDue, 1_420, 1_500); // an earlier deadline moves it forward at once

        var due = new List<(string, long)>();
        wheel.Advance(wheel.NextDue, due);
        Assert.Equal("a", Assert.Single(due).Item1);
        Assert.InRange(wheel.NextDue, 2_350, 2_400); // the next filing's tick

        due.Clear();
        wheel.Advance(wheel.NextDue, due);
        Assert.Equal("b", Assert.Single(due).Item1);
        Assert.Equal(long.MaxValue, wheel.NextDue); // nothing left: sleep for good
    }

    [Fact]
    public void Wheels_sharing_a_due_floor_lower_it_as_they_file_and_only_their_owner_raises_it()
    {
        // A receive thread asks "can anything be due before the armed sweep?" with one read of the
        // floor instead of walking every shard's wheel: it must never be later than any wheel's
        // next due (a sweep then would come late), and may be earlier only until settled.
        var floor = new DueFloor();
        var a = new TimerWheel<string>(tickMs: 100, floor);
        var b = new TimerWheel<string>(tickMs: 100, floor);
        Assert.Equal(long.MaxValue, floor.Value);
        a.Schedule("a", 5_050, now: 1_000);
        Assert.Equal(a.NextDue, floor.Value);
        b.Schedule("b", 3_020, now: 1_000);
        Assert.Equal(b.NextDue, floor.Value);          // the earlier wheel's
        a.Schedule("a2", 9_000, now: 1_000);
        Assert.Equal(b.NextDue, floor.Value);          // a later filing changes nothing

        var due = new List<(string, long)>();
        b.Advance(b.NextDue, due);
        Assert.Equal(long.MaxValue, b.NextDue);
        Assert.True(floor.Value < a.NextDue);          // still a lower bound: it errs early, never late
        floor.Reset(Math.Min(a.NextDue, b.NextDue));   // the owner settles it when arming its sweep
        Assert.Equal(a.NextDue, floor.Value);
    }

    [Fact]
    public void A_gateway_s_expiry_floor_is_never_later_than_its_next_expiry_and_settles_to_it()
    {
        var dp = GatewayFixture.Datapath();
        var sink = new CaptureSink();
        Assert.Equal(long.MaxValue, dp.ExpiryFloor);
        var blue = dp.Plan.Tenants[0];
        dp.ProcessFrame(GatewayFixture.Udp(Host, 5000, Server, 53), blue.DownlinkPort, 1_000, sink); // a connection is tracked
        Assert.NotEqual(long.MaxValue, dp.NextExpiry);
        Assert.True(dp.ExpiryFloor <= dp.NextExpiry);
        dp.Sweep(dp.NextExpiry + 60_000);              // it expires; the floor stays where it was ...
        Assert.Equal(long.MaxValue, dp.NextExpiry);
        Assert.True(dp.ExpiryFloor < long.MaxValue);
        Assert.Equal(long.MaxValue, dp.SettleExpiryFloor()); // ... until settled
        Assert.Equal(long.MaxValue, dp.ExpiryFloor);
    }

    [Fact]
    public void Sleeping_until_next_due_never_releases_a_deadline_late_even_beyond_one_turn()
    {
        var wheel = new TimerWheel<string>(tickMs: 10);
        long far = 10L * TimerWheel<string>.SlotCount * 2 + 37;
        var deadlines = new Dictionary<string, long> { ["far"] = far, ["soon"] = 55, ["mid"] = 5_000 };
        foreach (var (item, at) in deadlines) wheel.Schedule(item, at, now: 0);

        // The owner wakes only at NextDue (as the gateway's single timer does), never on a tick.
        var released = new Dictionary<string, long>();
        var wakes = 0;
        while (wheel.NextDue != long.MaxValue && wakes < 100)
        {
            var now = wheel.NextDue;
            var due = new List<(string Item, long Due)>();
            wheel.Advance(now, due);
            foreach (var d in due) released[d.Item] = now;
            wakes++;
        }

        Assert.Equal(deadlines.Keys.Order(), released.Keys.Order());
        foreach (var (item, at) in deadlines) Assert.InRange(released[item], at, at + wheel.TickMs); // on time: within one tick
        Assert.True(wakes <= 6, $"{wakes} wake-ups for 3 deadlines"); // not one per tick (2,085 ticks)
    }

    private static string Intent => $$"""
        version: 1
        nodes:
          - name: node-a
            roles: [fabric, ghost-shadow]
        tenants:
          - name: blue
            vni: {{Vni}}
        gateways:
          - name: gw-1
            node: node-a
            tenants:
              - tenant: blue
                networks: [10.0.0.1/24]
                downlink: { kind: simulated, name: blue-down }
                uplink:
                  port: { kind: simulated, name: blue-up }
                  address: 198.51.100.2/24
                routes:
                  - prefix: 0.0.0.0/0
                    nextHop: 198.51.100.1
                snatPool: [198.51.100.10]
        """;

    [Fact]
    public async Task A_UDP_binding_made_while_the_sweeps_sleep_still_expires_on_time_through_the_gateway_and_its_entity()
    {
        using var dir = new TempDir();
        await using var node = await TestNode.StartAsync("node-a", dir.Sub("a"),
            extraHocon: $"fabric.gateway.conntrack.datagram-timeout = {DatagramTimeoutMs}ms");
        await ApplyAsync(node, Intent, "gw-1");
        var gw = Gateway(node, "gw-1");
        var mac = GatewayPlan.DefaultMac("gw-1");
        await Inject(gw, "blue-up", ArpRequest(UpstreamMac, Upstream, Ipv4Address.Parse("198.51.100.2")));
        await Sent(gw, "blue-up");

        // No connection yet: both sweeps are asleep. Let them stay so for a while first.
        await Task.Delay(500);
        var clock = Stopwatch.StartNew();
        await Inject(gw, "blue-down", To(mac, GatewayFixture.Udp(Host, 5353, Server, 53, HostMac)));
        var (src, _, _, _) = Endpoints(Assert.Single(await Sent(gw, "blue-up")))!.Value;
        Assert.Equal(Pool, src);
        Assert.Equal(1, (await Entity(node))["natBindings"]!.GetValue<int>());

        // Not before the timeout ...
        await Task.Delay(DatagramTimeoutMs - 700);
        var early = await Entity(node);
        Assert.Equal(1, early["natBindings"]!.GetValue<int>());
        Assert.Equal(1, early["connections"]!.GetValue<int>());

        // ... and soon after it: the gateway's connection (its sweep armed by the receive thread's
        // nudge) and then the entity's, confirmed idle with the gateway, taking its binding along.
        JsonNode? after = null;
        await Eventually.Holds(async () =>
        {
            after = await Entity(node);
            return after["natBindings"]!.GetValue<int>() == 0;
        }, TimeSpan.FromSeconds(10), "the binding expired");
        var expiredMs = clock.ElapsedMilliseconds;
        output.WriteLine($"binding gone {expiredMs} ms after the packet (datagram-timeout {DatagramTimeoutMs} ms)");
        Assert.Equal(0, after!["connections"]!.GetValue<int>());
        Assert.True(after["connectionsExpired"]!.GetValue<long>() >= 1);
        Assert.InRange(expiredMs, DatagramTimeoutMs, DatagramTimeoutMs + 1_500);
        var shards = (await GatewayView(node, "gw-1"))["status"]!["shards"]!.AsArray();
        output.WriteLine(shards.ToJsonString());
    }

    [Fact]
    public void An_unanswered_next_hop_is_asked_again_with_backoff_and_a_resolved_one_is_forgotten()
    {
        var retry = new NeighborRetry(minMs: 500, maxMs: 2_000);
        var router = Ipv4Address.Parse("198.51.100.1");
        var target = Ipv4Address.Parse("10.0.0.10");
        var asked = new List<long>();
        for (long now = 0; now <= 8_000; now += 50)
        {
            if (now < retry.NextDue && now > 0) continue; // the actor wakes only at NextDue
            if (retry.Ask(1, router, now)) asked.Add(now);
            if (now < 1_000) retry.Ask(2, target, now); // answers at 1 s: not asked from then on
            retry.EndRound();
        }

        Assert.Equal([0, 500, 1_500, 3_500, 5_500, 7_500], asked); // doubling to the 2 s cap
        Assert.Equal(1, retry.Unresolved);
        retry.EndRound(); // the router answered too: nothing is due any more
        Assert.Equal(long.MaxValue, retry.NextDue);
        Assert.Equal(0, retry.Unresolved);
    }

    [Fact]
    public async Task A_gateway_whose_uplink_router_never_answers_asks_with_backoff_and_stops_once_it_answers()
    {
        using var dir = new TempDir();
        await using var node = await TestNode.StartAsync("node-a", dir.Sub("a"));
        await ApplyAsync(node, Intent, "gw-1");
        var gw = Gateway(node, "gw-1");

        // 4.2 s of an upstream that never answers: asked at 0, 0.5, 1.5 and 3.5 s (before: every 500 ms, 9 times).
        var requests = (await Sent(gw, "blue-up", atLeast: 100, within: 4_200)).Count(IsArpRequestForUpstream);
        output.WriteLine($"{requests} ARP requests for the upstream in 4.2 s");
        Assert.InRange(requests, 3, 5);

        // It answers: no further request, however long.
        await Inject(gw, "blue-up", ArpRequest(UpstreamMac, Upstream, Ipv4Address.Parse("198.51.100.2")));
        await Sent(gw, "blue-up"); // the gateway's reply to that request
        var after = (await Sent(gw, "blue-up", atLeast: 100, within: 5_000)).Count(IsArpRequestForUpstream);
        Assert.Equal(0, after);
    }

    private static bool IsArpRequestForUpstream(byte[] frame) =>
        EthernetView.TryParse(frame, out var eth, out _) && eth.EtherType == EtherType.Arp
        && ArpRepr.TryParse(eth.Payload, out var arp, out _) && arp.Operation == ArpOperation.Request && arp.TargetProtocolAddress == Upstream;

    private static async Task<JsonNode> Entity(TestNode node)
    {
        var bucket = BucketOf(Vni, Host);
        JsonNode? found = null;
        await Eventually.Holds(async () =>
        {
            found = (await GatewayView(node, "gw-1"))["entities"]!.AsArray().FirstOrDefault(e => e!["bucket"]!.GetValue<int>() == bucket && e["natBindings"] is not null);
            return found is not null;
        }, Wait, $"entity of bucket {bucket} answers");
        return found!;
    }
}
