using Fabric.Actors.DataPlane.Flow;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Tests.DataPlane.Wire;

public class NatRewriteTests
{
    private static readonly Ipv4Address Public = Ipv4Address.Parse("198.51.100.7");

    private static byte[] Ip(byte[] frame) => frame.AsSpan(14).ToArray();

    [Fact]
    public void Source_nat_of_a_tcp_segment_keeps_both_checksums_valid()
    {
        var datagram = Ip(WireFixtures.Tcp64);
        Assert.True(NatRewrite.TryRewriteSource(datagram, Public, 61000, out _));
        Assert.True(Ipv4Repr.TryParse(datagram, out var ip, out _));
        Assert.Equal(Public, ip.Source);
        Assert.True(TcpRepr.TryParse(datagram.AsSpan(20), ip.Source, ip.Destination, out var tcp, out _));
        Assert.Equal(61000, tcp.SourcePort);
    }

    [Fact]
    public void Destination_nat_of_a_udp_datagram_keeps_both_checksums_valid()
    {
        var datagram = Ip(WireFixtures.Udp);
        Assert.True(NatRewrite.TryRewriteDestination(datagram, Public, 53, out _));
        Assert.True(Ipv4Repr.TryParse(datagram, out var ip, out _));
        Assert.True(UdpRepr.TryParse(datagram.AsSpan(20), ip.Source, ip.Destination, out var udp, out _));
        Assert.Equal((Public, (ushort)53), (ip.Destination, udp.DestinationPort));
    }

    [Fact]
    public void Nat_of_an_echo_request_rewrites_the_identifier_and_keeps_the_icmp_checksum_valid()
    {
        var datagram = Ip(WireFixtures.IcmpEchoRequest);
        Assert.True(NatRewrite.TryRewriteSource(datagram, Public, 0x4242, out _));
        Assert.True(Ipv4Repr.TryParse(datagram, out var ip, out _));
        Assert.Equal(Public, ip.Source);
        Assert.True(Icmpv4Repr.TryParse(datagram.AsSpan(20), out var icmp, out _));
        Assert.Equal(0x4242, icmp.Identifier);
    }

    [Fact]
    public void Nat_matches_a_full_recomputation_over_random_frames()
    {
        var generator = new FrameGenerator(seed: 1624);
        for (var n = 0; n < 2000; n++)
        {
            var kind = (n % 3) switch { 0 => FrameGenerator.Kind.Tcp, 1 => FrameGenerator.Kind.Udp, _ => FrameGenerator.Kind.IcmpEcho };
            var frame = generator.Frame(kind);
            Assert.True(FlowKeyExtractor.TryExtract(frame, 0, 0, out var key, out _));
            var l3 = 14 + (key.Flags.HasFlag(FlowKeyFlags.QinQ) ? 8 : key.Flags.HasFlag(FlowKeyFlags.Vlan) ? 4 : 0);
            var datagram = frame.AsSpan(l3).ToArray();
            var address = generator.Ip();
            var port = generator.Port();
            Assert.True(n % 2 == 0
                ? NatRewrite.TryRewriteSource(datagram, address, port, out _)
                : NatRewrite.TryRewriteDestination(datagram, address, port, out _));
            Assert.True(Ipv4Repr.TryParse(datagram, out var ip, out var reason), reason.ToString());
            var l4 = datagram.AsSpan(20);
            Assert.True(kind switch
            {
                FrameGenerator.Kind.Tcp => TcpRepr.TryParse(l4, ip.Source, ip.Destination, out _, out reason),
                FrameGenerator.Kind.Udp => UdpRepr.TryParse(l4, ip.Source, ip.Destination, out _, out reason),
                _ => Icmpv4Repr.TryParse(l4, out _, out reason),
            }, $"{kind} {n} {reason}");
        }
    }

    [Fact]
    public void Nat_of_a_later_fragment_changes_only_the_address()
    {
        var datagram = Ip(WireFixtures.Ipv4LaterFragment);
        var payloadBefore = datagram.AsSpan(20).ToArray();
        Assert.True(NatRewrite.TryRewriteSource(datagram, Public, 1, out _));
        Assert.True(Ipv4Repr.TryParse(datagram, out var ip, out _));
        Assert.Equal(Public, ip.Source);
        Assert.Equal(payloadBefore, datagram.AsSpan(20).ToArray());
    }

    [Fact]
    public void Refuses_a_truncated_tcp_header_and_leaves_the_datagram_untouched()
    {
        var datagram = Ip(WireFixtures.Tcp64);
        datagram[2] = 0;
        datagram[3] = 30; // total length 30: only 10 bytes of TCP
        new Ipv4Writer(datagram).FillChecksum();
        var before = datagram.ToArray();
        Assert.False(NatRewrite.TryRewriteSource(datagram, Public, 1, out var reason));
        Assert.Equal(DropReason.Truncated, reason);
        Assert.Equal(before, datagram);
    }
}
