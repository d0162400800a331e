using System.Buffers.Binary;

namespace Fabric.Actors.DataPlane.Wire;

// Pseudowire MPLS control word and PW associated channel header
// (RFC 4385 §3 and §5, https://www.rfc-editor.org/rfc/rfc4385; channel types RFC 5085, RFC 5885).
// The first nibble tells them apart (and both apart from IPv4/IPv6, nibble 4/6, for ECMP hashing).
//
// Control word, first nibble 0000:
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |0 0 0 0| Flags |FRG|  Length   |        Sequence Number        |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// (For Ethernet PWs, RFC 4448 §4.6, Flags/FRG/Length are reserved: sent 0, ignored.)
//
// Associated channel header, first nibble 0001:
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |0 0 0 1|Version|   Reserved    |         Channel Type          |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

/// <summary>Offsets and bit fields of the control word and associated channel header.</summary>
public static class PwControlWordLayout
{
    public const int Length = 4;
    public const int SequenceNumber = 2;
    public const int ChannelType = 2;

    public const byte DataNibble = 0x0;
    public const byte AssociatedChannelNibble = 0x1;
}

public enum PwControlWordKind : byte
{
    /// <summary>First nibble 0000: a data packet's control word.</summary>
    Data = 0,
    /// <summary>First nibble 0001: a PW associated channel header (VCCV, BFD, ...).</summary>
    AssociatedChannel = 1,
}

/// <summary>PW associated channel types (IANA "Pseudowire Associated Channel Types"). Unknown values are kept.</summary>
public enum PwChannelType : ushort
{
    /// <summary>BFD control, PW-ACH encapsulated, without IP/UDP (RFC 5885).</summary>
    Bfd = 0x0007,
    /// <summary>IPv4 packet, VCCV (RFC 5085).</summary>
    Ipv4 = 0x0021,
    /// <summary>IPv6 packet, VCCV (RFC 5085).</summary>
    Ipv6 = 0x0057,
}

/// <summary>
/// A checked view of a control word or associated channel header: 4 bytes present, first nibble
/// 0 or 1 (else <see cref="DropReason.BadControlWord"/>), ACH version 0 (else BadVersion).
/// </summary>
public readonly ref struct PwControlWordView
{
    private readonly ReadOnlySpan<byte> _buffer;

    private PwControlWordView(ReadOnlySpan<byte> buffer) => _buffer = buffer;

    public static bool TryParse(ReadOnlySpan<byte> buffer, out PwControlWordView word, out DropReason reason)
    {
        word = default;
        if (buffer.Length < PwControlWordLayout.Length)
        {
            reason = DropReason.Truncated;
            return false;
        }
        var first = BigEndian.U8(buffer, 0);
        switch (first >> 4)
        {
            case PwControlWordLayout.DataNibble:
                break;
            case PwControlWordLayout.AssociatedChannelNibble when (first & 0x0F) != 0:
                reason = DropReason.BadVersion;
                return false;
            case PwControlWordLayout.AssociatedChannelNibble:
                break;
            default:
                reason = DropReason.BadControlWord;
                return false;
        }
        word = new PwControlWordView(buffer);
        reason = DropReason.None;
        return true;
    }

    public PwControlWordKind Kind => (PwControlWordKind)(BigEndian.U8(_buffer, 0) >> 4);
    public bool IsAssociatedChannel => Kind == PwControlWordKind.AssociatedChannel;

    /// <summary>Data: the 4 flag bits (RFC 4385 §3).</summary>
    public byte Flags => (byte)(BigEndian.U8(_buffer, 0) & 0x0F);
    /// <summary>Data: fragmentation bits (RFC 4623).</summary>
    public byte Fragmentation => (byte)(BigEndian.U8(_buffer, 1) >> 6);
    /// <summary>Data: payload length when the packet was padded to the link minimum, else 0.</summary>
    public byte Length => (byte)(BigEndian.U8(_buffer, 1) & 0x3F);
    /// <summary>Data: sequence number; 0 means the sender does not sequence (RFC 4385 §4).</summary>
    public ushort SequenceNumber => BigEndian.U16(_buffer, PwControlWordLayout.SequenceNumber);

    /// <summary>Associated channel: the channel version (always 0 once parsed).</summary>
    public byte ChannelVersion => (byte)(BigEndian.U8(_buffer, 0) & 0x0F);
    /// <summary>Associated channel: what the channel carries.</summary>
    public PwChannelType ChannelType => (PwChannelType)BigEndian.U16(_buffer, PwControlWordLayout.ChannelType);

    public ReadOnlySpan<byte> Payload => _buffer[PwControlWordLayout.Length..];
}

/// <summary>The value of a control word (Kind Data) or associated channel header (Kind AssociatedChannel).</summary>
public readonly record struct PwControlWordRepr(
    PwControlWordKind Kind,
    ushort SequenceNumber = 0,
    PwChannelType ChannelType = 0,
    byte Flags = 0,
    byte Fragmentation = 0,
    byte Length = 0)
{
    public int BufferLength => PwControlWordLayout.Length;

    public static PwControlWordRepr Data(ushort sequenceNumber) => new(PwControlWordKind.Data, sequenceNumber);
    public static PwControlWordRepr AssociatedChannel(PwChannelType type) => new(PwControlWordKind.AssociatedChannel, ChannelType: type);

    public static PwControlWordRepr Parse(PwControlWordView word) => word.IsAssociatedChannel
        ? AssociatedChannel(word.ChannelType)
        : new(PwControlWordKind.Data, word.SequenceNumber, 0, word.Flags, word.Fragmentation, word.Length);

    public static bool TryParse(ReadOnlySpan<byte> buffer, out PwControlWordRepr repr, out DropReason reason)
    {
        if (!PwControlWordView.TryParse(buffer, out var word, out reason))
        {
            repr = default;
            return false;
        }
        repr = Parse(word);
        return true;
    }

    public void Emit(Span<byte> buffer)
    {
        if (buffer.Length < PwControlWordLayout.Length || Kind > PwControlWordKind.AssociatedChannel)
        {
            throw new ArgumentException("Buffer shorter than a control word, or unknown kind", nameof(buffer));
        }
        if (Kind == PwControlWordKind.AssociatedChannel)
        {
            buffer[0] = PwControlWordLayout.AssociatedChannelNibble << 4; // version 0
            buffer[1] = 0;
            BinaryPrimitives.WriteUInt16BigEndian(buffer[PwControlWordLayout.ChannelType..], (ushort)ChannelType);
            return;
        }
        buffer[0] = (byte)(Flags & 0x0F);
        buffer[1] = (byte)(((Fragmentation & 0x3) << 6) | (Length & 0x3F));
        BinaryPrimitives.WriteUInt16BigEndian(buffer[PwControlWordLayout.SequenceNumber..], SequenceNumber);
    }
}

/// <summary>Control word sequence numbers (RFC 4385 §4.1): 1..65535, wrapping to 1; 0 means "not sequenced".</summary>
public static class PwSequence
{
    public static ushort Next(ushort current) => current == ushort.MaxValue ? (ushort)1 : (ushort)(current + 1);
}
