using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Tests.DataPlane.Wire;

public class EthernetOverMplsTests
{
    private static readonly PwEncapsulation WithCwAndFlowLabel = new(ControlWord: true, FlowLabel: true);

    private static byte[] Udp(byte[] frame) => frame.AsSpan(14 + 20).ToArray();

    [Fact]
    public void Finds_pw_label_flow_label_sequence_and_customer_frame_in_a_captured_packet()
    {
        Assert.True(MplsInUdpView.TryParse(Udp(WireFixtures.MplsInUdpPw), out var outer, out _));
        Assert.True(EthernetOverMplsView.TryParse(outer.Mpls, WithCwAndFlowLabel, out var pw, out _));
        Assert.Equal(new MplsLabel(1000), pw.PwLabel);
        Assert.Equal(new MplsLabel(5000), pw.FlowLabel);
        Assert.Equal(1, pw.SequenceNumber);
        Assert.False(pw.IsAssociatedChannel);
        Assert.Equal(WireFixtures.Udp, pw.Frame.ToArray());
    }

    [Fact]
    public void Emits_the_captured_pw_header()
    {
        var repr = new EthernetOverMplsRepr(new MplsLabel(1000), new MplsLabel(5000), ControlWord: true, SequenceNumber: 1);
        var bytes = new byte[repr.BufferLength];
        repr.Emit(bytes);
        Assert.Equal(Udp(WireFixtures.MplsInUdpPw).AsSpan(8, 12).ToArray(), bytes);
        Assert.True(EthernetOverMplsView.TryParse(Udp(WireFixtures.MplsInUdpPw).AsSpan(8), WithCwAndFlowLabel, out var pw, out _));
        Assert.Equal(repr, EthernetOverMplsRepr.Parse(pw));
    }

    [Fact]
    public void Recognises_an_associated_channel_packet_instead_of_a_frame()
    {
        var mpls = Udp(WireFixtures.MplsInUdpAch).AsSpan(8);
        Assert.True(EthernetOverMplsView.TryParse(mpls, new PwEncapsulation(ControlWord: true, FlowLabel: false), out var pw, out _));
        Assert.True(pw.IsAssociatedChannel);
        Assert.Equal(PwChannelType.Bfd, pw.ChannelType);
        Assert.Equal(24, pw.ChannelPayload.Length);
        Assert.True(pw.Frame.IsEmpty);
        Assert.Null(pw.FlowLabel);
    }

    [Fact]
    public void Reads_a_pw_without_control_word_or_flow_label()
    {
        var repr = new EthernetOverMplsRepr(new MplsLabel(2000), null, ControlWord: false);
        var bytes = new byte[repr.BufferLength + WireFixtures.Udp.Length];
        repr.Emit(bytes);
        WireFixtures.Udp.CopyTo(bytes, repr.BufferLength);
        Assert.True(EthernetOverMplsView.TryParse(bytes, repr.Encapsulation, out var pw, out _));
        Assert.Equal(new MplsLabel(2000), pw.PwLabel);
        Assert.Equal(0, pw.SequenceNumber);
        Assert.Equal(WireFixtures.Udp, pw.Frame.ToArray());
    }

    [Fact]
    public void Refuses_a_stack_too_shallow_for_the_configured_flow_label()
    {
        var mpls = Udp(WireFixtures.MplsInUdpAch).AsSpan(8);
        Assert.False(EthernetOverMplsView.TryParse(mpls, WithCwAndFlowLabel, out _, out var reason));
        Assert.Equal(DropReason.LabelStackTooShallow, reason);
    }

    [Fact]
    public void Refuses_a_customer_frame_shorter_than_an_ethernet_header()
    {
        var mpls = Udp(WireFixtures.MplsInUdpPw).AsSpan(8, 8 + 4 + 13);
        Assert.False(EthernetOverMplsView.TryParse(mpls, WithCwAndFlowLabel, out _, out var reason));
        Assert.Equal(DropReason.Truncated, reason);
    }

    [Fact]
    public void Makes_flow_labels_outside_the_reserved_range()
    {
        for (ulong hash = 0; hash < 64; hash++)
        {
            Assert.False(EthernetOverMplsRepr.FlowLabelFromHash(hash << 32).IsReserved);
        }
    }
}

public class MplsInUdpTests
{
    [Fact]
    public void Parses_the_captured_datagram_entropy_port_and_labels()
    {
        Assert.True(MplsInUdpView.TryParse(WireFixtures.MplsInUdpPw.AsSpan(34), out var packet, out _));
        Assert.Equal(0xD234, packet.EntropyPort);
        Assert.Equal(2, packet.Labels.Depth);
        Assert.Equal(new MplsInUdpRepr(0xD234, 12 + 54), MplsInUdpRepr.Parse(packet));
    }

