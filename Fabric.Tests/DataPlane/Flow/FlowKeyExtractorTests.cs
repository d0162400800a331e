using System.Runtime.CompilerServices;
using Fabric.Actors.DataPlane.Flow;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Tests.DataPlane.Wire;

namespace Fabric.Tests.DataPlane.Flow;

public class FlowKeyExtractorTests
{
    private static readonly MacAddress HostA = MacAddress.Parse("52:54:00:12:34:56");
    private static readonly MacAddress HostB = MacAddress.Parse("52:54:00:ab:cd:ef");
    private static readonly Ipv4Address Ip1 = Ipv4Address.Parse("10.0.0.1");
    private static readonly Ipv4Address Ip2 = Ipv4Address.Parse("10.0.0.2");

    private static FlowKey Extract(byte[] frame, ushort port = 3, uint tenant = 42)
    {
        Assert.True(FlowKeyExtractor.TryExtract(frame, port, tenant, out var key, out var reason), reason.ToString());
        Assert.Equal(DropReason.None, reason);
        return key;
    }

    private static DropReason Refuse(byte[] frame)
    {
        Assert.False(FlowKeyExtractor.TryExtract(frame, 1, 1, out _, out var reason));
        Assert.True(reason.IsMalformed(), reason.ToString());
        return reason;
    }

    [Fact]
    public void Is_six_words_with_no_padding() => Assert.Equal(FlowKey.SizeInBytes, Unsafe.SizeOf<FlowKey>());

    [Fact]
    public void Fills_every_field_of_a_tcp_frame()
    {
        var key = Extract(WireFixtures.Tcp64);
        var expected = new FlowKey
        {
            Tenant = 42,
            IngressPort = 3,
            EtherType = EtherType.Ipv4,
            Destination = HostB,
            Source = HostA,
            SourceAddress = Ip1,
            DestinationAddress = Ip2,
            IpProtocol = IpProtocol.Tcp,
            SourcePort = 43210,
            DestinationPort = 80,
            Flags = FlowKeyFlags.Ipv4 | FlowKeyFlags.Transport,
        };
        Assert.Equal(expected, key);
    }

    [Fact]
    public void Reads_a_tcp_segments_flags_in_the_same_pass_and_none_for_other_protocols()
    {
        // The trunk's least-loaded balance ends a connection's count at its FIN/RST from these.
        Assert.True(FlowKeyExtractor.TryExtract(WireFixtures.Tcp64, 3, 42, out var key, out _, out var flags));
        Assert.Equal(Extract(WireFixtures.Tcp64), key);
        Assert.Equal(TcpFlags.Psh | TcpFlags.Ack, flags);
        Assert.Equal(flags, TcpView.FlagsOfFrame(WireFixtures.Tcp64));
        Assert.True(FlowKeyExtractor.TryExtract(WireFixtures.Udp, 3, 42, out _, out _, out var none));
        Assert.Equal(TcpFlags.None, none);
        Assert.Equal(TcpFlags.None, TcpView.FlagsOfFrame(WireFixtures.Udp));
    }

    [Fact]
    public void Reads_udp_ports()
    {
        var key = Extract(WireFixtures.Udp);
        Assert.Equal((5000, 9999), (key.SourcePort, key.DestinationPort));
        Assert.Equal(IpProtocol.Udp, key.IpProtocol);
    }

    [Fact]
    public void Puts_icmp_type_and_code_in_the_source_port_and_the_echo_identifier_in_the_destination_port()
    {
        var request = Extract(WireFixtures.IcmpEchoRequest);
        Assert.Equal(0x0800, request.SourcePort);
        Assert.Equal(0x0b1d, request.DestinationPort);
        var reply = Extract(WireFixtures.IcmpEchoReply);
        Assert.Equal(0x0000, reply.SourcePort);
        Assert.Equal(0x0b1d, reply.DestinationPort);
        var unreachable = Extract(WireFixtures.IcmpPortUnreachable);
        Assert.Equal(0x0303, unreachable.SourcePort);
        Assert.Equal(0, unreachable.DestinationPort);
    }

    [Fact]
    public void Records_one_vlan_tag_as_outer()
    {
        var key = Extract(WireFixtures.VlanUdp);
        Assert.Equal(new VlanId(100), key.OuterVlan);
        Assert.Equal(VlanId.None, key.InnerVlan);
        Assert.Equal(FlowKeyFlags.Vlan, key.Flags & (FlowKeyFlags.Vlan | FlowKeyFlags.QinQ));
        Assert.Equal(EtherType.Ipv4, key.EtherType);
        Assert.Equal((1234, 5678), (key.SourcePort, key.DestinationPort));
    }

    [Fact]
    public void Records_service_and_customer_tags_of_qinq()
    {
        var key = Extract(WireFixtures.QinQUdp);
        Assert.Equal(new VlanId(200), key.OuterVlan);
        Assert.Equal(new VlanId(100), key.InnerVlan);
        Assert.True(key.Flags.HasFlag(FlowKeyFlags.QinQ));
        Assert.Equal(Ipv4Address.Parse("10.1.0.2"), key.DestinationAddress);
    }

    [Fact]
    public void Refuses_a_third_vlan_tag()
    {
        var frame = WireFixtures.QinQUdp;
        frame[18 + 2] = 0x81; // the C-tag's EtherType becomes another C-tag
        frame[18 + 3] = 0x00;
        Assert.Equal(DropReason.VlanStackTooDeep, Refuse(frame));
    }

