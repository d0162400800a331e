using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Gateway;
using Fabric.Actors.Gateway.Pipeline;
using Fabric.Messages.Intent;
using static Fabric.Tests.Gateways.GatewayFixture;

namespace Fabric.Tests.Gateways;

public class GatewayMegaflowTests
{
    private static readonly Ipv4Address OtherHost = Ipv4Address.Parse("10.0.0.11");
    private static readonly MacAddress OtherHostMac = MacAddress.Parse("02:00:00:00:00:0b");

    private static int Entries(GatewayDatapath dp) => dp.Shards.Sum(s => s.Cache.Count);

    /// <summary>A tenant that only routes: no SNAT pool, no firewall.</summary>
    private static GatewayTenantIntent RoutedOnly(string name, int n) => Tenant(name, n) with { SnatPool = [], Firewall = null };

    [Fact]
    public void Two_source_ports_to_a_denied_destination_share_one_entry()
    {
        var dp = Datapath(shards: 1);
        var sink = new CaptureSink();
        var blue = dp.Plan.Tenants[0];
        dp.ProcessFrame(Tcp(Host, 40000, Server, 23, TcpFlags.Syn), blue.DownlinkPort, 0, sink);
        dp.ProcessFrame(Tcp(Host, 40001, Server, 23, TcpFlags.Syn), blue.DownlinkPort, 1, sink);
        dp.ProcessFrame(Tcp(Host, 40002, Server, 23, TcpFlags.Syn), blue.DownlinkPort, 2, sink);

        Assert.Empty(sink.Sent);
        Assert.Equal(3, dp.Counters.Drops[(int)GatewayDrop.FirewallDenied]);
        Assert.Equal(1, dp.Counters.Misses);
        Assert.Equal(2, dp.Counters.MegaflowHits);
        Assert.Equal(1, Entries(dp));
        Assert.Equal(1, dp.MasksInUse);
        var mask = Assert.Single(dp.Shards[0].Cache.MaskList);
        Assert.Equal(0, (int)(mask & (FlowFields.SourcePort | FlowFields.Exact)));
    }

    [Fact]
    public void Routed_traffic_without_nat_shares_one_entry_per_destination_and_forwards_the_same_bytes()
    {
        var plan = Plan(GatewayOf(RoutedOnly("blue", 1), Tenant("red", 2)));
        var dp = Datapath(plan, shards: 1);
        var stages = Datapath(plan, shards: 1);
        stages.CacheDisabled = true;
        var (a, b) = (new CaptureSink(), new CaptureSink());
        var blue = plan.Tenants[0];
        byte[][] frames =
        [
            Udp(Host, 5000, Server, 53), Udp(Host, 5001, Server, 53), Udp(OtherHost, 7, Server, 123, from: OtherHostMac),
            Tcp(OtherHost, 9000, Server, 443, TcpFlags.Syn, from: OtherHostMac),
        ];
        foreach (var f in frames)
        {
            dp.ProcessFrame((byte[])f.Clone(), blue.DownlinkPort, 0, a);
            stages.ProcessFrame(f, blue.DownlinkPort, 0, b);
        }

        Assert.Equal(b.Sent.Select(s => (s.Port, Convert.ToHexString(s.Frame))), a.Sent.Select(s => (s.Port, Convert.ToHexString(s.Frame))));
        Assert.Equal(4, a.Sent.Count);
        Assert.Equal(1, dp.Counters.Misses);
        Assert.Equal(3, dp.Counters.MegaflowHits);
        Assert.Equal(1, Entries(dp)); // no reply entries: nothing is rewritten but the TTL and MACs
    }

    [Fact]
    public void Snat_flows_do_not_share_an_entry()
    {
        var dp = Datapath(shards: 1);
        var sink = new CaptureSink();
        var blue = dp.Plan.Tenants[0];
        dp.ProcessFrame(Udp(Host, 5000, Server, 53), blue.DownlinkPort, 0, sink);
        dp.ProcessFrame(Udp(Host, 5001, Server, 53), blue.DownlinkPort, 1, sink);
        dp.ProcessFrame(Udp(Host, 5001, Server, 53), blue.DownlinkPort, 2, sink);

        Assert.Equal(2, dp.Counters.Misses);
        Assert.Equal(1, dp.Counters.Hits);
        Assert.Equal(0, dp.Counters.MegaflowHits);
        Assert.Equal(4, dp.Shards[0].Cache.Exact.Count); // two flows, forward + reply each
        Assert.Equal(0, dp.MasksInUse);
        var ports = sink.Sent.Select(s => UdpView.TryParse(s.Frame.AsSpan(34), out var u, out _) ? u.SourcePort : 0).ToArray();
        Assert.NotEqual(ports[0], ports[1]);
        Assert.Equal(ports[1], ports[2]);
    }

