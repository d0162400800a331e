using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;
using Fabric.Actors.DataPlane.Wire;
using PacketDotNet;

namespace Fabric.Tests.DataPlane.Wire;

/// <summary>
/// The TAP offload arithmetic (virtio-net header, partial checksums, TCP segmentation and
/// coalescing) against PacketDotNet, an implementation nobody here wrote.
/// </summary>
public class TcpOffloadTests
{
    /// <summary>An Ethernet/IPv4/TCP frame built by PacketDotNet with valid checksums.</summary>
    private static byte[] TcpFrame(int payloadLength, uint sequence, TcpFlags flags, ushort ipId = 0x1234, bool vlan = false)
    {
        var payload = new byte[payloadLength];
        new Random(payloadLength).NextBytes(payload);
        var tcp = new TcpPacket(40000, 5201)
        {
            SequenceNumber = sequence,
            AcknowledgmentNumber = 777,
            WindowSize = 512,
            Flags = (ushort)flags,
            PayloadData = payload,
        };
        var ip = new IPv4Packet(IPAddress.Parse("10.0.0.10"), IPAddress.Parse("203.0.113.80"))
        {
            Id = ipId,
            TimeToLive = 64,
            FragmentFlags = 0x2, // DF
            PayloadPacket = tcp,
        };
        tcp.UpdateTcpChecksum();
        ip.UpdateIPChecksum();
        var eth = new EthernetPacket(PhysicalAddress.Parse("02-00-00-00-00-01"), PhysicalAddress.Parse("02-00-00-00-00-02"), EthernetType.IPv4) { PayloadPacket = ip };
        var bytes = eth.Bytes;
        if (!vlan)
        {
            return bytes;
        }

        // Insert an 802.1Q tag (VLAN 42) after the MAC addresses.
        var tagged = new byte[bytes.Length + 4];
        bytes.AsSpan(0, 12).CopyTo(tagged);
        BinaryPrimitives.WriteUInt16BigEndian(tagged.AsSpan(12), 0x8100);
        BinaryPrimitives.WriteUInt16BigEndian(tagged.AsSpan(14), 42);
        bytes.AsSpan(12).CopyTo(tagged.AsSpan(16));
        return tagged;
    }

    private static (IPv4Packet Ip, TcpPacket Tcp) Parse(byte[] frame)
    {
        var eth = (EthernetPacket)Packet.ParsePacket(LinkLayers.Ethernet, frame);
        var ip = eth.Extract<IPv4Packet>();
        return (ip, ip.Extract<TcpPacket>());
    }

