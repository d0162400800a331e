using Fabric.Actors.DataPlane.Flow;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Gateway;
using Fabric.Actors.Gateway.Pipeline;
using Fabric.Messages.Intent;
using static Fabric.Tests.Gateways.GatewayFixture;

namespace Fabric.Tests.Gateways;

public class GatewayStageTests
{
    private static PacketFacts Out(Ipv4Address src, ushort sport, Ipv4Address dst, ushort dport, IpProtocol protocol = IpProtocol.Tcp, TcpFlags flags = TcpFlags.Syn) => new()
    {
        Key = new FlowKey
        {
            Tenant = 1, IngressPort = 1, EtherType = EtherType.Ipv4, SourceAddress = src, DestinationAddress = dst,
            SourcePort = sport, DestinationPort = dport, IpProtocol = protocol, Flags = FlowKeyFlags.Ipv4 | FlowKeyFlags.Transport,
        },
        TcpFlags = flags,
        Ttl = 64,
        Ingress = PortRole.Downlink,
    };

    [Fact]
    public void Longest_prefix_wins_whatever_the_order_routes_were_written_in()
    {
        var table = new RouteTable([
            new RouteEntry(Ipv4Address.Parse("0.0.0.0"), 0, 2, Ipv4Address.Parse("198.51.100.1"), false),
            new RouteEntry(Ipv4Address.Parse("10.9.0.0"), 16, 1, Ipv4Address.Parse("10.0.0.254"), false),
            new RouteEntry(Ipv4Address.Parse("10.9.8.0"), 24, 2, Ipv4Address.Parse("198.51.100.9"), false),
        ]);
        Assert.True(table.TryLookup(Ipv4Address.Parse("10.9.8.7"), out var r));
        Assert.Equal(24, r.PrefixLength);
        Assert.True(table.TryLookup(Ipv4Address.Parse("10.9.1.1"), out r));
        Assert.Equal(16, r.PrefixLength);
        Assert.True(table.TryLookup(Ipv4Address.Parse("8.8.8.8"), out r));
        Assert.Equal(0, r.PrefixLength);
        Assert.False(new RouteTable([]).TryLookup(Ipv4Address.Parse("8.8.8.8"), out _));
    }

    [Fact]
    public void Service_router_sends_default_traffic_to_the_uplink_next_hop_and_rejects_without_a_route()
    {
        var t = Plan().Tenants[0];
        var r = GatewayStages.ServiceRouter(Out(Host, 1, Server, 80), t);
        Assert.Equal(StageVerdict.Forward, r.Verdict);
        Assert.Equal(t.UplinkPort, r.OutPort);
        Assert.Equal(UpstreamRouter, r.NextHop);
        Assert.True((r.Rewrites.Fields & RewriteFields.DecrementTtl) != 0);

        var noDefault = Plan(GatewayOf(Tenant("blue", 1) with { Routes = [] })).Tenants[0];
        var miss = GatewayStages.ServiceRouter(Out(Host, 1, Server, 80), noDefault);
        Assert.Equal((StageVerdict.Reject, GatewayDrop.NoRoute, RejectKind.NetUnreachable), (miss.Verdict, miss.Reason, miss.Reject));
    }

    [Fact]
    public void Distributed_router_delivers_tenant_networks_and_passes_the_rest_on()
    {
        var t = Plan().Tenants[0];
        var east = GatewayStages.DistributedRouter(Out(Host, 1, Ipv4Address.Parse("10.0.0.20"), 80), t);
        Assert.Equal((StageVerdict.Forward, t.DownlinkPort), (east.Verdict, east.OutPort));
        Assert.Equal(StageVerdict.Next, GatewayStages.DistributedRouter(Out(Host, 1, Server, 80), t).Verdict);
        Assert.Equal(FlowFields.Base | FlowFields.DestinationAddress, east.Consulted);
    }

    [Fact]
    public void A_snat_pool_is_cut_into_port_blocks_from_1024_and_a_port_names_its_block()
    {
        var plan = SnatPlan.Create([(Ipv4Address.Parse("198.51.100.10"), 31)], blockSize: 256);
        Assert.Equal(SnatPlan.PortsPerAddress / 256, plan.BlocksPerAddress);
        Assert.Equal(2 * plan.BlocksPerAddress, plan.BlockCount);
        var seen = new HashSet<PortBlock>();
        for (var i = 0; i < plan.BlockCount; i++)
        {
            var block = plan.Block(i);
            Assert.True(seen.Add(block));
            Assert.True(block.FirstPort >= SnatPlan.FirstPort);
            Assert.True(plan.TryBlockIndex(block.Address, (ushort)(block.FirstPort + 255), out var back));
            Assert.Equal(i, back);
        }
        Assert.False(plan.TryBlockIndex(Ipv4Address.Parse("198.51.100.10"), 1023, out _));
        Assert.False(plan.TryBlockIndex(Ipv4Address.Parse("198.51.100.12"), 5000, out _));
    }