    [Fact]
    public void A_tracked_connection_under_a_deny_megaflow_still_passes()
    {
        var dp = Datapath(shards: 1);
        var sink = new CaptureSink();
        var blue = dp.Plan.Tenants[0];
        dp.ProcessFrame(Tcp(Host, 6000, Server, 8080, TcpFlags.Syn), blue.DownlinkPort, 0, sink);
        Assert.Single(sink.Sent);

        // Now 8080 is denied: a new flow makes a deny megaflow that the old connection matches.
        var deny = Firewall(FirewallPolicy.Allow, new FirewallRuleIntent("no-8080", FirewallAction.Deny, RuleProtocol.Tcp, default, default, new PortRange(8080, 8080)));
        dp.Reconfigure(Plan(GatewayOf(Tenant("blue", 1, deny), Tenant("red", 2)), generation: 2));
        dp.ProcessFrame(Tcp(Host, 6001, Server, 8080, TcpFlags.Syn), blue.DownlinkPort, 1, sink);
        Assert.Equal(1, dp.MasksInUse);
        dp.ProcessFrame(Tcp(Host, 6000, Server, 8080, TcpFlags.Ack), blue.DownlinkPort, 2, sink);

        Assert.Equal(2, sink.Sent.Count); // the established connection's packet went out
        Assert.Equal(1, dp.Counters.Drops[(int)GatewayDrop.FirewallDenied]);
    }

    [Fact]
    public void Megaflow_results_equal_running_the_stages_packet_by_packet_for_random_flows_both_ways()
    {
        var random = new Random(20261125);
        long megaflowHits = 0;
        for (var round = 0; round < 24; round++)
        {
            var rules = Enumerable.Range(0, random.Next(0, 5)).Select(i => new FirewallRuleIntent(
                $"r{i}",
                random.Next(3) == 0 ? FirewallAction.Allow : FirewallAction.Deny,
                (RuleProtocol)random.Next(3),
                random.Next(2) == 0 ? default : Cidr($"10.0.0.{random.Next(256)}/{random.Next(24, 33)}"),
                random.Next(2) == 0 ? default : Cidr($"203.0.113.{random.Next(256)}/{random.Next(24, 33)}"),
                null)).Select(r => r.Protocol is RuleProtocol.Tcp or RuleProtocol.Udp && random.Next(2) == 0 ? r with { Ports = new PortRange(1, (ushort)random.Next(1, 1000)) } : r).ToArray();
            var firewall = random.Next(3) == 0 ? null : Firewall((FirewallPolicy)random.Next(2), rules);
            var blueIntent = Tenant("blue", 1) with { Firewall = firewall, SnatPool = random.Next(2) == 0 ? [] : [Cidr("198.51.100.11/32", bareAddressIsHost: true)] };
            var plan = Plan(GatewayOf(blueIntent, Tenant("red", 2)));
            var cached = Datapath(plan);
            var uncached = Datapath(plan);
            uncached.CacheDisabled = true;
            var blue = plan.Tenants[0];
            for (uint h = 2; h < 250; h++)
            {
                cached.AddNeighbor(blue.DownlinkPort, new Ipv4Address(0x0A000000u + h), HostMac);
                uncached.AddNeighbor(blue.DownlinkPort, new Ipv4Address(0x0A000000u + h), HostMac);
            }
            var (a, b) = (new CaptureSink(), new CaptureSink());
            var flows = Enumerable.Range(0, 40).Select(_ => (
                Inside: new Ipv4Address(0x0A000000u + (uint)random.Next(2, 12)),
                InsidePort: (ushort)random.Next(1024, 1040),
                Outside: new Ipv4Address(0xCB007100u + (uint)random.Next(4)),
                OutsidePort: (ushort)random.Next(1, 30),
                Inbound: random.Next(3) == 0,
                Udp: random.Next(2) == 0)).ToArray();
            for (var packet = 0; packet < 3; packet++)
            {
                foreach (var f in flows)
                {
                    var flags = packet == 0 ? TcpFlags.Syn : random.Next(8) switch { 0 => TcpFlags.Rst, 1 => TcpFlags.Fin | TcpFlags.Ack, _ => TcpFlags.Ack };
                    var (src, sport, dst, dport) = f.Inbound ? (f.Outside, f.OutsidePort, f.Inside, f.InsidePort) : (f.Inside, f.InsidePort, f.Outside, f.OutsidePort);
                    MacAddress? from = f.Inbound ? UpstreamMac : null;
                    var frame = f.Udp ? Udp(src, sport, dst, dport, from) : Tcp(src, sport, dst, dport, flags, from);
                    var port = f.Inbound ? blue.UplinkPort : blue.DownlinkPort;
                    cached.ProcessFrame((byte[])frame.Clone(), port, packet, a);
                    uncached.ProcessFrame(frame, port, packet, b);
                }
            }
            Assert.Equal(b.Sent.Select(s => (s.Port, Convert.ToHexString(s.Frame))), a.Sent.Select(s => (s.Port, Convert.ToHexString(s.Frame))));
            Assert.Equal(uncached.Counters.Drops, cached.Counters.Drops);
            megaflowHits += cached.Counters.MegaflowHits;
        }
        Assert.True(megaflowHits > 50, $"only {megaflowHits} megaflow hits: sharing was hardly exercised");
    }
}
