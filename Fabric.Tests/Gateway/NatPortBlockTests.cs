using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Gateway;
using Fabric.Messages.Gateway;

namespace Fabric.Tests.Gateways;

/// <summary>
/// SNAT port allocation as plain state, no ActorSystem: port blocks per host on demand, round-robin
/// ports, release with the last connection, the gateway's ledger, and what a moved entity restores.
/// </summary>
public class NatPortBlockTests
{
    private const uint Tenant = 7;
    private static readonly Ipv4Address Host = Ipv4Address.Parse("10.0.0.10");
    private static readonly Ipv4Address Other = Ipv4Address.Parse("10.0.0.11");
    private static readonly Ipv4Address Server = Ipv4Address.Parse("203.0.113.80");
    private static readonly Ipv4Address Pool = Ipv4Address.Parse("192.0.2.10");

    /// <summary>One pool address in blocks of 16 ports; a ledger for 4 buckets lending to bucket 0.</summary>
    private static (SnatPlan Plan, PortBlockLedger Ledger, NatTable Nat, ConnectionTable Connections) Setup(int maxBlocks = 64, int spares = 2, ConntrackSettings? conntrack = null)
    {
        var plan = GatewayPlan.Compile(GatewayFixture.GatewayOf(GatewayFixture.Tenant("blue", 1, pool: "192.0.2.10/32")), 1, new Dictionary<string, uint> { ["blue"] = Tenant }, portBlockSize: 16);
        var ledger = new PortBlockLedger(4);
        ledger.Configure(plan);
        var nat = new NatTable(new NatSettings(16, maxBlocks, spares), bucket: 0, ledger);
        return (plan.Tenants[0].Snat!, ledger, nat, new ConnectionTable(conntrack, nat));
    }

    private static NatBinding Bind(SnatPlan plan, NatTable nat, ushort insidePort, Ipv4Address? host = null)
    {
        Assert.True(nat.TryBind(plan, Tenant, IpProtocol.Tcp, host ?? Host, insidePort, out var b, out var created));
        Assert.True(created);
        return b;
    }

    /// <summary>A binding with one connection using it, as the pipeline leaves them.</summary>
    private static Connection Connect(SnatPlan plan, NatTable nat, ConnectionTable connections, ushort insidePort, long now, Ipv4Address? host = null)
    {
        var b = Bind(plan, nat, insidePort, host);
        var c = connections.Add(new ConnectionKey(Tenant, IpProtocol.Tcp, host ?? Host, insidePort, Server, 80), fromInside: true, pickedUp: false, now);
        ConnectionTable.Attach(c, b);
        return c;
    }

    [Fact]
    public void A_released_binding_is_reused_by_a_later_connection_from_the_next_sweep_on_and_starts_clean()
    {
        // Churn allocates no binding per connection (ConntrackChurnTests): the table takes the
        // object of one released a sweep ago, so nothing that released it still holds it.
        var (plan, _, nat, connections) = Setup(conntrack: ConntrackSettings.Default with { TcpClosedHold = TimeSpan.FromMilliseconds(200) });
        var first = Connect(plan, nat, connections, 40000, now: 1_000);
        var binding = first.Binding!;
        first.State = ConnectionState.Closed;
        connections.Transitioned(first, ConnectionState.New, 1_000);
        var removed = new List<Connection>();
        connections.Expire(1_400, removed, []);
        Assert.Same(first, Assert.Single(removed));
        Assert.False(binding.Live);
        Assert.Equal(0, nat.Count);

        // Released in this sweep: not handed out again before the next one.
        var meanwhile = Bind(plan, nat, 40001);
        Assert.NotSame(binding, meanwhile);
        connections.Expire(1_500, removed, []);
        var reused = Bind(plan, nat, 40002);
        Assert.Same(binding, reused);
        Assert.True(reused.Live);
        Assert.Equal(0, reused.Connections);
        Assert.Equal((ushort)40002, reused.InsidePort);
        Assert.NotEqual(meanwhile.ExternalPort, reused.ExternalPort);
        Assert.True(nat.TryGetByExternal(Tenant, IpProtocol.Tcp, reused.ExternalAddress, reused.ExternalPort, out var found));
        Assert.Same(reused, found);
        Assert.False(nat.TryGetByInside(Tenant, IpProtocol.Tcp, Host, 40000, out _)); // the old life's endpoint is gone
    }

