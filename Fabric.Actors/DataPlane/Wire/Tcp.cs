using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Fabric.Actors.DataPlane.Wire;

// TCP header (RFC 9293 §3.1, https://www.rfc-editor.org/rfc/rfc9293#section-3.1;
// options: MSS RFC 9293 §3.2, window scale and timestamps RFC 7323, SACK-permitted RFC 2018).
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |          Source Port          |       Destination Port        |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                        Sequence Number                        |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                    Acknowledgment Number                      |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |  Data |     |N|C|E|U|A|P|R|S|F|                               |
// | Offset| Rsv |S|W|C|R|C|S|S|Y|I|            Window             |
// |       |     | |R|E|G|K|H|T|N|N|                               |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |           Checksum            |         Urgent Pointer        |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                    Options                    |    Padding    |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

/// <summary>Field offsets of a TCP header.</summary>
public static class TcpLayout
{
    public const int SourcePort = 0;
    public const int DestinationPort = 2;
    public const int SequenceNumber = 4;
    public const int AcknowledgmentNumber = 8;
    public const int DataOffsetAndFlags = 12;
    public const int Window = 14;
    public const int Checksum = 16;
    public const int UrgentPointer = 18;
    public const int Options = 20;
    public const int MinimumHeaderLength = 20;
    public const int MaximumHeaderLength = 60;
    public const ushort FlagsMask = 0x01FF;
}

/// <summary>TCP control bits (the 9 low bits of the offset/flags word).</summary>
[Flags]
public enum TcpFlags : ushort
{
    None = 0,
    Fin = 0x001,
    Syn = 0x002,
    Rst = 0x004,
    Psh = 0x008,
    Ack = 0x010,
    Urg = 0x020,
    Ece = 0x040,
    Cwr = 0x080,
    /// <summary>ECN nonce (RFC 3540, historic); kept so no bit is lost.</summary>
    Ns = 0x100,
}

/// <summary>TCP option kinds (IANA "TCP Option Kind Numbers"). Unknown kinds are kept.</summary>
public enum TcpOptionKind : byte
{
    EndOfList = 0,
    NoOperation = 1,
    MaxSegmentSize = 2,
    WindowScale = 3,
    SackPermitted = 4,
    Sack = 5,
    Timestamps = 8,
}

/// <summary>
/// A checked view of a TCP segment: 5 ≤ data offset and header inside the buffer. Options are
/// not validated here (like Linux, a bad option stops option parsing, not the segment); the
/// option reader stops safely at the first malformed one.
/// </summary>
public readonly ref struct TcpView
{
    private readonly ReadOnlySpan<byte> _buffer;

    private TcpView(ReadOnlySpan<byte> buffer) => _buffer = buffer;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryParse(ReadOnlySpan<byte> buffer, out TcpView segment, out DropReason reason)
    {
        segment = default;
        if (buffer.Length < TcpLayout.MinimumHeaderLength)
        {
            reason = DropReason.Truncated;
            return false;
        }
        var headerLength = (BigEndian.U8(buffer, TcpLayout.DataOffsetAndFlags) >> 4) * 4;
        if (headerLength < TcpLayout.MinimumHeaderLength)
        {
            reason = DropReason.BadHeaderLength;
            return false;
        }
        if (headerLength > buffer.Length)
        {
            reason = DropReason.Truncated;
            return false;
        }
        segment = new TcpView(buffer);
        reason = DropReason.None;
        return true;
    }

    public ushort SourcePort => BigEndian.U16(_buffer, TcpLayout.SourcePort);
    public ushort DestinationPort => BigEndian.U16(_buffer, TcpLayout.DestinationPort);
    public uint SequenceNumber => BigEndian.U32(_buffer, TcpLayout.SequenceNumber);
    public uint AcknowledgmentNumber => BigEndian.U32(_buffer, TcpLayout.AcknowledgmentNumber);
    /// <summary>Header length in bytes (data offset × 4), 20..60.</summary>
    public int HeaderLength => (BigEndian.U8(_buffer, TcpLayout.DataOffsetAndFlags) >> 4) * 4;
    public TcpFlags Flags => (TcpFlags)(BigEndian.U16(_buffer, TcpLayout.DataOffsetAndFlags) & TcpLayout.FlagsMask);
    public ushort WindowSize => BigEndian.U16(_buffer, TcpLayout.Window);
    public ushort SegmentChecksum => BigEndian.U16(_buffer, TcpLayout.Checksum);
    public ushort UrgentPointer => BigEndian.U16(_buffer, TcpLayout.UrgentPointer);
    public ReadOnlySpan<byte> Options => _buffer[TcpLayout.Options..HeaderLength];
    public TcpOptionReader ReadOptions() => new(Options);

    public ReadOnlySpan<byte> Payload => _buffer[HeaderLength..];
    public ReadOnlySpan<byte> Bytes => _buffer;

    /// <summary>The TCP flags of an untagged Ethernet/IPv4 frame; <see cref="TcpFlags.None"/> for anything else (or a later fragment).</summary>
    public static TcpFlags FlagsOfFrame(ReadOnlySpan<byte> frame)
    {
        if (!EthernetView.TryParse(frame, out var eth, out _) || eth.EtherType != EtherType.Ipv4
            || !Ipv4View.TryParse(eth.Payload, out var ip, out _) || ip.Protocol != IpProtocol.Tcp || ip.FragmentOffset != 0)
        {
            return TcpFlags.None;
        }

        return TryParse(ip.Payload, out var tcp, out _) ? tcp.Flags : TcpFlags.None;
    }

    public bool IsChecksumValid(Ipv4Address source, Ipv4Address destination) =>
        Checksum.Fold(Checksum.Sum(_buffer, Checksum.PseudoHeaderSum(source, destination, IpProtocol.Tcp, _buffer.Length))) == 0xFFFF;
}

