using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Tests.DataPlane.Wire;

public class Ipv4Tests
{
    private static byte[] Ip(byte[] frame) => frame.AsSpan(EthernetLayout.HeaderLength).ToArray();

    [Fact]
    public void Parses_every_field_of_a_captured_echo_request()
    {
        Assert.True(Ipv4View.TryParse(Ip(WireFixtures.IcmpEchoRequest), out var ip, out _));
        Assert.Equal(4, ip.Version);
        Assert.Equal(20, ip.HeaderLength);
        Assert.Equal(84, ip.TotalLength);
        Assert.Equal(0x1c46, ip.Identification);
        Assert.True(ip.DontFragment);
        Assert.False(ip.IsFragment);
        Assert.Equal(64, ip.Ttl);
        Assert.Equal(IpProtocol.Icmp, ip.Protocol);
        Assert.Equal(0x0a61, ip.HeaderChecksum);
        Assert.True(ip.IsChecksumValid);
        Assert.Equal(Ipv4Address.Parse("10.0.0.1"), ip.Source);
        Assert.Equal(Ipv4Address.Parse("10.0.0.2"), ip.Destination);
        Assert.Equal(64, ip.Payload.Length);
    }

    [Fact]
    public void Round_trips_a_captured_header_byte_for_byte()
    {
        var bytes = Ip(WireFixtures.Udp);
        Assert.True(Ipv4Repr.TryParse(bytes, out var repr, out _));
        Assert.Equal(new Ipv4Repr(Ipv4Address.Parse("10.0.0.1"), Ipv4Address.Parse("10.0.0.2"), IpProtocol.Udp, 20)
        {
            Identification = 0x0303,
            DontFragment = true,
        }, repr);
        var emitted = new byte[repr.BufferLength];
        repr.Emit(emitted);
        Assert.Equal(bytes.AsSpan(0, 20).ToArray(), emitted.AsSpan(0, 20).ToArray());
    }

    [Fact]
    public void Ends_the_datagram_at_total_length_not_at_ethernet_padding()
    {
        var padded = Ip(WireFixtures.Udp).Concat(new byte[6]).ToArray();
        Assert.True(Ipv4View.TryParse(padded, out var ip, out _));
        Assert.Equal(40, ip.Bytes.Length);
        Assert.Equal(20, ip.Payload.Length);
    }

    [Fact]
    public void Walks_options_such_as_router_alert()
    {
        Assert.True(Ipv4View.TryParse(Ip(WireFixtures.Ipv4RouterAlert), out var ip, out _));
        Assert.Equal(24, ip.HeaderLength);
        Assert.True(ip.IsChecksumValid);
        var options = ip.ReadOptions();
        Assert.True(options.TryReadNext(out var type, out var data));
        Assert.Equal(0x94, type);
        Assert.Equal(new byte[] { 0, 0 }, data.ToArray());
        Assert.False(options.TryReadNext(out _, out _));
        Assert.False(options.Malformed);
    }

    [Fact]
    public void Refuses_an_option_that_overruns_the_header()
    {
        var bytes = Ip(WireFixtures.Ipv4RouterAlert);
        bytes[21] = 8; // Router Alert claims 8 bytes in a 4-byte option area
        Assert.False(Ipv4View.TryParse(bytes, out _, out var reason));
        Assert.Equal(DropReason.BadOption, reason);
    }

    [Fact]
    public void Recognises_first_and_later_fragments()
    {
        Assert.True(Ipv4View.TryParse(Ip(WireFixtures.Ipv4FirstFragment), out var first, out _));
        Assert.True(first.IsFragment);
        Assert.True(first.MoreFragments);
        Assert.False(first.IsLaterFragment);
        Assert.Equal(0, first.FragmentOffset);

        Assert.True(Ipv4View.TryParse(Ip(WireFixtures.Ipv4LaterFragment), out var later, out _));
        Assert.True(later.IsFragment);
        Assert.False(later.MoreFragments);
        Assert.True(later.IsLaterFragment);
        Assert.Equal(1480, later.FragmentOffset);
        Assert.Equal(0x7777, later.Identification);
    }