    [Fact]
    public void Ports_are_handed_out_round_robin_so_a_port_just_freed_is_the_last_one_offered_again()
    {
        var (plan, _, nat, _) = Setup();
        var first = Bind(plan, nat, 40000);
        var second = Bind(plan, nat, 40001);
        Assert.Equal(first.ExternalPort + 1, second.ExternalPort);
        nat.Release(first);

        // The freed port waits behind every other port of the block.
        var seen = new List<ushort>();
        for (ushort i = 0; i < 14; i++) seen.Add(Bind(plan, nat, (ushort)(41000 + i)).ExternalPort);
        Assert.DoesNotContain(first.ExternalPort, seen);
        Assert.Equal(first.ExternalPort, Bind(plan, nat, 42000).ExternalPort); // the 16th: the cursor came round
    }

    [Fact]
    public void A_host_takes_another_block_when_its_ports_are_all_bound_and_gives_it_back_when_it_empties()
    {
        var (plan, ledger, nat, _) = Setup(spares: 1);
        var bindings = Enumerable.Range(0, 17).Select(i => Bind(plan, nat, (ushort)(40000 + i))).ToList();
        var blocks = nat.BlocksOf(Tenant, Host);
        Assert.Equal(2, blocks.Count);
        Assert.Equal(blocks[1].FirstPort, bindings[16].ExternalPort); // the new block's first port
        Assert.Equal(2, ledger.LeasedCount(Tenant));

        nat.Release(bindings[16]); // the second block's only binding: the block becomes a spare
        Assert.Single(nat.BlocksOf(Tenant, Host));
        Assert.Equal(1, nat.SparesOf(Tenant));
        foreach (var b in bindings.Take(16)) nat.Release(b); // beyond the one spare kept, blocks go back to the ledger
        Assert.Empty(nat.BlocksOf(Tenant, Host));
        Assert.Equal(1, nat.SparesOf(Tenant));
        Assert.Equal(1, ledger.LeasedCount(Tenant));
        Assert.Equal(0, nat.Count);
    }

    [Fact]
    public void A_host_stops_at_its_block_limit_and_the_refusal_is_counted()
    {
        var (plan, _, nat, _) = Setup(maxBlocks: 1);
        for (var i = 0; i < 16; i++) Bind(plan, nat, (ushort)(40000 + i));
        Assert.False(nat.TryBind(plan, Tenant, IpProtocol.Tcp, Host, 50000, out _, out _));
        Assert.Equal(1, nat.Exhausted);
        Bind(plan, nat, 40000, Other); // another host still gets its own block
    }

    [Fact]
    public void Protocols_bind_the_same_ports_independently()
    {
        var (plan, _, nat, _) = Setup();
        Assert.True(nat.TryBind(plan, Tenant, IpProtocol.Tcp, Host, 5000, out var tcp, out _));
        Assert.True(nat.TryBind(plan, Tenant, IpProtocol.Udp, Host, 5000, out var udp, out _));
        Assert.Equal(tcp.ExternalPort, udp.ExternalPort);
        Assert.Single(nat.BlocksOf(Tenant, Host));
    }

