using System.Buffers.Binary;

namespace Fabric.Actors.DataPlane.Wire;

// What a NIC does for a kernel with checksum and TCP segmentation offload, done in userspace
// for a TAP opened with IFF_VNET_HDR (see VirtioNet.cs):
//  - finishing a partial checksum (virtio 1.2 §5.1.6.2: "the device computes the checksum over
//    csum_start to the end and stores it at csum_start + csum_offset");
//  - cutting a TCPv4 super-frame into MSS segments (RFC 9293 §3.8.6.3 / Linux tcp_gso_segment:
//    every segment gets the headers, consecutive sequence numbers, IPv4 ids counting up, FIN and
//    PSH only on the last, CWR only on the first, full IPv4 and TCP checksums);
//  - the reverse towards a TAP (Linux tcp_gro_receive's rules): consecutive segments of one
//    connection with identical headers but sequence, length, id and checksums become one
//    super-frame that the receiving kernel takes whole (gso_type TCPV4, partial checksum).

/// <summary>Finishes a partial L4 checksum (virtio NEEDS_CSUM).</summary>
public static class ChecksumOffload
{
    /// <summary>
    /// Sums <paramref name="frame"/> from <paramref name="start"/> to its end (the checksum field
    /// holds the folded pseudo-header sum) and writes the result at <paramref name="start"/> +
    /// <paramref name="offset"/>; a result of 0 is written as 0xFFFF (RFC 768: 0 = no UDP checksum;
    /// the same value in one's complement for TCP). False when the field lies outside the frame.
    /// </summary>
    public static bool TryComplete(Span<byte> frame, int start, int offset)
    {
        if (start < 0 || offset < 0 || start + offset + 2 > frame.Length)
        {
            return false;
        }

        ushort value = Checksum.Finish(Checksum.Sum(frame[start..]));
        BinaryPrimitives.WriteUInt16BigEndian(frame[(start + offset)..], value == 0 ? (ushort)0xFFFF : value);
        return true;
    }
}

/// <summary>Where the layers of an Ethernet/IPv4/TCP frame start (VLAN tags skipped).</summary>
public readonly record struct TcpFrameLayout(int IpOffset, int IpHeaderLength, int TcpHeaderLength)
{
    public int TcpOffset => IpOffset + IpHeaderLength;

    /// <summary>Bytes of headers in front of the payload.</summary>
    public int HeadersLength => TcpOffset + TcpHeaderLength;

    /// <summary>
    /// Locates IPv4 and TCP in <paramref name="frame"/>: Ethernet (with up to two VLAN tags), an
    /// IPv4 header that is not a fragment and carries TCP, a TCP header inside the frame. The
    /// IPv4 total length is not checked against the frame (a super-frame's may be stale).
    /// </summary>
    public static bool TryLocate(ReadOnlySpan<byte> frame, out TcpFrameLayout layout)
    {
        layout = default;
        int offset = EthernetLayout.HeaderLength;
        if (frame.Length < offset)
        {
            return false;
        }

        var type = (EtherType)BinaryPrimitives.ReadUInt16BigEndian(frame[EthernetLayout.EtherType..]);
        for (int tags = 0; type.IsVlanTag() && tags < VlanLayout.MaxStackDepth; tags++)
        {
            if (frame.Length < offset + VlanLayout.TagLength)
            {
                return false;
            }

            type = (EtherType)BinaryPrimitives.ReadUInt16BigEndian(frame[(offset + VlanLayout.EtherType)..]);
            offset += VlanLayout.TagLength;
        }

        if (type != EtherType.Ipv4 || frame.Length < offset + Ipv4Layout.MinimumHeaderLength)
        {
            return false;
        }

        var ip = frame[offset..];
        int ihl = (ip[Ipv4Layout.VersionAndHeaderLength] & 0x0F) * 4;
        if (ip[Ipv4Layout.VersionAndHeaderLength] >> 4 != 4 || ihl < Ipv4Layout.MinimumHeaderLength
            || (IpProtocol)ip[Ipv4Layout.Protocol] != IpProtocol.Tcp
            || (BinaryPrimitives.ReadUInt16BigEndian(ip[Ipv4Layout.FlagsAndFragmentOffset..]) & (Ipv4Layout.FragmentOffsetMask | Ipv4Layout.MoreFragmentsFlag)) != 0
            || ip.Length < ihl + TcpLayout.MinimumHeaderLength)
        {
            return false;
        }

        int thl = (ip[ihl + TcpLayout.DataOffsetAndFlags] >> 4) * 4;
        if (thl < TcpLayout.MinimumHeaderLength || ip.Length < ihl + thl)
        {
            return false;
        }

        layout = new TcpFrameLayout(offset, ihl, thl);
        return true;
    }
}

