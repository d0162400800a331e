using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Tests.DataPlane.Wire;

public class Icmpv4Tests
{
    private static byte[] Icmp(byte[] frame) => frame.AsSpan(EthernetLayout.HeaderLength + 20).ToArray();

    [Fact]
    public void Parses_a_captured_echo_request()
    {
        Assert.True(Icmpv4Repr.TryParse(Icmp(WireFixtures.IcmpEchoRequest), out var repr, out _));
        Assert.Equal(Icmpv4Repr.EchoRequest(0x0b1d, 1, 56), repr);
        Assert.Equal(0x0b1d, repr.Identifier);
        Assert.Equal(1, repr.SequenceNumber);
    }

    [Fact]
    public void Builds_the_captured_echo_reply_from_the_captured_request()
    {
        var request = Icmp(WireFixtures.IcmpEchoRequest);
        Assert.True(Icmpv4View.TryParse(request, out var view, out _));
        var reply = Icmpv4Repr.EchoReplyTo(view);
        var bytes = new byte[reply.BufferLength];
        view.Data.CopyTo(bytes.AsSpan(Icmpv4Layout.Data));
        reply.Emit(bytes);
        Assert.Equal(Icmp(WireFixtures.IcmpEchoReply), bytes);
    }

    [Fact]
    public void Reads_the_quoted_probe_of_a_time_exceeded()
    {
        Assert.True(Icmpv4View.TryParse(Icmp(WireFixtures.IcmpTimeExceeded), out var message, out _));
        Assert.True(message.IsChecksumValid);
        Assert.Equal(Icmpv4Type.TimeExceeded, message.Type);
        Assert.Equal((byte)Icmpv4TimeExceededCode.TtlExceededInTransit, message.Code);
        Assert.True(message.TryGetQuotedDatagram(out var quoted, out _));
        Assert.Equal(Ipv4Address.Parse("8.8.8.8"), quoted.Destination);
        Assert.Equal(IpProtocol.Udp, quoted.Protocol);
        Assert.Equal(1, quoted.Ttl);
        Assert.Equal(8, quoted.Payload.Length); // the UDP header of the probe
        Assert.Equal(33434, System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(quoted.Payload[2..]));
    }

    [Fact]
    public void Builds_a_port_unreachable_that_quotes_the_whole_short_datagram()
    {
        var original = WireFixtures.IcmpPortUnreachable.AsSpan(EthernetLayout.HeaderLength + 20 + 8).ToArray();
        Assert.True(Ipv4View.TryParse(original, out var blocked, out _));
        var repr = Icmpv4Repr.DestinationUnreachable(Icmpv4UnreachableCode.PortUnreachable, blocked.Bytes.Length);
        var bytes = new byte[repr.BufferLength];
        blocked.Bytes.CopyTo(bytes.AsSpan(Icmpv4Layout.Data));
        repr.Emit(bytes);
        Assert.Equal(Icmp(WireFixtures.IcmpPortUnreachable), bytes);
    }

    [Fact]
    public void Quotes_the_header_and_eight_payload_bytes_of_a_long_datagram()
    {
        Assert.True(Ipv4View.TryParse(WireFixtures.Ipv4FirstFragment.AsSpan(14), out var original, out _));
        Assert.Equal(28, Icmpv4Repr.QuoteLength(original));
    }

    [Fact]
    public void Carries_the_next_hop_mtu_of_fragmentation_needed()
    {
        var repr = Icmpv4Repr.DestinationUnreachable(Icmpv4UnreachableCode.FragmentationNeeded, 28, nextHopMtu: 1400);
        var bytes = new byte[repr.BufferLength];
        repr.Emit(bytes);
        Assert.True(Icmpv4View.TryParse(bytes, out var view, out _));
        Assert.Equal(1400, view.NextHopMtu);
        Assert.True(view.IsChecksumValid);
    }

    [Fact]
    public void Refuses_a_message_shorter_than_its_header()
    {
        Assert.False(Icmpv4View.TryParse(new byte[7], out _, out var reason));
        Assert.Equal(DropReason.Truncated, reason);
    }

    [Fact]
    public void Refuses_a_bad_checksum_in_repr_parse()
    {
        var bytes = Icmp(WireFixtures.IcmpEchoRequest);
        bytes[^1] ^= 0xFF;
        Assert.False(Icmpv4Repr.TryParse(bytes, out _, out var reason));
        Assert.Equal(DropReason.BadChecksum, reason);
    }

    [Fact]
    public void Keeps_unknown_types_and_has_no_quote_for_non_errors()
    {
        var bytes = Icmp(WireFixtures.IcmpEchoRequest);
        bytes[0] = 42; // extended echo request (RFC 8335), unnamed here
        Assert.True(Icmpv4View.TryParse(bytes, out var view, out _));
        Assert.Equal((Icmpv4Type)42, view.Type);
        Assert.False(view.TryGetQuotedDatagram(out _, out _));
    }
}