    [Fact]
    public void Without_a_lender_the_table_uses_its_spares_asks_when_they_run_low_and_hands_surplus_back()
    {
        var plan = SnatPlan.Create([(Pool, 32)], 16);
        var nat = new NatTable(new NatSettings(16, 64, 1));
        Assert.False(nat.TryBind(plan, Tenant, IpProtocol.Udp, Host, 53, out _, out _)); // nothing granted yet
        Assert.Equal([(Tenant, 0, 1)], nat.Deficits()); // no spare, and one block wanted
        Assert.Equal([(Tenant, 0, 0)], nat.Deficits());

        nat.Reconcile(Tenant, 16, new HashSet<PortBlock> { plan.Block(0), plan.Block(1) });
        Assert.Empty(nat.Deficits());
        Assert.True(nat.TryBind(plan, Tenant, IpProtocol.Udp, Host, 53, out var b, out _));
        Assert.Equal(plan.Block(0).FirstPort, b.ExternalPort);
        Assert.True(nat.TryBind(plan, Tenant, IpProtocol.Udp, Other, 53, out var c, out _));
        Assert.Equal(plan.Block(1), nat.BlocksOf(Tenant, Other)[0]);
        Assert.Equal([(Tenant, 0, 2)], nat.Deficits()); // no spare left, and the two just taken asked for beyond the target

        nat.Reconcile(Tenant, 16, new HashSet<PortBlock> { plan.Block(0), plan.Block(1), plan.Block(2), plan.Block(3) });
        Assert.Empty(nat.Deficits()); // nothing taken since: the demand is back to the settings' target
        nat.Release(b);
        nat.Release(c); // without a lender twice the spare target stays: each block freed beyond that goes back
        Assert.Equal([(Tenant, plan.Block(0)), (Tenant, plan.Block(1))], nat.TakeReturned());
        Assert.Empty(nat.TakeReturned());
        // Until the ledger's list drops it, the block being returned is not taken up again.
        nat.Reconcile(Tenant, 16, new HashSet<PortBlock> { plan.Block(0), plan.Block(1), plan.Block(2), plan.Block(3) });
        Assert.Equal(2, nat.SparesOf(Tenant));
    }

    [Fact]
    public void A_host_that_churns_through_blocks_gets_them_in_one_grant_and_its_table_keeps_that_many_spares()
    {
        var plan = SnatPlan.Create([(Pool, 32)], 16);
        var nat = new NatTable(new NatSettings(16, 64, 1));
        nat.Reconcile(Tenant, 16, Enumerable.Range(0, 8).Select(plan.Block).ToHashSet());
        var bindings = Enumerable.Range(0, 5 * 16).Select(i => Bind(plan, nat, (ushort)(40000 + i))).ToList();
        Assert.Equal(3, nat.SparesOf(Tenant));
        Assert.Empty(nat.Deficits()); // spares above the target: nothing to ask, but five blocks were taken since the last look

        // The blocks come free as the connections close: kept as spares for the next round, not handed back.
        foreach (var b in bindings) nat.Release(b);
        Assert.Equal(8, nat.SparesOf(Tenant));
        Assert.Empty(nat.TakeReturned());

        // Taking them all again: the deficit asks for what was taken since the last look, in one grant.
        bindings = Enumerable.Range(0, 8 * 16).Select(i => Bind(plan, nat, (ushort)(41000 + i))).ToList();
        Assert.Equal([(Tenant, 0, 8)], nat.Deficits());

        // A quiet spell: the demand falls back, and blocks freed beyond twice the settings' target go back.
        Assert.Equal([(Tenant, 0, 0)], nat.Deficits()); // still no spare, and nothing taken since: asks for the target only
        foreach (var b in bindings) nat.Release(b);
        Assert.Equal(2, nat.SparesOf(Tenant));
        Assert.Equal(6, nat.TakeReturned().Count);
    }

    [Fact]
    public void The_ledger_lends_the_longest_free_block_first_knows_each_blocks_bucket_and_only_takes_back_its_own()
    {
        var (plan, ledger, _, _) = Setup();
        var t = GatewayPlan.Compile(GatewayFixture.GatewayOf(GatewayFixture.Tenant("blue", 1, pool: "192.0.2.10/32")), 1, new Dictionary<string, uint> { ["blue"] = Tenant }, portBlockSize: 16).Tenants[0];
        Assert.True(ledger.TryLend(2, Tenant, out var a));
        Assert.True(ledger.TryLend(3, Tenant, out var b));
        Assert.Equal(plan.Block(0), a);
        Assert.Equal(plan.Block(1), b);
        Assert.Equal(2, ledger.OwnerOf(t, Pool, (ushort)(a.FirstPort + 5)));
        Assert.Equal(-1, ledger.OwnerOf(t, Pool, plan.Block(7).FirstPort));

        ledger.TakeBack(3, Tenant, a); // not bucket 3's
        Assert.Equal(2, ledger.OwnerOf(t, Pool, a.FirstPort));
        var before = ledger.Versions[2];
        ledger.TakeBack(2, Tenant, a);
        Assert.True(ledger.Versions[2] > before);
        Assert.Equal(-1, ledger.OwnerOf(t, Pool, a.FirstPort));

        // Block 0 was freed last: every never-lent block goes first.
        var lent = new List<PortBlock>();
        while (ledger.TryLend(1, Tenant, out var next)) lent.Add(next);
        Assert.Equal(a, lent[^1]);
        Assert.Equal(plan.BlockCount - 1, lent.Count);
    }

