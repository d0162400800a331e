using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Tests.DataPlane.Wire;

public class ArpTests
{
    private static ReadOnlySpan<byte> Arp(byte[] frame) => frame.AsSpan(EthernetLayout.HeaderLength);

    [Fact]
    public void Parses_a_captured_request_ignoring_ethernet_padding()
    {
        Assert.True(ArpView.TryParse(Arp(WireFixtures.ArpRequest), out var arp, out _));
        Assert.Equal(ArpOperation.Request, arp.Operation);
        Assert.Equal(MacAddress.Parse("52:54:00:12:34:56"), arp.SenderHardwareAddress);
        Assert.Equal(Ipv4Address.Parse("10.0.0.1"), arp.SenderProtocolAddress);
        Assert.Equal(MacAddress.Zero, arp.TargetHardwareAddress);
        Assert.Equal(Ipv4Address.Parse("10.0.0.2"), arp.TargetProtocolAddress);
        Assert.Equal(28, arp.Bytes.Length);
    }

    [Fact]
    public void Builds_the_captured_reply_from_the_captured_request()
    {
        Assert.True(ArpRepr.TryParse(Arp(WireFixtures.ArpRequest), out var request, out _));
        var reply = ArpRepr.ReplyTo(request, MacAddress.Parse("52:54:00:ab:cd:ef"));
        var emitted = new byte[reply.BufferLength];
        reply.Emit(emitted);
        Assert.Equal(Arp(WireFixtures.ArpReply)[..28].ToArray(), emitted);
    }

    [Fact]
    public void Round_trips_a_request()
    {
        var request = ArpRepr.Request(MacAddress.Parse("52:54:00:12:34:56"), Ipv4Address.Parse("10.0.0.1"), Ipv4Address.Parse("10.0.0.2"));
        var bytes = new byte[28];
        request.Emit(bytes);
        Assert.Equal(Arp(WireFixtures.ArpRequest)[..28].ToArray(), bytes);
        Assert.True(ArpRepr.TryParse(bytes, out var parsed, out _));
        Assert.Equal(request, parsed);
    }

    [Fact]
    public void Refuses_a_truncated_packet()
    {
        Assert.False(ArpView.TryParse(Arp(WireFixtures.ArpRequest)[..27], out _, out var reason));
        Assert.Equal(DropReason.Truncated, reason);
    }

    [Theory]
    [InlineData(0, 0x00, 0x06)] // hardware type 6 (IEEE 802)
    [InlineData(2, 0x86, 0xDD)] // protocol IPv6
    [InlineData(4, 0x08, 0x04)] // hardware length 8
    public void Treats_other_hardware_or_protocol_formats_as_unsupported_not_malformed(int offset, byte first, byte second)
    {
        var arp = Arp(WireFixtures.ArpRequest).ToArray();
        arp[offset] = first;
        arp[offset + 1] = second;
        Assert.False(ArpView.TryParse(arp, out _, out var reason));
        Assert.Equal(DropReason.UnsupportedArpFormat, reason);
        Assert.False(reason.IsMalformed());
    }

    [Fact]
    public void Keeps_unknown_operation_codes()
    {
        var arp = Arp(WireFixtures.ArpRequest).ToArray();
        arp[7] = 9; // InARP request (RFC 2390)
        Assert.True(ArpView.TryParse(arp, out var view, out _));
        Assert.Equal((ArpOperation)9, view.Operation);
    }
}