/// <summary>
/// Cuts a TCPv4 super-frame into segments of at most <c>mss</c> payload bytes, one per
/// <see cref="TryNext"/>, each a complete frame with valid IPv4 and TCP checksums.
/// </summary>
public ref struct TcpSegmenter
{
    private readonly ReadOnlySpan<byte> _frame;
    private readonly TcpFrameLayout _layout;
    private readonly int _mss;
    private readonly ushort _firstId;
    private readonly uint _firstSequence;
    private readonly TcpFlags _flags;
    private int _payloadOffset;
    private int _index;

    private TcpSegmenter(ReadOnlySpan<byte> frame, TcpFrameLayout layout, int mss, int skip)
    {
        _frame = frame;
        _layout = layout;
        _mss = mss;
        var ip = frame[layout.IpOffset..];
        var tcp = frame[layout.TcpOffset..];
        _firstId = BinaryPrimitives.ReadUInt16BigEndian(ip[Ipv4Layout.Identification..]);
        _firstSequence = BinaryPrimitives.ReadUInt32BigEndian(tcp[TcpLayout.SequenceNumber..]);
        _flags = (TcpFlags)(BinaryPrimitives.ReadUInt16BigEndian(tcp[TcpLayout.DataOffsetAndFlags..]) & TcpLayout.FlagsMask);
        _payloadOffset = layout.HeadersLength + skip * mss;
        _index = skip;
    }

    /// <summary>Segments produced so far (counting those skipped at creation).</summary>
    public readonly int Produced => _index;

    /// <summary>Segments left to produce.</summary>
    public readonly int Remaining => _payloadOffset >= _frame.Length ? 0 : (_frame.Length - _payloadOffset + _mss - 1) / _mss;

    /// <summary>The largest segment this super-frame produces (headers + mss).</summary>
    public readonly int MaxSegmentLength => _layout.HeadersLength + _mss;

    /// <summary>
    /// False unless <paramref name="frame"/> is an Ethernet/IPv4/TCP super-frame with a payload and
    /// <paramref name="mss"/> &gt; 0. <paramref name="skip"/> resumes after that many segments.
    /// </summary>
    public static bool TryCreate(ReadOnlySpan<byte> frame, int mss, out TcpSegmenter segmenter, int skip = 0)
    {
        segmenter = default;
        if (mss <= 0 || skip < 0 || !TcpFrameLayout.TryLocate(frame, out var layout) || frame.Length <= layout.HeadersLength)
        {
            return false;
        }

        segmenter = new TcpSegmenter(frame, layout, mss, skip);
        return true;
    }

    /// <summary>Writes the next segment into <paramref name="destination"/>; false when done or it does not fit.</summary>
    public bool TryNext(Span<byte> destination, out int length)
    {
        length = 0;
        int left = _frame.Length - _payloadOffset;
        if (left <= 0)
        {
            return false;
        }

        int chunk = Math.Min(left, _mss);
        int headers = _layout.HeadersLength;
        length = headers + chunk;
        if (destination.Length < length)
        {
            length = 0;
            return false;
        }

        _frame[..headers].CopyTo(destination);
        _frame.Slice(_payloadOffset, chunk).CopyTo(destination[headers..]);
        bool last = chunk == left;
        var ip = destination.Slice(_layout.IpOffset, _layout.IpHeaderLength + _layout.TcpHeaderLength + chunk);
        BinaryPrimitives.WriteUInt16BigEndian(ip[Ipv4Layout.TotalLength..], (ushort)ip.Length);
        BinaryPrimitives.WriteUInt16BigEndian(ip[Ipv4Layout.Identification..], (ushort)(_firstId + _index));
        WriteIpv4Checksum(ip[.._layout.IpHeaderLength]);

        var tcp = ip[_layout.IpHeaderLength..];
        BinaryPrimitives.WriteUInt32BigEndian(tcp[TcpLayout.SequenceNumber..], _firstSequence + (uint)(_payloadOffset - headers));
        var flags = _flags;
        if (!last)
        {
            flags &= ~(TcpFlags.Fin | TcpFlags.Psh);
        }

        if (_index > 0)
        {
            flags &= ~TcpFlags.Cwr;
        }

        ushort offsetAndFlags = BinaryPrimitives.ReadUInt16BigEndian(tcp[TcpLayout.DataOffsetAndFlags..]);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[TcpLayout.DataOffsetAndFlags..], (ushort)((offsetAndFlags & ~TcpLayout.FlagsMask) | (ushort)flags));
        WriteTcpChecksum(ip, _layout.IpHeaderLength);

        _payloadOffset += chunk;
        _index++;
        return true;
    }

    /// <summary>Recomputes the IPv4 header checksum of <paramref name="header"/>.</summary>
    internal static void WriteIpv4Checksum(Span<byte> header)
    {
        BinaryPrimitives.WriteUInt16BigEndian(header[Ipv4Layout.Checksum..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(header[Ipv4Layout.Checksum..], Checksum.Compute(header));
    }

    /// <summary>Computes the full TCP checksum of the segment in <paramref name="ip"/> (IPv4 datagram).</summary>
    private static void WriteTcpChecksum(Span<byte> ip, int ipHeaderLength)
    {
        var tcp = ip[ipHeaderLength..];
        BinaryPrimitives.WriteUInt16BigEndian(tcp[TcpLayout.Checksum..], 0);
        uint sum = TcpCoalescer.PseudoHeaderSum(ip, tcp.Length);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[TcpLayout.Checksum..], Checksum.Finish(Checksum.Sum(tcp, sum)));
    }
}

