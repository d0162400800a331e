using System.Buffers.Binary;

namespace Fabric.Actors.DataPlane.Wire;

// ICMP for IPv4 (RFC 792, https://www.rfc-editor.org/rfc/rfc792; RFC 1191 for the next-hop MTU).
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |     Type      |     Code      |          Checksum             |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                  Rest of header (by type):                    |
// |   echo:        Identifier     |       Sequence Number         |
// |   unreachable: unused         |  Next-hop MTU (code 4)        |
// |   param prob:  Pointer | unused                               |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |  Data: echo payload, or for errors the quoted datagram        |
// |  (its IP header + at least the first 8 bytes of its payload)  |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// The checksum covers the whole ICMP message.

/// <summary>Field offsets of an ICMPv4 message.</summary>
public static class Icmpv4Layout
{
    public const int Type = 0;
    public const int Code = 1;
    public const int Checksum = 2;
    public const int RestOfHeader = 4;
    public const int Identifier = 4;
    public const int SequenceNumber = 6;
    public const int Pointer = 4;
    public const int NextHopMtu = 6;
    public const int Data = 8;
    public const int HeaderLength = 8;
    /// <summary>Payload bytes of the original datagram an error must quote (RFC 792).</summary>
    public const int QuotedPayloadLength = 8;
}

/// <summary>ICMPv4 message types (IANA "ICMP Type Numbers"). Unknown values are kept.</summary>
public enum Icmpv4Type : byte
{
    EchoReply = 0,
    DestinationUnreachable = 3,
    SourceQuench = 4,
    Redirect = 5,
    EchoRequest = 8,
    RouterAdvertisement = 9,
    RouterSolicitation = 10,
    TimeExceeded = 11,
    ParameterProblem = 12,
    Timestamp = 13,
    TimestampReply = 14,
}

/// <summary>Codes of Destination Unreachable (RFC 792, RFC 1122, RFC 1812).</summary>
public enum Icmpv4UnreachableCode : byte
{
    NetUnreachable = 0,
    HostUnreachable = 1,
    ProtocolUnreachable = 2,
    PortUnreachable = 3,
    FragmentationNeeded = 4,
    SourceRouteFailed = 5,
    NetUnknown = 6,
    HostUnknown = 7,
    NetProhibited = 9,
    HostProhibited = 10,
    CommunicationProhibited = 13,
}

/// <summary>Codes of Time Exceeded (RFC 792).</summary>
public enum Icmpv4TimeExceededCode : byte
{
    TtlExceededInTransit = 0,
    FragmentReassemblyTimeExceeded = 1,
}

public static class Icmpv4Types
{
    /// <summary>True for the error messages that quote the offending datagram.</summary>
    public static bool IsError(this Icmpv4Type type) => type is Icmpv4Type.DestinationUnreachable
        or Icmpv4Type.SourceQuench or Icmpv4Type.Redirect or Icmpv4Type.TimeExceeded or Icmpv4Type.ParameterProblem;

    /// <summary>True for the query messages whose rest-of-header is identifier + sequence number.</summary>
    public static bool HasIdentifier(this Icmpv4Type type) => type is Icmpv4Type.EchoRequest or Icmpv4Type.EchoReply
        or Icmpv4Type.Timestamp or Icmpv4Type.TimestampReply;
}

/// <summary>A checked view of an ICMPv4 message (at least the 8-byte header). Checksum not verified.</summary>
public readonly ref struct Icmpv4View
{
    private readonly ReadOnlySpan<byte> _buffer;

    private Icmpv4View(ReadOnlySpan<byte> buffer) => _buffer = buffer;

    public static bool TryParse(ReadOnlySpan<byte> buffer, out Icmpv4View message, out DropReason reason)
    {
        if (buffer.Length < Icmpv4Layout.HeaderLength)
        {
            message = default;
            reason = DropReason.Truncated;
            return false;
        }
        message = new Icmpv4View(buffer);
        reason = DropReason.None;
        return true;
    }

    public Icmpv4Type Type => (Icmpv4Type)BigEndian.U8(_buffer, Icmpv4Layout.Type);
    public byte Code => BigEndian.U8(_buffer, Icmpv4Layout.Code);
    public ushort MessageChecksum => BigEndian.U16(_buffer, Icmpv4Layout.Checksum);
    /// <summary>The 4 bytes after the checksum, whatever the type makes of them.</summary>
    public uint RestOfHeader => BigEndian.U32(_buffer, Icmpv4Layout.RestOfHeader);
    /// <summary>Echo/timestamp identifier (meaningful when <see cref="Icmpv4Types.HasIdentifier"/>).</summary>
    public ushort Identifier => BigEndian.U16(_buffer, Icmpv4Layout.Identifier);
    public ushort SequenceNumber => BigEndian.U16(_buffer, Icmpv4Layout.SequenceNumber);
    /// <summary>Next-hop MTU of "fragmentation needed" (RFC 1191); 0 from older routers.</summary>
    public ushort NextHopMtu => BigEndian.U16(_buffer, Icmpv4Layout.NextHopMtu);
    /// <summary>The octet a Parameter Problem points at.</summary>
    public byte Pointer => BigEndian.U8(_buffer, Icmpv4Layout.Pointer);
    /// <summary>Echo data, or the quoted datagram of an error.</summary>
    public ReadOnlySpan<byte> Data => _buffer[Icmpv4Layout.Data..];
    public ReadOnlySpan<byte> Bytes => _buffer;

    public bool IsChecksumValid => Checksum.IsValid(_buffer);

    /// <summary>
    /// For an error message, parses the quoted datagram: its IPv4 header and what was quoted of its
    /// payload (8 bytes at least by RFC 792, more by RFC 1812 routers). False for non-errors.
    /// </summary>
    public bool TryGetQuotedDatagram(out Ipv4View quoted, out DropReason reason)
    {
        if (!Type.IsError())
        {
            quoted = default;
            reason = DropReason.BadLength;
            return false;
        }
        return Ipv4View.TryParseQuoted(Data, out quoted, out reason);
    }
}