    [Fact]
    public void Keeps_the_same_key_for_every_fragment_of_a_datagram_and_no_ports()
    {
        var first = Extract(WireFixtures.Ipv4FirstFragment);
        var later = Extract(WireFixtures.Ipv4LaterFragment);
        Assert.True(first.IsFragment);
        Assert.Equal(0, first.SourcePort);
        Assert.False(first.Flags.HasFlag(FlowKeyFlags.Transport));
        Assert.Equal(first, later);
    }

    [Fact]
    public void Reads_arp_addresses_and_opcode()
    {
        var key = Extract(WireFixtures.ArpRequest);
        Assert.Equal(EtherType.Arp, key.EtherType);
        Assert.Equal(Ip1, key.SourceAddress);
        Assert.Equal(Ip2, key.DestinationAddress);
        Assert.Equal((IpProtocol)1, key.IpProtocol);
        Assert.Equal(FlowKeyFlags.Arp, key.Flags);
        Assert.Equal(MacAddress.Broadcast, key.Destination);
    }

    [Fact]
    public void Sees_the_outer_headers_of_an_mpls_in_udp_pw_packet()
    {
        var key = Extract(WireFixtures.MplsInUdpPw);
        Assert.Equal(Ipv4Address.Parse("192.168.1.1"), key.SourceAddress);
        Assert.Equal((0xD234, 6635), (key.SourcePort, key.DestinationPort));
    }

    [Fact]
    public void Reads_the_top_label_and_an_ipv4_payload_of_an_mpls_frame()
    {
        var ip = WireFixtures.Udp.AsSpan(14).ToArray();
        var frame = new byte[14 + 8 + ip.Length];
        new EthernetRepr(HostA, HostB, EtherType.MplsUnicast).Emit(frame);
        MplsLabelStackEntry.EmitStack(frame.AsSpan(14), [
            new MplsLabelStackEntry(new MplsLabel(3000), 0, false, 64),
            new MplsLabelStackEntry(new MplsLabel(4000), 0, true, 64),
        ]);
        ip.CopyTo(frame, 22);
        var key = Extract(frame);
        Assert.Equal(new MplsLabel(3000), key.MplsLabel);
        Assert.Equal(EtherType.MplsUnicast, key.EtherType);
        Assert.Equal(FlowKeyFlags.Mpls | FlowKeyFlags.Ipv4 | FlowKeyFlags.Transport, key.Flags);
        Assert.Equal((5000, 9999), (key.SourcePort, key.DestinationPort));
    }

    [Fact]
    public void Stops_at_a_pw_payload_under_mpls_and_refuses_a_stack_without_bottom()
    {
        var mpls = WireFixtures.MplsInUdpPw.AsSpan(42).ToArray();
        var frame = new byte[14 + mpls.Length];
        new EthernetRepr(HostA, HostB, EtherType.MplsUnicast).Emit(frame);
        mpls.CopyTo(frame, 14);
        var key = Extract(frame);
        Assert.Equal(FlowKeyFlags.Mpls, key.Flags);
        Assert.Equal(new MplsLabel(1000), key.MplsLabel);

        var deep = new byte[14 + (9 * 4)];
        new EthernetRepr(HostA, HostB, EtherType.MplsUnicast).Emit(deep);
        Assert.Equal(DropReason.LabelStackTooDeep, Refuse(deep));
    }

    [Fact]
    public void Treats_an_unknown_ethertype_as_an_l2_flow_not_an_error()
    {
        var frame = WireFixtures.Udp;
        frame[12] = 0x86;
        frame[13] = 0xDD; // IPv6, not parsed yet
        var key = Extract(frame);
        Assert.Equal(EtherType.Ipv6, key.EtherType);
        Assert.Equal(FlowKeyFlags.None, key.Flags);
        Assert.Equal(Ipv4Address.Any, key.SourceAddress);
    }

    [Fact]
    public void Refuses_malformed_layers_with_their_reason()
    {
        Assert.Equal(DropReason.Truncated, Refuse(WireFixtures.Tcp64[..13]));
        Assert.Equal(DropReason.Truncated, Refuse(WireFixtures.Tcp64[..40]));
        var badVersion = WireFixtures.Tcp64;
        badVersion[14] = 0x65;
        Assert.Equal(DropReason.BadVersion, Refuse(badVersion));
        var badTcp = WireFixtures.Tcp64;
        badTcp[14 + 20 + 12] = 0x30;
        Assert.Equal(DropReason.BadHeaderLength, Refuse(badTcp));
        var badUdp = WireFixtures.Udp;
        badUdp[14 + 20 + 5] = 4;
        Assert.Equal(DropReason.BadLength, Refuse(badUdp));
        Assert.Equal(DropReason.Truncated, Refuse(WireFixtures.VlanUdp[..16]));
    }

    [Fact]
    public void Refuses_a_truncated_arp_but_keeps_arp_for_other_hardware_as_l2()
    {
        Assert.Equal(DropReason.Truncated, Refuse(WireFixtures.ArpRequest[..30]));
        var other = WireFixtures.ArpRequest;
        other[15] = 6; // IEEE 802 hardware type
        var key = Extract(other);
        Assert.Equal(FlowKeyFlags.None, key.Flags);
    }
}