/// <summary>
/// Decides which consecutive TCPv4 segments may travel towards a TAP as one super-frame, and
/// writes that super-frame's headers. A run starts at a segment with payload whose flags are
/// ACK (and optionally PSH, ECE); a later segment joins when its Ethernet, IPv4 (but total
/// length, id and checksum) and TCP headers (but sequence, PSH and checksum) are the same, its
/// sequence continues the run, its payload is no longer than the first's, and the run stays
/// within 64 KiB. A segment shorter than the first, or with PSH, ends the run (as Linux GRO does).
/// Every segment's TCP checksum is verified first, unless the caller knows it is right (the
/// segment was cut or finished by a port and only rewritten with incremental updates since):
/// the super-frame reaches the receiving kernel with a partial checksum, which it does not verify again.
/// </summary>
public struct TcpCoalescer
{
    /// <summary>Most payload bytes one super-frame carries (IPv4 total length limit, headers included).</summary>
    public const int MaxSuperFrameIpLength = Ipv4Layout.MaximumPacketLength;

    private TcpFrameLayout _layout;
    private int _mss;
    private uint _nextSequence;
    private int _ipLength;
    private bool _closed;

    /// <summary>Segments in the run.</summary>
    public int Segments { get; private set; }

    /// <summary>Payload bytes of each segment but the last (the super-frame's gso_size).</summary>
    public readonly int Mss => _mss;

    /// <summary>Headers in front of the payload (Ethernet, tags, IPv4, TCP).</summary>
    public readonly int HeadersLength => _layout.HeadersLength;

    /// <summary>Where the TCP header starts (the partial checksum's start).</summary>
    public readonly int TcpOffset => _layout.TcpOffset;

    /// <summary>
    /// Starts a run at <paramref name="segment"/>; false when it cannot be part of one.
    /// <paramref name="checksumKnownValid"/>: its TCP checksum is known to be right, not summed again.
    /// </summary>
    public bool TryStart(ReadOnlySpan<byte> segment, bool checksumKnownValid = false)
    {
        Segments = 0;
        if (!TcpFrameLayout.TryLocate(segment, out var layout) || !Mergeable(segment, layout, !checksumKnownValid, out int payload) || payload == 0)
        {
            return false;
        }

        _layout = layout;
        _mss = payload;
        _ipLength = layout.IpHeaderLength + layout.TcpHeaderLength + payload;
        _nextSequence = Sequence(segment, layout) + (uint)payload;
        _closed = HasPush(segment, layout);
        Segments = 1;
        return true;
    }

    /// <summary>Adds <paramref name="segment"/> to the run started at <paramref name="first"/> when it continues it (<paramref name="checksumKnownValid"/> as for <see cref="TryStart"/>).</summary>
    public bool TryAppend(ReadOnlySpan<byte> first, ReadOnlySpan<byte> segment, bool checksumKnownValid = false)
    {
        int headers = _layout.HeadersLength;
        if (_closed || Segments == 0 || segment.Length <= headers)
        {
            return false;
        }

        int payload = segment.Length - headers;
        if (payload > _mss || _ipLength + payload > MaxSuperFrameIpLength || !TcpFrameLayout.TryLocate(segment, out var layout) || layout != _layout
            || !Mergeable(segment, layout, !checksumKnownValid, out int declared) || declared != payload || Sequence(segment, layout) != _nextSequence
            || !SameHeaders(first, segment, layout))
        {
            return false;
        }

        _ipLength += payload;
        _nextSequence += (uint)payload;
        _closed = payload < _mss || HasPush(segment, layout);
        Segments++;
        return true;
    }