    [Fact]
    public void The_ledger_keeps_leases_across_a_configuration_that_keeps_the_pool_and_starts_over_when_the_pool_changes()
    {
        var intent = GatewayFixture.GatewayOf(GatewayFixture.Tenant("blue", 1, pool: "192.0.2.10/32"));
        var vnis = new Dictionary<string, uint> { ["blue"] = Tenant };
        var ledger = new PortBlockLedger(4);
        ledger.Configure(GatewayPlan.Compile(intent, 1, vnis, portBlockSize: 16));
        Assert.Equal(1, ledger.TopUp(0, Tenant, spares: 1, target: 2));
        ledger.Configure(GatewayPlan.Compile(intent, 2, vnis, portBlockSize: 16));
        Assert.Equal(1, ledger.LeasedCount(Tenant));
        ledger.Configure(GatewayPlan.Compile(GatewayFixture.GatewayOf(GatewayFixture.Tenant("blue", 1, pool: "192.0.2.20/32")), 3, vnis, portBlockSize: 16));
        Assert.Equal(0, ledger.LeasedCount(Tenant));
        Assert.True(ledger.Claim(1, Tenant, Ipv4Address.Parse("192.0.2.20"), 1030));
        Assert.False(ledger.Claim(2, Tenant, Ipv4Address.Parse("192.0.2.20"), 1031)); // bucket 1's block
        Assert.True(ledger.TryLend(2, Tenant, out var next));
        Assert.NotEqual(1024, next.FirstPort); // the claimed block is not lent again
    }

    [Fact]
    public void A_sweep_in_chunks_removes_every_due_connection_a_chunk_at_a_time_before_it_looks_at_the_wheel_again()
    {
        // What a flow-cache entity does so a gateway deciding under its lock waits for one chunk, not the whole sweep.
        var (plan, _, nat, connections) = Setup(conntrack: ConntrackSettings.Default with { TcpClosedHold = TimeSpan.FromMilliseconds(500) });
        for (ushort port = 40000; port < 40300; port++)
        {
            var c = Connect(plan, nat, connections, port, now: 0);
            c.State = ConnectionState.Closed;
            connections.Transitioned(c, ConnectionState.Established, now: 1000);
        }
        var late = Connect(plan, nat, connections, 41000, now: 0);
        var removed = new List<Connection>();
        var confirm = new List<Connection>();
        Assert.True(connections.Expire(1600, removed, confirm, max: 128));
        Assert.Equal(128, removed.Count);
        // Closed meanwhile: filed for the wheel's next tick, after the due ones already taken.
        late.State = ConnectionState.Closed;
        connections.Transitioned(late, ConnectionState.Established, now: 1000);
        Assert.True(connections.Expire(1600, removed, confirm, max: 128));
        Assert.False(connections.Expire(1600, removed, confirm, max: 128));
        Assert.Equal(300, removed.Count);
        Assert.Equal(1, connections.Count);
        Assert.False(connections.Expire(1700, removed, confirm, max: 128));
        Assert.Equal(301, removed.Count);
        Assert.Equal(0, connections.Count);
        Assert.Equal(0, nat.Count);
    }

