using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Tests.DataPlane.Wire;

public class EthernetTests
{
    [Fact]
    public void Parses_the_addresses_and_ethertype_of_a_captured_ARP_broadcast()
    {
        Assert.True(EthernetView.TryParse(WireFixtures.ArpRequest, out var frame, out var reason));
        Assert.Equal(DropReason.None, reason);
        Assert.Equal(MacAddress.Broadcast, frame.Destination);
        Assert.Equal(MacAddress.Parse("52:54:00:12:34:56"), frame.Source);
        Assert.Equal(EtherType.Arp, frame.EtherType);
        Assert.Equal(46, frame.Payload.Length);
        Assert.False(frame.IsLengthField);
    }

    [Fact]
    public void Emits_the_same_header_it_parsed()
    {
        var bytes = WireFixtures.IcmpEchoRequest;
        Assert.True(EthernetRepr.TryParse(bytes, out var repr, out _));
        var emitted = new byte[repr.BufferLength];
        repr.Emit(emitted);
        Assert.Equal(bytes.AsSpan(0, 14).ToArray(), emitted);
    }

    [Fact]
    public void Refuses_a_frame_shorter_than_its_header()
    {
        Assert.False(EthernetView.TryParse(WireFixtures.ArpRequest.AsSpan(0, 13), out _, out var reason));
        Assert.Equal(DropReason.Truncated, reason);
    }

    [Fact]
    public void Keeps_unknown_ethertypes_and_recognises_802_3_length_fields()
    {
        var bytes = WireFixtures.Udp;
        bytes[12] = 0x88;
        bytes[13] = 0xB5; // IEEE local experimental
        Assert.True(EthernetView.TryParse(bytes, out var frame, out _));
        Assert.Equal((EtherType)0x88B5, frame.EtherType);
        bytes[12] = 0x00;
        bytes[13] = 0x2E;
        Assert.True(EthernetView.TryParse(bytes, out frame, out _));
        Assert.True(frame.IsLengthField);
    }

    [Fact]
    public void Writer_rejects_a_buffer_too_small_for_a_header() =>
        Assert.Throws<ArgumentException>(() => new EthernetWriter(new byte[10]));
}