    /// <summary>
    /// Turns the headers of the run's first segment (copied to <paramref name="headers"/>, length
    /// <see cref="HeadersLength"/>) into the super-frame's: IPv4 total length and checksum, PSH if
    /// the last segment had it, and the TCP checksum field set to the folded pseudo-header sum
    /// (a partial checksum, as the kernel's own GSO frames carry it).
    /// </summary>
    public readonly void WriteSuperFrameHeaders(Span<byte> headers, bool push)
    {
        var ip = headers[_layout.IpOffset..];
        BinaryPrimitives.WriteUInt16BigEndian(ip[Ipv4Layout.TotalLength..], (ushort)_ipLength);
        TcpSegmenter.WriteIpv4Checksum(ip[.._layout.IpHeaderLength]);
        var tcp = ip[_layout.IpHeaderLength..];
        if (push)
        {
            tcp[TcpLayout.DataOffsetAndFlags + 1] |= (byte)TcpFlags.Psh;
        }

        uint pseudo = PseudoHeaderSum(ip, _ipLength - _layout.IpHeaderLength);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[TcpLayout.Checksum..], Checksum.Fold(pseudo));
    }

    /// <summary>The virtio-net header of the super-frame.</summary>
    public readonly VirtioNetHeader VirtioHeader() => TcpSuperFrame.VirtioHeader(_layout, (ushort)_mss);

    /// <summary>Pseudo-header sum of the IPv4 datagram <paramref name="ip"/> for a TCP length of <paramref name="tcpLength"/>.</summary>
    internal static uint PseudoHeaderSum(ReadOnlySpan<byte> ip, int tcpLength) =>
        Checksum.PseudoHeaderSum(
            new Ipv4Address(BinaryPrimitives.ReadUInt32BigEndian(ip[Ipv4Layout.Source..])),
            new Ipv4Address(BinaryPrimitives.ReadUInt32BigEndian(ip[Ipv4Layout.Destination..])),
            IpProtocol.Tcp, tcpLength);

    private static uint Sequence(ReadOnlySpan<byte> frame, TcpFrameLayout layout) =>
        BinaryPrimitives.ReadUInt32BigEndian(frame[(layout.TcpOffset + TcpLayout.SequenceNumber)..]);

    private static bool HasPush(ReadOnlySpan<byte> frame, TcpFrameLayout layout) =>
        (frame[layout.TcpOffset + TcpLayout.DataOffsetAndFlags + 1] & (byte)TcpFlags.Psh) != 0;

    /// <summary>ACK set; no SYN, FIN, RST, URG, CWR; IPv4 without options; total length = the frame's; valid TCP checksum (summed when <paramref name="verify"/>).</summary>
    private static bool Mergeable(ReadOnlySpan<byte> frame, TcpFrameLayout layout, bool verify, out int payload)
    {
        payload = 0;
        var ip = frame[layout.IpOffset..];
        int total = BinaryPrimitives.ReadUInt16BigEndian(ip[Ipv4Layout.TotalLength..]);
        if (layout.IpHeaderLength != Ipv4Layout.MinimumHeaderLength || total != ip.Length)
        {
            return false;
        }

        var flags = (TcpFlags)(BinaryPrimitives.ReadUInt16BigEndian(frame[(layout.TcpOffset + TcpLayout.DataOffsetAndFlags)..]) & TcpLayout.FlagsMask);
        const TcpFlags refused = TcpFlags.Syn | TcpFlags.Fin | TcpFlags.Rst | TcpFlags.Urg | TcpFlags.Cwr;
        if ((flags & TcpFlags.Ack) == 0 || (flags & refused) != 0)
        {
            return false;
        }

        payload = total - layout.IpHeaderLength - layout.TcpHeaderLength;
        if (payload < 0)
        {
            return false;
        }

        // The receiving kernel trusts a partial checksum: verify each segment before it joins (as GRO does).
        if (!verify)
        {
            return true;
        }

        var segment = ip[layout.IpHeaderLength..total];
        return Checksum.Fold(Checksum.Sum(segment, PseudoHeaderSum(ip, segment.Length))) == 0xFFFF;
    }

    /// <summary>Same Ethernet header and tags, IPv4 header but length/id/checksum, TCP header but sequence/PSH/checksum.</summary>
    private static bool SameHeaders(ReadOnlySpan<byte> first, ReadOnlySpan<byte> segment, TcpFrameLayout layout)
    {
        int ip = layout.IpOffset;
        int tcp = layout.TcpOffset;
        return first[..ip].SequenceEqual(segment[..ip])
            && first[ip] == segment[ip] && first[ip + 1] == segment[ip + 1] // version/IHL, DSCP/ECN
            && first.Slice(ip + Ipv4Layout.FlagsAndFragmentOffset, 4).SequenceEqual(segment.Slice(ip + Ipv4Layout.FlagsAndFragmentOffset, 4)) // flags, TTL, protocol
            && first.Slice(ip + Ipv4Layout.Source, 8).SequenceEqual(segment.Slice(ip + Ipv4Layout.Source, 8))
            && first.Slice(tcp, 4).SequenceEqual(segment.Slice(tcp, 4)) // ports
            && first.Slice(tcp + TcpLayout.AcknowledgmentNumber, 4).SequenceEqual(segment.Slice(tcp + TcpLayout.AcknowledgmentNumber, 4))
            && first[tcp + TcpLayout.DataOffsetAndFlags] == segment[tcp + TcpLayout.DataOffsetAndFlags]
            && (first[tcp + TcpLayout.DataOffsetAndFlags + 1] | (byte)TcpFlags.Psh) == (segment[tcp + TcpLayout.DataOffsetAndFlags + 1] | (byte)TcpFlags.Psh)
            && first.Slice(tcp + TcpLayout.Window, 2).SequenceEqual(segment.Slice(tcp + TcpLayout.Window, 2))
            && first.Slice(tcp + TcpLayout.UrgentPointer, layout.TcpHeaderLength - TcpLayout.UrgentPointer)
                .SequenceEqual(segment.Slice(tcp + TcpLayout.UrgentPointer, layout.TcpHeaderLength - TcpLayout.UrgentPointer)); // urgent pointer, options
    }
}