/// <summary>
/// Walks TCP options: kind 0 ends the list, kind 1 is padding, any other is kind, length (≥ 2,
/// counting itself), data. Stops, never throws, at the first option whose length does not fit.
/// </summary>
public ref struct TcpOptionReader
{
    private readonly ReadOnlySpan<byte> _options;
    private int _offset;

    public TcpOptionReader(ReadOnlySpan<byte> options)
    {
        _options = options;
        _offset = 0;
        Malformed = false;
    }

    public bool Malformed { get; private set; }

    public bool TryReadNext(out TcpOptionKind kind, out ReadOnlySpan<byte> data)
    {
        data = default;
        kind = TcpOptionKind.EndOfList;
        while (_offset < _options.Length)
        {
            kind = (TcpOptionKind)_options[_offset];
            if (kind == TcpOptionKind.EndOfList)
            {
                _offset = _options.Length;
                return false;
            }
            if (kind == TcpOptionKind.NoOperation)
            {
                _offset++;
                continue;
            }
            if (_offset + 2 > _options.Length || _options[_offset + 1] < 2 || _offset + _options[_offset + 1] > _options.Length)
            {
                Malformed = true;
                _offset = _options.Length;
                return false;
            }
            int length = _options[_offset + 1];
            data = _options.Slice(_offset + 2, length - 2);
            _offset += length;
            return true;
        }
        return false;
    }
}