    [Fact]
    public void A_closed_connection_keeps_its_binding_for_the_hold_then_both_go_and_the_port_is_free()
    {
        var (plan, _, nat, connections) = Setup(conntrack: ConntrackSettings.Default with { TcpClosedHold = TimeSpan.FromMilliseconds(500) });
        var c = Connect(plan, nat, connections, 40000, now: 0);
        c.State = ConnectionState.Closed;
        connections.Transitioned(c, ConnectionState.Established, now: 1000);
        var removed = new List<Connection>();
        var confirm = new List<Connection>();
        connections.Expire(1499, removed, confirm);
        Assert.Empty(removed);
        Assert.Equal(1, nat.Count);
        connections.Expire(1600, removed, confirm);
        Assert.Same(c, Assert.Single(removed));
        Assert.Equal(0, nat.Count);
        Assert.Equal(0, connections.Count);
    }

    [Fact]
    public void A_binding_shared_by_two_connections_goes_with_the_second()
    {
        var (plan, _, nat, connections) = Setup();
        var first = Connect(plan, nat, connections, 5353, now: 0);
        var second = connections.Add(first.Key with { RemotePort = 53 }, fromInside: true, pickedUp: false, now: 0);
        ConnectionTable.Attach(second, first.Binding!);
        Assert.Equal(2, first.Binding!.Connections);
        connections.Remove(first);
        Assert.True(first.Binding.Live);
        connections.Remove(second);
        Assert.False(first.Binding.Live);
        Assert.Equal(0, nat.Count);
    }

    [Fact]
    public void An_idle_connection_expires_on_the_wheel_unless_it_was_seen_since()
    {
        var (plan, _, nat, connections) = Setup();
        var idle = Connect(plan, nat, connections, 40000, now: 0);
        var busy = Connect(plan, nat, connections, 40001, now: 0);
        busy.LastSeen = 20_000; // a hit, which only writes the time
        var removed = new List<Connection>();
        var confirm = new List<Connection>();
        var timeout = connections.Settings.TcpNewMs;
        connections.Expire(timeout + 100, removed, confirm);
        Assert.Same(idle, Assert.Single(removed));
        Assert.Empty(confirm);
        Assert.Equal(1, nat.Count);
        connections.Expire(20_000 + timeout + 100, removed, confirm);
        Assert.Equal(2, removed.Count);
        Assert.Equal(0, nat.Count);
    }

    [Fact]
    public void Where_hits_happen_elsewhere_an_idle_looking_connection_is_confirmed_before_it_goes()
    {
        var nat = new NatTable();
        var connections = new ConnectionTable(nat: nat, lastSeenElsewhere: true);
        var key = new ConnectionKey(Tenant, IpProtocol.Udp, Host, 5000, Server, 53);
        connections.Add(key, fromInside: true, pickedUp: false, now: 0);
        var removed = new List<Connection>();
        var confirm = new List<Connection>();
        var timeout = connections.Settings.DatagramMs;
        connections.Expire(timeout + 100, removed, confirm);
        Assert.Empty(removed);
        Assert.Single(confirm);

        Assert.False(connections.Confirm(key, idleMs: 1_000, ConnectionState.Established, now: timeout + 200)); // the gateway saw it a second ago
        Assert.Equal(1, connections.Count);
        confirm.Clear();
        var established = connections.Settings.DatagramMs; // UDP answered: the datagram timeout again
        connections.Expire(timeout + 200 - 1_000 + established + 100, removed, confirm);
        Assert.Single(confirm);
        Assert.True(connections.Confirm(key, idleMs: -1, ConnectionState.Established, now: 2 * timeout)); // the gateway knows it no more
        Assert.Equal(0, connections.Count);
    }

    [Fact]
    public void A_new_SYN_on_endpoints_held_closed_reopens_the_connection_on_the_same_binding()
    {
        var (plan, _, nat, connections) = Setup();
        var c = Connect(plan, nat, connections, 40000, now: 0);
        c.State = ConnectionState.Closed;
        connections.Transitioned(c, ConnectionState.Closing, now: 10);
        connections.Reopen(c, now: 20);
        Assert.Equal(ConnectionState.New, c.State);
        var removed = new List<Connection>();
        connections.Expire(10 + connections.Settings.TcpClosedHoldMs + 200, removed, []);
        Assert.Empty(removed);
        Assert.True(c.Binding!.Live);
    }

