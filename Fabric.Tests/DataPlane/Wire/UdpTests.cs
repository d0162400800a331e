using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Tests.DataPlane.Wire;

public class UdpTests
{
    private static readonly Ipv4Address Src = Ipv4Address.Parse("10.0.0.1");
    private static readonly Ipv4Address Dst = Ipv4Address.Parse("10.0.0.2");

    private static byte[] Udp(byte[] frame) => frame.AsSpan(EthernetLayout.HeaderLength + 20).ToArray();

    [Fact]
    public void Parses_a_captured_datagram_and_verifies_its_checksum()
    {
        Assert.True(UdpView.TryParse(Udp(WireFixtures.Udp), out var udp, out _));
        Assert.Equal(5000, udp.SourcePort);
        Assert.Equal(9999, udp.DestinationPort);
        Assert.Equal(20, udp.Length);
        Assert.Equal("hello fabric", System.Text.Encoding.ASCII.GetString(udp.Payload));
        Assert.True(udp.IsChecksumValid(Src, Dst));
        Assert.False(udp.IsChecksumValid(Src, Ipv4Address.Parse("10.0.0.3")));
    }

    [Fact]
    public void Round_trips_a_captured_datagram_byte_for_byte()
    {
        var bytes = Udp(WireFixtures.Udp);
        Assert.True(UdpRepr.TryParse(bytes, Src, Dst, out var repr, out _));
        Assert.Equal(new UdpRepr(5000, 9999, 12), repr);
        var emitted = new byte[repr.BufferLength];
        bytes.AsSpan(8).CopyTo(emitted.AsSpan(8));
        repr.Emit(emitted, Src, Dst);
        Assert.Equal(bytes, emitted);
    }

    [Fact]
    public void Accepts_a_zero_checksum_as_none()
    {
        var bytes = Udp(WireFixtures.Udp);
        new UdpWriter(bytes).DatagramChecksum = 0;
        Assert.True(UdpRepr.TryParse(bytes, Src, Dst, out _, out _));
    }

    [Fact]
    public void Refuses_a_bad_checksum_in_repr_parse()
    {
        var bytes = Udp(WireFixtures.Udp);
        bytes[^1] ^= 0x20;
        Assert.False(UdpRepr.TryParse(bytes, Src, Dst, out _, out var reason));
        Assert.Equal(DropReason.BadChecksum, reason);
    }

    [Theory]
    [InlineData(7, DropReason.BadLength)]
    [InlineData(21, DropReason.Truncated)]
    public void Refuses_a_length_field_outside_header_and_buffer(int length, DropReason expected)
    {
        var bytes = Udp(WireFixtures.Udp);
        new UdpWriter(bytes).Length = (ushort)length;
        Assert.False(UdpView.TryParse(bytes, out _, out var reason));
        Assert.Equal(expected, reason);
    }

    [Fact]
    public void Refuses_a_datagram_shorter_than_its_header()
    {
        Assert.False(UdpView.TryParse(Udp(WireFixtures.Udp).AsSpan(0, 7), out _, out var reason));
        Assert.Equal(DropReason.Truncated, reason);
    }

    [Fact]
    public void Nat_rewrites_of_ports_and_addresses_keep_the_checksum_valid()
    {
        var bytes = Udp(WireFixtures.Udp);
        var writer = new UdpWriter(bytes);
        var newSource = Ipv4Address.Parse("203.0.113.7");
        writer.RewriteSourcePort(61000);
        writer.UpdateForAddressChange(Src, newSource);
        Assert.True(UdpView.TryParse(bytes, out var udp, out _));
        Assert.Equal(61000, udp.SourcePort);
        Assert.True(udp.IsChecksumValid(newSource, Dst));
    }

    [Fact]
    public void Sends_a_computed_zero_checksum_as_all_ones()
    {
        // Find a payload whose checksum computes to zero, then check it goes out as 0xFFFF.
        var repr = new UdpRepr(1, 2, 2);
        var bytes = new byte[repr.BufferLength];
        for (var word = 0; word <= 0xFFFF; word++)
        {
            bytes[8] = (byte)(word >> 8);
            bytes[9] = (byte)word;
            repr.Emit(bytes, Src, Dst);
            Assert.NotEqual(0, new UdpWriter(bytes).DatagramChecksum);
            if (new UdpWriter(bytes).DatagramChecksum == 0xFFFF)
            {
                Assert.True(UdpView.TryParse(bytes, out var udp, out _) && udp.IsChecksumValid(Src, Dst));
                return;
            }
        }
        Assert.Fail("no payload gave a zero checksum");
    }
}