    [Fact]
    public void A_virtio_net_header_round_trips_in_little_endian()
    {
        var header = new VirtioNetHeader(VirtioNetFlags.NeedsChecksum, VirtioNetGsoType.TcpV4, 66, 1448, 34, 16);
        var bytes = new byte[VirtioNetHeader.BufferLength];
        header.Emit(bytes);
        Assert.Equal("01014200A80522001000", Convert.ToHexString(bytes));
        Assert.True(VirtioNetHeader.TryParse(bytes, out var parsed, out _));
        Assert.Equal(header, parsed);
        Assert.False(VirtioNetHeader.TryParse(bytes.AsSpan(0, 9), out _, out var reason));
        Assert.Equal(DropReason.Truncated, reason);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_super_frame_is_cut_into_mss_segments_that_PacketDotNet_finds_valid(bool vlan)
    {
        const int mss = 1448;
        var super = TcpFrame(10_000, sequence: 1_000_000, TcpFlags.Ack | TcpFlags.Psh | TcpFlags.Cwr, vlan: vlan);
        Assert.True(TcpSegmenter.TryCreate(super, mss, out var segmenter));
        Assert.Equal(7, segmenter.Remaining);
        var segments = new List<byte[]>();
        var room = new byte[2048];
        while (segmenter.TryNext(room, out int length))
        {
            segments.Add(room[..length]);
        }

        Assert.Equal(7, segments.Count);
        var payload = new List<byte>();
        for (int k = 0; k < segments.Count; k++)
        {
            var frame = segments[k];
            var (ip, tcp) = Parse(vlan ? Untag(frame) : frame);
            Assert.True(ip.ValidIPChecksum, $"segment {k}: IPv4 checksum");
            Assert.True(tcp.ValidTcpChecksum, $"segment {k}: TCP checksum");
            Assert.Equal((uint)(1_000_000 + k * mss), tcp.SequenceNumber);
            Assert.Equal(0x1234 + k, ip.Id);
            Assert.Equal(k == 6 ? 10_000 - 6 * mss : mss, tcp.PayloadData.Length);
            Assert.Equal(k == 6, tcp.Push);
            Assert.Equal(k == 0, tcp.CongestionWindowReduced);
            payload.AddRange(tcp.PayloadData);
        }

        Assert.Equal(Parse(vlan ? Untag(super) : super).Tcp.PayloadData, payload.ToArray());
    }

    [Fact]
    public void A_segmenter_resumes_after_the_segments_already_delivered()
    {
        var super = TcpFrame(5000, sequence: 10, TcpFlags.Ack);
        var room = new byte[2048];
        Assert.True(TcpSegmenter.TryCreate(super, 1000, out var first));
        Assert.True(first.TryNext(room, out _));
        Assert.True(first.TryNext(room, out _));
        Assert.True(TcpSegmenter.TryCreate(super, 1000, out var resumed, skip: first.Produced));
        Assert.Equal(3, resumed.Remaining);
        Assert.True(resumed.TryNext(room, out int length));
        Assert.Equal(10u + 2000, Parse(room[..length]).Tcp.SequenceNumber);
    }

    [Fact]
    public void Consecutive_segments_coalesce_into_a_super_frame_whose_partial_checksum_completes_to_a_valid_one()
    {
        var super = TcpFrame(10_000, sequence: 5, TcpFlags.Ack | TcpFlags.Psh);
        Assert.True(TcpSegmenter.TryCreate(super, 1448, out var segmenter));
        var segments = new List<byte[]>();
        var room = new byte[2048];
        while (segmenter.TryNext(room, out int length))
        {
            segments.Add(room[..length]);
        }

        var coalescer = new TcpCoalescer();
        Assert.True(coalescer.TryStart(segments[0]));
        for (int k = 1; k < segments.Count; k++)
        {
            Assert.True(coalescer.TryAppend(segments[0], segments[k]), $"segment {k} joins");
        }

        Assert.Equal(7, coalescer.Segments);
        int h = coalescer.HeadersLength;
        var rebuilt = new List<byte>(segments[0][..h]);
        foreach (var s in segments)
        {
            rebuilt.AddRange(s[h..]);
        }

        var frame = rebuilt.ToArray();
        coalescer.WriteSuperFrameHeaders(frame, push: true);
        var vnet = coalescer.VirtioHeader();
        Assert.Equal(VirtioNetGsoType.TcpV4, vnet.GsoType);
        Assert.Equal(1448, vnet.GsoSize);
        Assert.True(vnet.NeedsChecksum);

        // What the receiving kernel (or a NIC) does with the partial checksum.
        Assert.True(ChecksumOffload.TryComplete(frame, vnet.ChecksumStart, vnet.ChecksumOffset));
        var (ip, tcp) = Parse(frame);
        Assert.True(ip.ValidIPChecksum);
        Assert.True(tcp.ValidTcpChecksum);
        Assert.Equal(10_000, tcp.PayloadData.Length);
        Assert.True(tcp.Push);
        Assert.Equal(Parse(super).Tcp.PayloadData, tcp.PayloadData);
    }

    [Fact]
    public void A_super_frame_kept_whole_has_its_partial_checksum_written_again_after_NAT_and_completes_or_cuts_to_valid_checksums()
    {
        // As the kernel hands it over: the TCP checksum field holds the pseudo-header sum only.
        var super = TcpFrame(20_000, sequence: 7, TcpFlags.Ack);
        Assert.True(TcpSuperFrame.TryLocate(super, 1448, out var layout, out int segments));
        Assert.Equal(14, segments);
        Assert.Equal(20 + 20 + 1448, TcpSuperFrame.SegmentIpLength(layout, 1448));
        TcpSuperFrame.WritePartialChecksum(super, layout);
        var vnet = TcpSuperFrame.VirtioHeader(layout, 1448);
        Assert.Equal((VirtioNetGsoType.TcpV4, (ushort)54, (ushort)34, (ushort)16), (vnet.GsoType, vnet.HeaderLength, vnet.ChecksumStart, vnet.ChecksumOffset));

        // SNAT and a port change: the IPv4 checksum follows incrementally, the partial sum is written again.
        var nat = (byte[])super.Clone();
        var ip = new Ipv4Writer(nat.AsSpan(14));
        var before = ip.Source;
        ip.RewriteSource(Ipv4Address.Parse("198.51.100.11"));
        new TcpWriter(nat.AsSpan(34)).UpdateForAddressChange(before, ip.Source);
        new TcpWriter(nat.AsSpan(34)).RewriteSourcePort(61000);
        var stale = (byte[])nat.Clone();
        TcpSuperFrame.WritePartialChecksum(nat, layout);

        // Completed whole (what the receiving kernel does) ...
        var whole = (byte[])nat.Clone();
        Assert.True(ChecksumOffload.TryComplete(whole, vnet.ChecksumStart, vnet.ChecksumOffset));
        var (wip, wtcp) = Parse(whole);
        Assert.True(wip.ValidIPChecksum);
        Assert.True(wtcp.ValidTcpChecksum);
        Assert.Equal("198.51.100.11", wip.SourceAddress.ToString());
        Assert.Equal(61000, wtcp.SourcePort);
        // ... which the stale field (updated as if it were a full checksum) would not give.
        Assert.True(ChecksumOffload.TryComplete(stale, vnet.ChecksumStart, vnet.ChecksumOffset));
        Assert.False(Parse(stale).Tcp.ValidTcpChecksum);

        // ... or cut into segments, each with full checksums.
        Assert.True(TcpSegmenter.TryCreate(nat, 1448, out var segmenter));
        var room = new byte[2048];
        int cut = 0;
        while (segmenter.TryNext(room, out int length))
        {
            var (sip, stcp) = Parse(room[..length]);
            Assert.True(sip.ValidIPChecksum && stcp.ValidTcpChecksum, $"segment {cut}");
            cut++;
        }

        Assert.Equal(segments, cut);

        // Not a super-frame: no TCP payload, or a tagged frame (kept whole only untagged).
        Assert.False(TcpSuperFrame.TryLocate(TcpFrame(0, 1, TcpFlags.Ack), 1448, out _, out _));
        Assert.False(TcpSuperFrame.TryLocate(TcpFrame(5000, 1, TcpFlags.Ack, vlan: true), 1448, out _, out _));
        Assert.False(TcpSuperFrame.TryLocate(super, 0, out _, out _));
    }

    [Fact]
    public void Segments_that_do_not_continue_the_run_or_carry_a_bad_checksum_do_not_join()
    {
        var a = TcpFrame(1000, sequence: 100, TcpFlags.Ack);
        var gap = TcpFrame(1000, sequence: 1200, TcpFlags.Ack);
        var next = TcpFrame(1000, sequence: 1100, TcpFlags.Ack);
        var syn = TcpFrame(0, sequence: 1, TcpFlags.Syn);
        var corrupt = TcpFrame(1000, sequence: 1100, TcpFlags.Ack);
        corrupt[^1] ^= 0xFF;

        var c = new TcpCoalescer();
        Assert.False(c.TryStart(syn));
        Assert.True(c.TryStart(a));
        Assert.False(c.TryAppend(a, gap));
        Assert.False(c.TryAppend(a, corrupt));
        Assert.True(c.TryAppend(a, next));
        Assert.Equal(2, c.Segments);

        var shortOne = TcpFrame(500, sequence: 100, TcpFlags.Ack);
        var after = TcpFrame(500, sequence: 600, TcpFlags.Ack);
        Assert.True(c.TryStart(shortOne));
        Assert.True(c.TryAppend(shortOne, after));
        var third = TcpFrame(500, sequence: 1100, TcpFlags.Ack | TcpFlags.Psh);
        Assert.True(c.TryAppend(shortOne, third));
        Assert.False(c.TryAppend(shortOne, TcpFrame(500, sequence: 1600, TcpFlags.Ack))); // PSH closed the run
    }

    [Fact]
    public void A_segment_whose_checksum_is_known_valid_joins_without_being_summed_and_an_unmarked_one_is_summed()
    {
        // What a port marks (Packet.ChecksumsValid: it cut or finished the checksum itself) is
        // trusted: the coalescer does not sum it again. So a corrupt segment passes only when the
        // caller marks it, which is why only ports that computed the checksum may.
        var a = TcpFrame(1000, sequence: 100, TcpFlags.Ack);
        var corrupt = TcpFrame(1000, sequence: 1100, TcpFlags.Ack);
        corrupt[^1] ^= 0xFF;

        var summed = new TcpCoalescer();
        Assert.True(summed.TryStart(a));
        Assert.False(summed.TryAppend(a, corrupt));

        var trusted = new TcpCoalescer();
        Assert.True(trusted.TryStart(a, checksumKnownValid: true));
        Assert.True(trusted.TryAppend(a, corrupt, checksumKnownValid: true));
        Assert.Equal(2, trusted.Segments);
    }

    [Fact]
    public void A_partial_udp_checksum_is_completed_as_PacketDotNet_computes_it()
    {
        var udp = new UdpPacket(5000, 53) { PayloadData = "partial checksum"u8.ToArray() };
        var ip = new IPv4Packet(IPAddress.Parse("10.0.0.1"), IPAddress.Parse("10.0.0.2")) { PayloadPacket = udp, TimeToLive = 64 };
        udp.UpdateUdpChecksum();
        ip.UpdateIPChecksum();
        var eth = new EthernetPacket(PhysicalAddress.Parse("02-00-00-00-00-01"), PhysicalAddress.Parse("02-00-00-00-00-02"), EthernetType.IPv4) { PayloadPacket = ip };
        var frame = eth.Bytes;
        ushort expected = BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(34 + 6));

        // What a kernel with checksum offload hands over: the folded pseudo-header sum in the field.
        uint pseudo = Checksum.PseudoHeaderSum(Ipv4Address.Parse("10.0.0.1"), Ipv4Address.Parse("10.0.0.2"), IpProtocol.Udp, udp.Length);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(34 + 6), Checksum.Fold(pseudo));
        Assert.True(ChecksumOffload.TryComplete(frame, 34, 6));
        Assert.Equal(expected, BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(34 + 6)));
        Assert.False(ChecksumOffload.TryComplete(frame, frame.Length - 1, 6));
    }

    private static byte[] Untag(byte[] frame)
    {
        var untagged = new byte[frame.Length - 4];
        frame.AsSpan(0, 12).CopyTo(untagged);
        frame.AsSpan(16).CopyTo(untagged.AsSpan(12));
        return untagged;
    }
}