    [Fact]
    public void Refuses_a_fragment_that_would_end_beyond_64_KiB()
    {
        var bytes = Ip(WireFixtures.Ipv4LaterFragment);
        bytes[6] = 0x1F;
        bytes[7] = 0xFF; // offset 65528 + 128 bytes
        Assert.False(Ipv4View.TryParse(bytes, out _, out var reason));
        Assert.Equal(DropReason.BadFragment, reason);
    }

    [Theory]
    [InlineData(0x65, DropReason.BadVersion)]
    [InlineData(0x44, DropReason.BadHeaderLength)]
    [InlineData(0x4F, DropReason.Truncated)]
    public void Refuses_bad_version_or_header_length(byte versionAndIhl, DropReason expected)
    {
        var bytes = Ip(WireFixtures.Udp);
        bytes[0] = versionAndIhl;
        Assert.False(Ipv4View.TryParse(bytes, out _, out var reason));
        Assert.Equal(expected, reason);
    }

    [Fact]
    public void Refuses_total_length_shorter_than_the_header_or_longer_than_the_buffer()
    {
        var bytes = Ip(WireFixtures.Udp);
        bytes[2] = 0;
        bytes[3] = 19;
        Assert.False(Ipv4View.TryParse(bytes, out _, out var reason));
        Assert.Equal(DropReason.BadLength, reason);
        bytes[3] = 41;
        Assert.False(Ipv4View.TryParse(bytes, out _, out reason));
        Assert.Equal(DropReason.Truncated, reason);
        Assert.False(Ipv4View.TryParse(bytes.AsSpan(0, 19), out _, out reason));
        Assert.Equal(DropReason.Truncated, reason);
    }

    [Fact]
    public void Repr_parse_refuses_a_bad_header_checksum_that_the_view_tolerates()
    {
        var bytes = Ip(WireFixtures.Udp);
        bytes[11] ^= 0x01;
        Assert.True(Ipv4View.TryParse(bytes, out var ip, out _));
        Assert.False(ip.IsChecksumValid);
        Assert.False(Ipv4Repr.TryParse(bytes, out _, out var reason));
        Assert.Equal(DropReason.BadChecksum, reason);
    }

    [Fact]
    public void Writer_decrements_ttl_and_keeps_the_checksum_valid()
    {
        var bytes = Ip(WireFixtures.Udp);
        var writer = new Ipv4Writer(bytes);
        Assert.True(writer.TryDecrementTtl());
        Assert.Equal(63, writer.Ttl);
        Assert.True(Ipv4View.TryParse(bytes, out var ip, out _) && ip.IsChecksumValid);
        writer.Ttl = 1;
        writer.FillChecksum();
        Assert.False(writer.TryDecrementTtl());
        Assert.Equal(1, writer.Ttl);
    }

    [Fact]
    public void Writer_rewrites_addresses_for_nat_and_keeps_the_checksum_valid()
    {
        var bytes = Ip(WireFixtures.Udp);
        var writer = new Ipv4Writer(bytes);
        writer.RewriteSource(Ipv4Address.Parse("203.0.113.7"));
        writer.RewriteDestination(Ipv4Address.Parse("198.51.100.99"));
        Assert.True(Ipv4View.TryParse(bytes, out var ip, out _));
        Assert.True(ip.IsChecksumValid);
        Assert.Equal(Ipv4Address.Parse("203.0.113.7"), ip.Source);
    }

    [Fact]
    public void Parses_a_quoted_datagram_whose_total_length_exceeds_the_quote()
    {
        var quote = Ip(WireFixtures.IcmpTimeExceeded).AsSpan(28).ToArray();
        Assert.False(Ipv4View.TryParse(quote, out _, out _));
        Assert.True(Ipv4View.TryParseQuoted(quote, out var ip, out _));
        Assert.Equal(60, ip.TotalLength);
        Assert.Equal(8, ip.Payload.Length);
    }
}