    [Fact]
    public void Nat_binds_round_robin_in_the_hosts_block_and_exhausts_by_name_when_no_block_is_left()
    {
        var t = Plan().Tenants[0];
        var nat = new NatTable(NatSettings.Default with { MaxBlocksPerHost = 1 });
        var p = Out(Host, 40000, Server, 80);
        Assert.Equal((StageVerdict.Drop, GatewayDrop.SnatPortsExhausted), (GatewayStages.Nat(ref p, t, nat).Verdict, GatewayStages.Nat(ref p, t, nat).Reason));

        nat.AddSpare(p.Key.Tenant, t.Snat!.BlockSize, t.Snat.Block(0));
        var first = Out(Host, 40000, Server, 80);
        var r = GatewayStages.Nat(ref first, t, nat);
        Assert.Equal(StateCreated.NatBinding, r.Created);
        Assert.Equal(Ipv4Address.Parse("198.51.100.11"), r.Rewrites.SourceAddress);
        Assert.Equal(t.Snat.Block(0).FirstPort, r.Rewrites.SourcePort);
        var block = t.Snat.BlockSize;
        for (var i = 1; i < block; i++)
        {
            var q = Out(Host, (ushort)(2000 + i), Server, 80);
            var next = GatewayStages.Nat(ref q, t, nat);
            Assert.Equal((ushort)(t.Snat.Block(0).FirstPort + i), next.Rewrites.SourcePort); // round-robin: the next port each time
        }
        var over = Out(Host, 9, Server, 80);
        var exhausted = GatewayStages.Nat(ref over, t, nat);
        Assert.Equal((StageVerdict.Drop, GatewayDrop.SnatPortsExhausted), (exhausted.Verdict, exhausted.Reason));
        Assert.Equal(block, nat.Count);
    }

    [Fact]
    public void Inbound_without_a_binding_is_dropped_and_dnat_rules_forward()
    {
        var t = Plan(GatewayOf(Tenant("blue", 1, dnat: [new DnatRuleIntent(DnatProtocol.Tcp, 8080, Ip("10.0.0.10"), 80)]))).Tenants[0];
        var unsolicited = Out(Server, 80, Ipv4Address.Parse("198.51.100.11"), 5555) with { Ingress = PortRole.Uplink };
        Assert.Equal(GatewayDrop.NoNatBinding, GatewayStages.Nat(ref unsolicited, t, new NatTable()).Reason);
        var forward = Out(Server, 3333, Ipv4Address.Parse("198.51.100.2"), 8080) with { Ingress = PortRole.Uplink };
        var r = GatewayStages.Nat(ref forward, t, new NatTable());
        Assert.Equal(new Rewrites(RewriteFields.DestinationAddress | RewriteFields.DestinationPort, DestinationAddress: Host, DestinationPort: 80), r.Rewrites);
    }

    [Theory]
    [InlineData(23, StageVerdict.Drop, GatewayDrop.FirewallDenied, "no-telnet")]
    [InlineData(25, StageVerdict.Reject, GatewayDrop.FirewallRejected, "no-smtp")]
    [InlineData(80, StageVerdict.Next, GatewayDrop.None, "new")]
    [InlineData(81, StageVerdict.Drop, GatewayDrop.FirewallDenied, "no-web-range")]
    [InlineData(443, StageVerdict.Next, GatewayDrop.None, "new")]
    public void Firewall_rules_apply_in_order_first_match_wins(ushort port, StageVerdict verdict, GatewayDrop reason, string note)
    {
        var t = Plan().Tenants[0];
        var r = GatewayStages.Firewall(Out(Host, 40000, Server, port), t, new ConnectionTable(), 0, out _);
        Assert.Equal((verdict, reason, note), (r.Verdict, r.Reason, r.Note));
    }

    [Fact]
    public void Default_policy_decides_when_no_rule_matches()
    {
        var t = Plan(GatewayOf(Tenant("blue", 1, Firewall(FirewallPolicy.Deny)))).Tenants[0];
        var r = GatewayStages.Firewall(Out(Host, 1, Server, 443), t, new ConnectionTable(), 0, out _);
        Assert.Equal((StageVerdict.Drop, "default"), (r.Verdict, r.Note));
    }

    [Fact]
    public void Connection_goes_new_established_closing_closed()
    {
        var table = new ConnectionTable();
        var key = new ConnectionKey(1, IpProtocol.Tcp, Host, 1, Server, 80);
        var c = table.Add(key, fromInside: true, pickedUp: false, now: 0);
        Assert.Equal(ConnectionState.New, c.State);
        Assert.Equal(ConnectionState.New, ConnectionTracking.Next(c, IpProtocol.Tcp, TcpFlags.Syn, fromOriginator: true));
        c.State = ConnectionTracking.Next(c, IpProtocol.Tcp, TcpFlags.Syn | TcpFlags.Ack, fromOriginator: false);
        Assert.Equal(ConnectionState.Established, c.State);
        c.State = ConnectionTracking.Next(c, IpProtocol.Tcp, TcpFlags.Fin | TcpFlags.Ack, fromOriginator: true);
        Assert.Equal(ConnectionState.Closing, c.State);
        c.State = ConnectionTracking.Next(c, IpProtocol.Tcp, TcpFlags.Fin | TcpFlags.Ack, fromOriginator: false);
        Assert.Equal(ConnectionState.Closed, c.State);
        table.Transitioned(c, ConnectionState.Closing, now: 1);
        Assert.Same(c, table.Find(key)); // held for its last ACK

        var r = table.Add(key, true, false, 0);
        Assert.Equal(ConnectionState.Closed, ConnectionTracking.Next(r, IpProtocol.Tcp, TcpFlags.Rst, false));
        Assert.True(ConnectionTracking.MayStart(IpProtocol.Tcp, TcpFlags.Ack, loosePickup: true, out var picked));
        Assert.True(picked);
        Assert.False(ConnectionTracking.MayStart(IpProtocol.Tcp, TcpFlags.Ack, loosePickup: false, out _));
        Assert.False(ConnectionTracking.MayStart(IpProtocol.Tcp, TcpFlags.Rst, loosePickup: true, out _));
    }
}