    [Fact]
    public void A_timer_wheel_holds_deadlines_beyond_one_turn_and_ones_filed_late_in_a_swept_tick()
    {
        var wheel = new TimerWheel<string>(tickMs: 10);
        var due = new List<(string, long)>();
        wheel.Schedule("far", 10 * TimerWheel<string>.SlotCount * 3 + 5, now: 0);
        wheel.Schedule("soon", 25, now: 0);
        wheel.Advance(21, due);
        Assert.Empty(due);
        wheel.Schedule("late", 22, now: 21); // in the tick just swept: comes out with the next
        wheel.Advance(30, due);
        Assert.Equal(["late", "soon"], due.Select(d => d.Item1).Order());
        due.Clear();
        for (long now = 40; now <= 10 * TimerWheel<string>.SlotCount * 3 + 10; now += 970) wheel.Advance(now, due);
        wheel.Advance(10 * TimerWheel<string>.SlotCount * 3 + 10, due);
        Assert.Equal("far", Assert.Single(due).Item1);
        Assert.Equal(0, wheel.Count);
    }

    [Fact]
    public void A_moved_shard_restores_bindings_on_their_external_ports_and_new_ones_do_not_collide()
    {
        var (plan, ledger, nat, connections) = Setup();
        var kept = Connect(plan, nat, connections, 40000, now: 0);
        var port = kept.Binding!.ExternalPort;
        var gatewayPlan = GatewayPlan.Compile(GatewayFixture.GatewayOf(GatewayFixture.Tenant("blue", 1, pool: "192.0.2.10/32")), 1, new Dictionary<string, uint> { ["blue"] = Tenant }, portBlockSize: 16);

        var successor = new FlowCacheShard(0, 16, 0, GatewaySettings.Default with { Nat = new NatSettings(16, 64, 2) }, lender: ledger, lastSeenElsewhere: true);
        var fc = new FlowConnection(Tenant, (byte)IpProtocol.Tcp, Host.ToUInt32(), 40000, Server.ToUInt32(), 80, true, Pool.ToUInt32(), port);
        successor.Restore(gatewayPlan, [new RestoredConnection(fc, (byte)ConnectionState.Established, 500)], now: 1000);

        Assert.True(successor.Nat.TryGetByExternal(Tenant, IpProtocol.Tcp, Pool, port, out var restored));
        Assert.Equal((Host, (ushort)40000), (restored.InsideAddress, restored.InsidePort));
        Assert.Equal(ConnectionState.Established, successor.Connections.Find(kept.Key)!.State);
        Assert.True(successor.Nat.TryBind(plan, Tenant, IpProtocol.Tcp, Host, 40001, out var fresh, out _));
        Assert.NotEqual(port, fresh.ExternalPort);
        Assert.Equal(nat.BlocksOf(Tenant, Host)[0], successor.Nat.BlocksOf(Tenant, Host)[0]); // the host found its block again
    }

    [Fact]
    public void Settings_come_from_the_hocon_file_with_the_documented_defaults()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "hocon", "fabric.conf");
        var config = Akka.Configuration.ConfigurationFactory.ParseString(File.ReadAllText(path));
        var settings = GatewaySettings.From(config);
        Assert.Equal(GatewaySettings.Default, settings);
        var changed = GatewaySettings.From(Akka.Configuration.ConfigurationFactory.ParseString(
            "fabric.gateway.nat.port-block-size = 512\nfabric.gateway.conntrack.tcp-closed-hold = 750ms").WithFallback(config));
        Assert.Equal(512, changed.Nat.PortBlockSize);
        Assert.Equal(750, changed.Conntrack.TcpClosedHoldMs);
        Assert.Throws<ArgumentException>(() => GatewaySettings.From(Akka.Configuration.ConfigurationFactory.ParseString("fabric.gateway.nat.port-block-size = 3")));
        Assert.Equal(settings, GatewaySettings.FromMessage(settings.ToMessage()));
    }
}