/// <summary>Sets TCP fields in place; the NAT rewrites keep the checksum valid (RFC 1624).</summary>
public readonly ref struct TcpWriter
{
    private readonly Span<byte> _buffer;

    public TcpWriter(Span<byte> buffer)
    {
        if (buffer.Length < TcpLayout.MinimumHeaderLength)
        {
            throw new ArgumentException("Buffer shorter than a TCP header", nameof(buffer));
        }
        _buffer = buffer;
    }

    public ushort SourcePort { get => Read16(TcpLayout.SourcePort); set => Write16(TcpLayout.SourcePort, value); }
    public ushort DestinationPort { get => Read16(TcpLayout.DestinationPort); set => Write16(TcpLayout.DestinationPort, value); }
    public uint SequenceNumber { get => BinaryPrimitives.ReadUInt32BigEndian(_buffer[TcpLayout.SequenceNumber..]); set => BinaryPrimitives.WriteUInt32BigEndian(_buffer[TcpLayout.SequenceNumber..], value); }
    public uint AcknowledgmentNumber { get => BinaryPrimitives.ReadUInt32BigEndian(_buffer[TcpLayout.AcknowledgmentNumber..]); set => BinaryPrimitives.WriteUInt32BigEndian(_buffer[TcpLayout.AcknowledgmentNumber..], value); }

    /// <summary>Header length in bytes (a multiple of 4, 20..60) and flags, in one word.</summary>
    public void SetHeaderLengthAndFlags(int headerLength, TcpFlags flags) =>
        Write16(TcpLayout.DataOffsetAndFlags, (ushort)((((headerLength / 4) & 0xF) << 12) | ((ushort)flags & TcpLayout.FlagsMask)));

    public ushort WindowSize { get => Read16(TcpLayout.Window); set => Write16(TcpLayout.Window, value); }
    public ushort SegmentChecksum { get => Read16(TcpLayout.Checksum); set => Write16(TcpLayout.Checksum, value); }
    public ushort UrgentPointer { get => Read16(TcpLayout.UrgentPointer); set => Write16(TcpLayout.UrgentPointer, value); }

    public void RewriteSourcePort(ushort port)
    {
        SegmentChecksum = Checksum.Update(SegmentChecksum, SourcePort, port);
        SourcePort = port;
    }

    public void RewriteDestinationPort(ushort port)
    {
        SegmentChecksum = Checksum.Update(SegmentChecksum, DestinationPort, port);
        DestinationPort = port;
    }

    /// <summary>Follows an IPv4 address rewrite in the pseudo-header (call it alongside Ipv4Writer.Rewrite…).</summary>
    public void UpdateForAddressChange(Ipv4Address oldAddress, Ipv4Address newAddress) =>
        SegmentChecksum = Checksum.Update(SegmentChecksum, oldAddress.ToUInt32(), newAddress.ToUInt32());

    /// <summary>Computes the checksum over pseudo-header and the first <paramref name="segmentLength"/> bytes.</summary>
    public void FillChecksum(Ipv4Address source, Ipv4Address destination, int segmentLength)
    {
        var segment = _buffer[..segmentLength];
        SegmentChecksum = 0;
        SegmentChecksum = Checksum.Finish(Checksum.Sum(segment, Checksum.PseudoHeaderSum(source, destination, IpProtocol.Tcp, segmentLength)));
    }

    private ushort Read16(int offset) => BinaryPrimitives.ReadUInt16BigEndian(_buffer[offset..]);
    private void Write16(int offset, ushort value) => BinaryPrimitives.WriteUInt16BigEndian(_buffer[offset..], value);
}

