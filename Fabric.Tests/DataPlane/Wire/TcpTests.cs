using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Tests.DataPlane.Wire;

public class TcpTests
{
    private static readonly Ipv4Address Src = Ipv4Address.Parse("10.0.0.1");
    private static readonly Ipv4Address Dst = Ipv4Address.Parse("10.0.0.2");

    private static byte[] Tcp(byte[] frame) => frame.AsSpan(EthernetLayout.HeaderLength + 20).ToArray();

    [Fact]
    public void Parses_a_captured_Linux_syn_with_its_options()
    {
        Assert.True(TcpRepr.TryParse(Tcp(WireFixtures.TcpSyn), Src, Dst, out var syn, out _));
        Assert.Equal(43210, syn.SourcePort);
        Assert.Equal(80, syn.DestinationPort);
        Assert.Equal(0x12345678u, syn.SequenceNumber);
        Assert.Equal(TcpFlags.Syn, syn.Flags);
        Assert.Equal(64240, syn.WindowSize);
        Assert.Equal((ushort)1460, syn.MaxSegmentSize);
        Assert.True(syn.SackPermitted);
        Assert.Equal((123456u, 0u), syn.Timestamps);
        Assert.Equal((byte)7, syn.WindowScale);
        Assert.Equal(0, syn.PayloadLength);
    }

    [Theory]
    [InlineData(nameof(WireFixtures.TcpSyn))]
    [InlineData(nameof(WireFixtures.Tcp64))]
    public void Round_trips_captured_segments_byte_for_byte(string fixture)
    {
        var bytes = Tcp((byte[])typeof(WireFixtures).GetProperty(fixture)!.GetValue(null)!);
        Assert.True(TcpRepr.TryParse(bytes, Src, Dst, out var repr, out _));
        var emitted = new byte[repr.BufferLength];
        bytes.AsSpan(repr.HeaderLength).CopyTo(emitted.AsSpan(repr.HeaderLength));
        repr.Emit(emitted, Src, Dst);
        Assert.Equal(bytes, emitted);
    }

    [Fact]
    public void Reads_flags_data_offset_and_payload_of_the_benchmark_frame()
    {
        Assert.True(TcpView.TryParse(Tcp(WireFixtures.Tcp64), out var segment, out _));
        Assert.Equal(TcpFlags.Psh | TcpFlags.Ack, segment.Flags);
        Assert.Equal(20, segment.HeaderLength);
        Assert.Equal(0x9abcdef0u, segment.AcknowledgmentNumber);
        Assert.Equal("GET / HTTP", System.Text.Encoding.ASCII.GetString(segment.Payload));
    }

    [Theory]
    [InlineData(0x40, DropReason.BadHeaderLength)]
    [InlineData(0xF0, DropReason.Truncated)]
    public void Refuses_a_data_offset_below_five_words_or_beyond_the_buffer(byte offsetByte, DropReason expected)
    {
        var bytes = Tcp(WireFixtures.Tcp64);
        bytes[12] = offsetByte;
        Assert.False(TcpView.TryParse(bytes, out _, out var reason));
        Assert.Equal(expected, reason);
    }

    [Fact]
    public void Refuses_a_segment_shorter_than_its_header_and_a_bad_checksum()
    {
        Assert.False(TcpView.TryParse(new byte[19], out _, out var reason));
        Assert.Equal(DropReason.Truncated, reason);
        var bytes = Tcp(WireFixtures.Tcp64);
        bytes[^1] ^= 1;
        Assert.False(TcpRepr.TryParse(bytes, Src, Dst, out _, out reason));
        Assert.Equal(DropReason.BadChecksum, reason);
    }

    [Fact]
    public void Stops_safely_at_an_option_whose_length_overruns_and_keeps_the_segment()
    {
        var bytes = Tcp(WireFixtures.TcpSyn);
        bytes[20 + 4 + 1] = 30; // SACK-permitted claims 30 bytes
        Assert.True(TcpView.TryParse(bytes, out var segment, out _));
        var options = segment.ReadOptions();
        Assert.True(options.TryReadNext(out var kind, out _));
        Assert.Equal(TcpOptionKind.MaxSegmentSize, kind);
        Assert.False(options.TryReadNext(out _, out _));
        Assert.True(options.Malformed);
        Assert.Equal((ushort)1460, TcpRepr.Parse(segment).MaxSegmentSize);
    }

    [Fact]
    public void Stops_safely_at_a_zero_length_option_instead_of_looping()
    {
        var bytes = Tcp(WireFixtures.TcpSyn);
        bytes[20 + 1] = 0;
        Assert.True(TcpView.TryParse(bytes, out var segment, out _));
        var options = segment.ReadOptions();
        Assert.False(options.TryReadNext(out _, out _));
        Assert.True(options.Malformed);
    }

    [Fact]
    public void Nat_rewrites_of_ports_and_addresses_keep_the_checksum_valid()
    {
        var bytes = Tcp(WireFixtures.Tcp64);
        var writer = new TcpWriter(bytes);
        var publicAddress = Ipv4Address.Parse("198.51.100.1");
        writer.RewriteSourcePort(1025);
        writer.UpdateForAddressChange(Src, publicAddress);
        Assert.True(TcpView.TryParse(bytes, out var segment, out _));
        Assert.Equal(1025, segment.SourcePort);
        Assert.True(segment.IsChecksumValid(publicAddress, Dst));
    }
}