/// <summary>
/// The value of an ICMPv4 message header. The data (echo payload or quoted datagram) is not held:
/// BufferLength counts it, and Emit expects it in place behind the header and checksums it.
/// </summary>
public readonly record struct Icmpv4Repr(Icmpv4Type Type, byte Code, uint RestOfHeader, int DataLength)
{
    public int HeaderLength => Icmpv4Layout.HeaderLength;
    public int BufferLength => Icmpv4Layout.HeaderLength + DataLength;

    public ushort Identifier => (ushort)(RestOfHeader >> 16);
    public ushort SequenceNumber => (ushort)RestOfHeader;
    public ushort NextHopMtu => (ushort)RestOfHeader;

    public static Icmpv4Repr EchoRequest(ushort identifier, ushort sequence, int dataLength) =>
        new(Icmpv4Type.EchoRequest, 0, ((uint)identifier << 16) | sequence, dataLength);

    public static Icmpv4Repr EchoReply(ushort identifier, ushort sequence, int dataLength) =>
        new(Icmpv4Type.EchoReply, 0, ((uint)identifier << 16) | sequence, dataLength);

    /// <summary>The reply that answers an echo request: same identifier, sequence and data.</summary>
    public static Icmpv4Repr EchoReplyTo(Icmpv4View request) =>
        EchoReply(request.Identifier, request.SequenceNumber, request.Data.Length);

    public static Icmpv4Repr DestinationUnreachable(Icmpv4UnreachableCode code, int quotedLength, ushort nextHopMtu = 0) =>
        new(Icmpv4Type.DestinationUnreachable, (byte)code, code == Icmpv4UnreachableCode.FragmentationNeeded ? nextHopMtu : 0u, quotedLength);

    public static Icmpv4Repr TimeExceeded(Icmpv4TimeExceededCode code, int quotedLength) =>
        new(Icmpv4Type.TimeExceeded, (byte)code, 0, quotedLength);

    /// <summary>
    /// How much of <paramref name="original"/> an error should quote: its header plus the first
    /// 8 payload bytes (RFC 792), or all of it if shorter.
    /// </summary>
    public static int QuoteLength(Ipv4View original) =>
        Math.Min(original.Bytes.Length, original.HeaderLength + Icmpv4Layout.QuotedPayloadLength);

    public static Icmpv4Repr Parse(Icmpv4View message) =>
        new(message.Type, message.Code, message.RestOfHeader, message.Data.Length);

    /// <summary>Parses and verifies the checksum over the whole message.</summary>
    public static bool TryParse(ReadOnlySpan<byte> buffer, out Icmpv4Repr repr, out DropReason reason)
    {
        repr = default;
        if (!Icmpv4View.TryParse(buffer, out var message, out reason))
        {
            return false;
        }
        if (!message.IsChecksumValid)
        {
            reason = DropReason.BadChecksum;
            return false;
        }
        repr = Parse(message);
        return true;
    }

    /// <summary>Writes the header and the checksum over header + the data already in place.</summary>
    public void Emit(Span<byte> buffer)
    {
        if (buffer.Length < BufferLength)
        {
            throw new ArgumentException("Buffer shorter than the ICMP message", nameof(buffer));
        }
        var message = buffer[..BufferLength];
        message[Icmpv4Layout.Type] = (byte)Type;
        message[Icmpv4Layout.Code] = Code;
        BinaryPrimitives.WriteUInt16BigEndian(message[Icmpv4Layout.Checksum..], 0);
        BinaryPrimitives.WriteUInt32BigEndian(message[Icmpv4Layout.RestOfHeader..], RestOfHeader);
        BinaryPrimitives.WriteUInt16BigEndian(message[Icmpv4Layout.Checksum..], Checksum.Compute(message));
    }
}

/// <summary>Sets ICMP fields in place; for NAT of echo/timestamp identifiers (RFC 3022 §4.1).</summary>
public readonly ref struct Icmpv4Writer
{
    private readonly Span<byte> _buffer;

    public Icmpv4Writer(Span<byte> buffer)
    {
        if (buffer.Length < Icmpv4Layout.HeaderLength)
        {
            throw new ArgumentException("Buffer shorter than an ICMP header", nameof(buffer));
        }
        _buffer = buffer;
    }

    public ushort Identifier => BinaryPrimitives.ReadUInt16BigEndian(_buffer[Icmpv4Layout.Identifier..]);

    public ushort MessageChecksum
    {
        get => BinaryPrimitives.ReadUInt16BigEndian(_buffer[Icmpv4Layout.Checksum..]);
        set => BinaryPrimitives.WriteUInt16BigEndian(_buffer[Icmpv4Layout.Checksum..], value);
    }

    /// <summary>Replaces the identifier, updating the checksum incrementally (RFC 1624); ICMP has no pseudo-header.</summary>
    public void RewriteIdentifier(ushort identifier)
    {
        MessageChecksum = Checksum.Update(MessageChecksum, Identifier, identifier);
        BinaryPrimitives.WriteUInt16BigEndian(_buffer[Icmpv4Layout.Identifier..], identifier);
    }
}