/// <summary>
/// The value of a TCP header with the options a host negotiates (MSS, window scale,
/// SACK-permitted, timestamps); other options are skipped on parse and never emitted.
/// Options are emitted in the order and padding Linux uses. BufferLength counts the payload,
/// which Emit expects in place behind the header.
/// </summary>
public readonly record struct TcpRepr(
    ushort SourcePort,
    ushort DestinationPort,
    uint SequenceNumber,
    uint AcknowledgmentNumber,
    TcpFlags Flags,
    ushort WindowSize,
    int PayloadLength)
{
    public ushort UrgentPointer { get; init; }
    public ushort? MaxSegmentSize { get; init; }
    public byte? WindowScale { get; init; }
    public bool SackPermitted { get; init; }
    /// <summary>TSval and TSecr of the timestamps option (RFC 7323 §3).</summary>
    public (uint Value, uint EchoReply)? Timestamps { get; init; }

    public int HeaderLength => TcpLayout.MinimumHeaderLength
        + (MaxSegmentSize.HasValue ? 4 : 0)
        + (Timestamps.HasValue ? 12 : SackPermitted ? 4 : 0)
        + (WindowScale.HasValue ? 4 : 0);

    public int BufferLength => HeaderLength + PayloadLength;

    public static TcpRepr Parse(TcpView segment)
    {
        ushort? mss = null;
        byte? windowScale = null;
        var sackPermitted = false;
        (uint, uint)? timestamps = null;
        var options = segment.ReadOptions();
        while (options.TryReadNext(out var kind, out var data))
        {
            switch (kind)
            {
                case TcpOptionKind.MaxSegmentSize when data.Length == 2:
                    mss = BinaryPrimitives.ReadUInt16BigEndian(data);
                    break;
                case TcpOptionKind.WindowScale when data.Length == 1:
                    windowScale = data[0];
                    break;
                case TcpOptionKind.SackPermitted when data.Length == 0:
                    sackPermitted = true;
                    break;
                case TcpOptionKind.Timestamps when data.Length == 8:
                    timestamps = (BinaryPrimitives.ReadUInt32BigEndian(data), BinaryPrimitives.ReadUInt32BigEndian(data[4..]));
                    break;
            }
        }
        return new TcpRepr(segment.SourcePort, segment.DestinationPort, segment.SequenceNumber, segment.AcknowledgmentNumber,
            segment.Flags, segment.WindowSize, segment.Payload.Length)
        {
            UrgentPointer = segment.UrgentPointer,
            MaxSegmentSize = mss,
            WindowScale = windowScale,
            SackPermitted = sackPermitted,
            Timestamps = timestamps,
        };
    }

    /// <summary>Parses and verifies the checksum against the IPv4 pseudo-header.</summary>
    public static bool TryParse(ReadOnlySpan<byte> buffer, Ipv4Address source, Ipv4Address destination, out TcpRepr repr, out DropReason reason)
    {
        repr = default;
        if (!TcpView.TryParse(buffer, out var segment, out reason))
        {
            return false;
        }
        if (!segment.IsChecksumValid(source, destination))
        {
            reason = DropReason.BadChecksum;
            return false;
        }
        repr = Parse(segment);
        return true;
    }

    /// <summary>Writes header and options, then the checksum over pseudo-header, header and in-place payload.</summary>
    public void Emit(Span<byte> buffer, Ipv4Address source, Ipv4Address destination)
    {
        if (buffer.Length < BufferLength)
        {
            throw new ArgumentException("Buffer shorter than the TCP segment", nameof(buffer));
        }
        var headerLength = HeaderLength;
        var writer = new TcpWriter(buffer)
        {
            SourcePort = SourcePort,
            DestinationPort = DestinationPort,
            SequenceNumber = SequenceNumber,
            AcknowledgmentNumber = AcknowledgmentNumber,
            WindowSize = WindowSize,
            UrgentPointer = UrgentPointer,
        };
        writer.SetHeaderLengthAndFlags(headerLength, Flags);
        var o = buffer[TcpLayout.Options..headerLength];
        var at = 0;
        if (MaxSegmentSize is { } mss)
        {
            o[at++] = (byte)TcpOptionKind.MaxSegmentSize;
            o[at++] = 4;
            BinaryPrimitives.WriteUInt16BigEndian(o[at..], mss);
            at += 2;
        }
        if (Timestamps is { } ts)
        {
            if (SackPermitted)
            {
                o[at++] = (byte)TcpOptionKind.SackPermitted;
                o[at++] = 2;
            }
            else
            {
                o[at++] = (byte)TcpOptionKind.NoOperation;
                o[at++] = (byte)TcpOptionKind.NoOperation;
            }
            o[at++] = (byte)TcpOptionKind.Timestamps;
            o[at++] = 10;
            BinaryPrimitives.WriteUInt32BigEndian(o[at..], ts.Value);
            BinaryPrimitives.WriteUInt32BigEndian(o[(at + 4)..], ts.EchoReply);
            at += 8;
        }
        else if (SackPermitted)
        {
            o[at++] = (byte)TcpOptionKind.NoOperation;
            o[at++] = (byte)TcpOptionKind.NoOperation;
            o[at++] = (byte)TcpOptionKind.SackPermitted;
            o[at++] = 2;
        }
        if (WindowScale is { } ws)
        {
            o[at++] = (byte)TcpOptionKind.NoOperation;
            o[at++] = (byte)TcpOptionKind.WindowScale;
            o[at++] = 3;
            o[at++] = ws;
        }
        writer.FillChecksum(source, destination, BufferLength);
    }
}