    [Fact]
    public void Emits_a_checksummed_header_that_round_trips_the_captured_datagram()
    {
        var udp = WireFixtures.MplsInUdpPw.AsSpan(34).ToArray();
        var repr = new MplsInUdpRepr(0xD234, udp.Length - 8);
        var bytes = new byte[repr.BufferLength];
        udp.AsSpan(8).CopyTo(bytes.AsSpan(8));
        repr.EmitWithChecksum(bytes, Ipv4Address.Parse("192.168.1.1"), Ipv4Address.Parse("192.168.1.2"));
        Assert.Equal(udp, bytes);
        repr.Emit(bytes);
        Assert.Equal(0, new UdpWriter(bytes).DatagramChecksum);
    }

    [Fact]
    public void Keeps_entropy_ports_in_the_ephemeral_range()
    {
        var random = new Random(7510);
        for (var i = 0; i < 1000; i++)
        {
            Assert.InRange(MplsInUdp.EntropySourcePort((ulong)random.NextInt64()), 49152, 65535);
        }
    }

    [Fact]
    public void Refuses_another_destination_port_as_unexpected_not_malformed()
    {
        Assert.False(MplsInUdpView.TryParse(WireFixtures.Vxlan.AsSpan(34), out _, out var reason));
        Assert.Equal(DropReason.UnexpectedPort, reason);
        Assert.False(reason.IsMalformed());
    }
}

public class VxlanTests
{
    private static byte[] Vxlan => WireFixtures.Vxlan.AsSpan(14 + 20 + 8).ToArray();

    [Fact]
    public void Parses_the_captured_vni_and_inner_frame()
    {
        Assert.True(VxlanView.TryParse(Vxlan, out var header, out _));
        Assert.Equal(5001u, header.Vni);
        Assert.Equal(WireFixtures.Udp, header.Payload.ToArray());
    }

    [Fact]
    public void Emits_the_captured_header()
    {
        var bytes = new byte[8];
        new VxlanRepr(5001).Emit(bytes);
        Assert.Equal(Vxlan.AsSpan(0, 8).ToArray(), bytes);
        Assert.Throws<ArgumentException>(() => new VxlanRepr(1u << 24).Emit(bytes));
    }

    [Fact]
    public void Refuses_a_header_without_the_I_flag_or_truncated()
    {
        var bytes = Vxlan;
        bytes[0] = 0;
        Assert.False(VxlanView.TryParse(bytes, out _, out var reason));
        Assert.Equal(DropReason.BadFlags, reason);
        Assert.False(VxlanView.TryParse(Vxlan.AsSpan(0, 7), out _, out reason));
        Assert.Equal(DropReason.Truncated, reason);
    }
}

public class GeneveTests
{
    private static byte[] Geneve => WireFixtures.Geneve.AsSpan(14 + 20 + 8).ToArray();

    [Fact]
    public void Parses_the_captured_header_its_option_and_inner_frame()
    {
        Assert.True(GeneveView.TryParse(Geneve, out var header, out _));
        Assert.Equal(0, header.Version);
        Assert.Equal(7000u, header.Vni);
        Assert.Equal(EtherType.TransparentEthernetBridging, header.ProtocolType);
        Assert.Equal(8, header.OptionsLength);
        var options = header.ReadOptions();
        Assert.True(options.TryReadNext(out var option));
        Assert.Equal(0x0102, option.Class);
        Assert.True(option.IsCritical);
        Assert.Equal(Convert.FromHexString("deadbeef"), option.Data.ToArray());
        Assert.False(options.TryReadNext(out _));
        Assert.Equal(WireFixtures.Udp, header.Payload.ToArray());
    }

    [Fact]
    public void Round_trips_the_captured_fixed_header()
    {
        Assert.True(GeneveRepr.TryParse(Geneve, out var repr, out _));
        Assert.Equal(new GeneveRepr(7000, OptionsLength: 8), repr);
        var bytes = Geneve;
        bytes.AsSpan(0, 8).Clear();
        repr.Emit(bytes);
        Assert.Equal(Geneve, bytes);
    }

    [Fact]
    public void Refuses_version_1_an_options_length_beyond_the_buffer_and_an_overrunning_option()
    {
        var bytes = Geneve;
        bytes[0] |= 0x40;
        Assert.False(GeneveView.TryParse(bytes, out _, out var reason));
        Assert.Equal(DropReason.BadVersion, reason);

        Assert.False(GeneveView.TryParse(Geneve.AsSpan(0, 12), out _, out reason));
        Assert.Equal(DropReason.Truncated, reason);

        bytes = Geneve;
        bytes[8 + 3] = 2; // the option claims 8 data bytes in a 4-byte slot
        Assert.False(GeneveView.TryParse(bytes, out _, out reason));
        Assert.Equal(DropReason.BadOption, reason);
    }
}