/// <summary>
/// A TCPv4 super-frame kept whole on its way between two offloading TAPs (as OVS's userspace
/// datapath with TSO keeps it): one Ethernet/IPv4/TCP frame of up to 64 KiB standing for
/// segments of <c>gsoSize</c> payload bytes, its TCP checksum partial (the field holds the folded
/// pseudo-header sum over the whole TCP length; the receiving kernel, or whoever cuts it, sums
/// the rest). A rewrite of its addresses or ports keeps the IPv4 header checksum right
/// incrementally as for any frame, then <see cref="WritePartialChecksum"/> writes the partial sum
/// again: ports are not in it, addresses are.
/// </summary>
public static class TcpSuperFrame
{
    /// <summary>
    /// False unless <paramref name="frame"/> is an untagged Ethernet/IPv4/TCP frame with a payload
    /// and <paramref name="gsoSize"/> &gt; 0; <paramref name="segments"/>: how many segments of
    /// <paramref name="gsoSize"/> payload bytes it stands for.
    /// </summary>
    public static bool TryLocate(ReadOnlySpan<byte> frame, int gsoSize, out TcpFrameLayout layout, out int segments)
    {
        segments = 0;
        if (gsoSize <= 0 || !TcpFrameLayout.TryLocate(frame, out layout) || layout.IpOffset != EthernetLayout.HeaderLength || frame.Length <= layout.HeadersLength)
        {
            layout = default;
            return false;
        }

        segments = (frame.Length - layout.HeadersLength + gsoSize - 1) / gsoSize;
        return true;
    }

    /// <summary>Length at layer 3 (IPv4 header, TCP header, payload) of its largest segment: what must fit the output MTU.</summary>
    public static int SegmentIpLength(in TcpFrameLayout layout, int gsoSize) => layout.IpHeaderLength + layout.TcpHeaderLength + gsoSize;

    /// <summary>Writes the partial checksum for the frame's current addresses and TCP length (after a rewrite).</summary>
    public static void WritePartialChecksum(Span<byte> frame, in TcpFrameLayout layout)
    {
        var ip = frame[layout.IpOffset..];
        uint pseudo = TcpCoalescer.PseudoHeaderSum(ip, frame.Length - layout.TcpOffset);
        BinaryPrimitives.WriteUInt16BigEndian(frame[(layout.TcpOffset + TcpLayout.Checksum)..], Checksum.Fold(pseudo));
    }

    /// <summary>The virtio-net header that hands the super-frame to a TAP (the kernel cuts or takes it whole).</summary>
    public static VirtioNetHeader VirtioHeader(in TcpFrameLayout layout, ushort gsoSize) => new(
        VirtioNetFlags.NeedsChecksum, VirtioNetGsoType.TcpV4, (ushort)layout.HeadersLength, gsoSize,
        (ushort)layout.TcpOffset, TcpLayout.Checksum);
}
