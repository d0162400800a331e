using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Gateway;
using Fabric.Actors.Gateway.Pipeline;
using static Fabric.Tests.Gateways.GatewayFixture;

namespace Fabric.Tests.Gateways;

public class GatewayRouterTests
{
    [Fact]
    public void Answers_arp_for_its_address_on_the_tenant_network_and_learns_the_sender()
    {
        var dp = Datapath();
        var sink = new CaptureSink();
        var frame = new byte[60];
        ArpRepr.Request(HostMac, Host, Ipv4Address.Parse("10.0.0.1")).Emit(frame.AsSpan(14));
        new EthernetRepr(HostMac, MacAddress.Broadcast, EtherType.Arp).Emit(frame);
        dp.ProcessFrame(frame, dp.Plan.Tenants[0].DownlinkPort, 0, sink);
        var (_, reply) = sink.Single();
        Assert.True(EthernetView.TryParse(reply, out var eth, out _));
        Assert.True(ArpRepr.TryParse(eth.Payload, out var arp, out _));
        Assert.Equal((ArpOperation.Reply, RouterMac, Host), (arp.Operation, arp.SenderHardwareAddress, arp.TargetProtocolAddress));
        Assert.True(dp.TryResolve(dp.Plan.Tenants[0].DownlinkPort, Host, out var learned));
        Assert.True(learned == HostMac);
    }

    [Fact]
    public void Answers_ping_to_its_address()
    {
        var dp = Datapath();
        var sink = new CaptureSink();
        dp.ProcessFrame(Ping(Host, Ipv4Address.Parse("10.0.0.1"), 7), dp.Plan.Tenants[0].DownlinkPort, 0, sink);
        var (_, reply) = sink.Single();
        Assert.True(Ipv4View.TryParse(reply.AsSpan(14), out var ip, out _));
        Assert.True(Icmpv4Repr.TryParse(ip.Payload, out var icmp, out _));
        Assert.Equal((Icmpv4Type.EchoReply, (ushort)7, Host), (icmp.Type, icmp.Identifier, ip.Destination));
    }

    [Fact]
    public void Ttl_one_gets_time_exceeded_back_and_is_counted()
    {
        var dp = Datapath();
        var sink = new CaptureSink();
        dp.ProcessFrame(Udp(Host, 1, Server, 53, ttl: 1), dp.Plan.Tenants[0].DownlinkPort, 0, sink);
        var (port, error) = sink.Single();
        Assert.Equal(dp.Plan.Tenants[0].DownlinkPort, port);
        Assert.True(Ipv4View.TryParse(error.AsSpan(14), out var ip, out _));
        Assert.True(Icmpv4Repr.TryParse(ip.Payload, out var icmp, out _));
        Assert.Equal((Icmpv4Type.TimeExceeded, Ipv4Address.Parse("10.0.0.1")), (icmp.Type, ip.Source));
        Assert.Equal(1, dp.Counters.Drops[(int)GatewayDrop.TtlExceeded]);
    }

    [Fact]
    public void Rejects_answer_with_a_tcp_reset_and_fragments_are_dropped_by_name()
    {
        var dp = Datapath();
        var sink = new CaptureSink();
        dp.ProcessFrame(Tcp(Host, 1234, Server, 25, TcpFlags.Syn, seq: 99), dp.Plan.Tenants[0].DownlinkPort, 0, sink);
        var (_, rst) = sink.Single();
        Assert.True(Ipv4View.TryParse(rst.AsSpan(14), out var ip, out _));
        Assert.True(TcpView.TryParse(ip.Payload, out var tcp, out _));
        Assert.Equal((TcpFlags.Rst | TcpFlags.Ack, 100u, Server), (tcp.Flags, tcp.AcknowledgmentNumber, ip.Source));

        var fragment = Udp(Host, 1, Server, 53);
        fragment[14 + 6] = 0x20; // more fragments
        new Ipv4Writer(fragment.AsSpan(14)).FillChecksum();
        dp.ProcessFrame(fragment, dp.Plan.Tenants[0].DownlinkPort, 1, sink);
        Assert.Empty(sink.Sent);
        Assert.Equal(1, dp.Counters.Drops[(int)GatewayDrop.Fragment]);
    }

    [Fact]
    public void Two_tenants_with_the_same_subnet_stay_apart()
    {
        var dp = Datapath();
        var sink = new CaptureSink();
        var (blue, red) = (dp.Plan.Tenants[0], dp.Plan.Tenants[1]);
        dp.ProcessFrame(Udp(Host, 5000, Server, 53), blue.DownlinkPort, 0, sink);
        dp.ProcessFrame(Udp(Host, 5000, Server, 53), red.DownlinkPort, 0, sink);
        Assert.Equal([blue.UplinkPort, red.UplinkPort], sink.Sent.Select(s => s.Port));
        var sources = sink.Sent.Select(s => Ipv4View.TryParse(s.Frame.AsSpan(14), out var ip, out _) ? ip.Source : default).ToArray();
        Assert.Equal([Ipv4Address.Parse("198.51.100.11"), Ipv4Address.Parse("198.51.100.12")], sources);
        sink.Sent.Clear();

        // Blue's host aiming at red's pool address goes out blue's uplink (SNAT'd), never into red.
        dp.ProcessFrame(Udp(Host, 5001, Ipv4Address.Parse("198.51.100.12"), 53), blue.DownlinkPort, 1, sink);
        Assert.All(sink.Sent, s => Assert.NotEqual(red.DownlinkPort, s.Port));
        // Red's pool address reached on blue's uplink is not blue's: dropped by name.
        sink.Sent.Clear();
        dp.ProcessFrame(Udp(Server, 53, Ipv4Address.Parse("198.51.100.12"), 5000, from: UpstreamMac), blue.UplinkPort, 2, sink);
        Assert.Empty(sink.Sent);
        Assert.Equal(1, dp.Counters.Drops[(int)GatewayDrop.NoNatBinding]);
    }
}
