using System.Buffers.Binary;

namespace Fabric.Actors.DataPlane.Wire;

// Geneve header (RFC 8926 §3.4, https://www.rfc-editor.org/rfc/rfc8926#section-3.4), UDP port 6081.
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |Ver|  Opt Len  |O|C|    Rsvd.  |          Protocol Type        |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |        Virtual Network Identifier (VNI)       |    Reserved   |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                    Variable-Length Options                    |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// Opt Len counts 4-byte words. O: control (OAM) packet; C: a critical option is present.
//
// Each option (§3.5):
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |          Option Class         |      Type     |R|R|R| Length  |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |              Variable-Length Option Data (Length × 4 bytes)   |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// The high bit of Type marks a critical option (the receiver must understand it or drop).

public static class GeneveLayout
{
    public const int VersionAndOptionLength = 0;
    public const int Flags = 1;
    public const int ProtocolType = 2;
    public const int Vni = 4;
    public const int Options = 8;
    public const int HeaderLength = 8;
    public const int OptionHeaderLength = 4;

    public const byte OamFlag = 0x80;
    public const byte CriticalFlag = 0x40;
    public const byte CriticalOptionTypeFlag = 0x80;
    /// <summary>Longest options area: 63 words.</summary>
    public const int MaxOptionsLength = 0x3F * 4;
}

/// <summary>
/// A checked view of a Geneve header: version 0 (else BadVersion), options inside the buffer
/// (else Truncated) and each option inside the options area (else BadOption).
/// </summary>
public readonly ref struct GeneveView
{
    private readonly ReadOnlySpan<byte> _buffer;

    private GeneveView(ReadOnlySpan<byte> buffer) => _buffer = buffer;

    public static bool TryParse(ReadOnlySpan<byte> buffer, out GeneveView header, out DropReason reason)
    {
        header = default;
        if (buffer.Length < GeneveLayout.HeaderLength)
        {
            reason = DropReason.Truncated;
            return false;
        }
        var first = BigEndian.U8(buffer, GeneveLayout.VersionAndOptionLength);
        if (first >> 6 != 0)
        {
            reason = DropReason.BadVersion;
            return false;
        }
        var optionsEnd = GeneveLayout.HeaderLength + ((first & 0x3F) * 4);
        if (optionsEnd > buffer.Length)
        {
            reason = DropReason.Truncated;
            return false;
        }
        var reader = new GeneveOptionReader(buffer[GeneveLayout.Options..optionsEnd]);
        while (reader.TryReadNext(out _))
        {
        }
        if (reader.Malformed)
        {
            reason = DropReason.BadOption;
            return false;
        }
        header = new GeneveView(buffer);
        reason = DropReason.None;
        return true;
    }

    public int Version => BigEndian.U8(_buffer, GeneveLayout.VersionAndOptionLength) >> 6;
    /// <summary>Length of the options area in bytes.</summary>
    public int OptionsLength => (BigEndian.U8(_buffer, GeneveLayout.VersionAndOptionLength) & 0x3F) * 4;
    public int HeaderLength => GeneveLayout.HeaderLength + OptionsLength;
    public bool IsOam => (BigEndian.U8(_buffer, GeneveLayout.Flags) & GeneveLayout.OamFlag) != 0;
    public bool HasCriticalOptions => (BigEndian.U8(_buffer, GeneveLayout.Flags) & GeneveLayout.CriticalFlag) != 0;
    /// <summary>What the payload is; 0x6558 (Transparent Ethernet Bridging) for an Ethernet frame.</summary>
    public EtherType ProtocolType => (EtherType)BigEndian.U16(_buffer, GeneveLayout.ProtocolType);
    public uint Vni => BigEndian.U24(_buffer, GeneveLayout.Vni);
    public ReadOnlySpan<byte> Options => _buffer[GeneveLayout.Options..HeaderLength];
    public GeneveOptionReader ReadOptions() => new(Options);
    public ReadOnlySpan<byte> Payload => _buffer[HeaderLength..];
}

/// <summary>One Geneve option: class, type (critical when the high bit is set), data.</summary>
public readonly ref struct GeneveOption
{
    public GeneveOption(ushort optionClass, byte type, ReadOnlySpan<byte> data)
    {
        Class = optionClass;
        Type = type;
        Data = data;
    }

    public ushort Class { get; }
    public byte Type { get; }
    public bool IsCritical => (Type & GeneveLayout.CriticalOptionTypeFlag) != 0;
    public ReadOnlySpan<byte> Data { get; }
}

/// <summary>Walks Geneve options; stops, never throws, at an option that overruns the area.</summary>
public ref struct GeneveOptionReader
{
    private readonly ReadOnlySpan<byte> _options;
    private int _offset;

    public GeneveOptionReader(ReadOnlySpan<byte> options)
    {
        _options = options;
        _offset = 0;
        Malformed = false;
    }

    public bool Malformed { get; private set; }

    public bool TryReadNext(out GeneveOption option)
    {
        option = default;
        if (_offset >= _options.Length)
        {
            return false;
        }
        if (_offset + GeneveLayout.OptionHeaderLength > _options.Length)
        {
            Malformed = true;
            _offset = _options.Length;
            return false;
        }
        var dataLength = (_options[_offset + 3] & 0x1F) * 4;
        var end = _offset + GeneveLayout.OptionHeaderLength + dataLength;
        if (end > _options.Length)
        {
            Malformed = true;
            _offset = _options.Length;
            return false;
        }
        option = new GeneveOption(
            BinaryPrimitives.ReadUInt16BigEndian(_options[_offset..]),
            _options[_offset + 2],
            _options[(_offset + GeneveLayout.OptionHeaderLength)..end]);
        _offset = end;
        return true;
    }
}

/// <summary>
/// The value of a Geneve fixed header. BufferLength counts the options area, which Emit expects
/// in place behind the fixed header (options are opaque TLVs built by their owner).
/// </summary>
public readonly record struct GeneveRepr(
    uint Vni,
    EtherType ProtocolType = EtherType.TransparentEthernetBridging,
    int OptionsLength = 0,
    bool Oam = false,
    bool Critical = false)
{
    public int BufferLength => GeneveLayout.HeaderLength + OptionsLength;

    public static GeneveRepr Parse(GeneveView header) =>
        new(header.Vni, header.ProtocolType, header.OptionsLength, header.IsOam, header.HasCriticalOptions);

    public static bool TryParse(ReadOnlySpan<byte> buffer, out GeneveRepr repr, out DropReason reason)
    {
        if (!GeneveView.TryParse(buffer, out var header, out reason))
        {
            repr = default;
            return false;
        }
        repr = Parse(header);
        return true;
    }

    public void Emit(Span<byte> buffer)
    {
        if (buffer.Length < BufferLength || Vni > VxlanLayout.MaxVni || OptionsLength % 4 != 0
            || (uint)OptionsLength > GeneveLayout.MaxOptionsLength)
        {
            throw new ArgumentException("Buffer too short, VNI over 24 bits, or bad options length", nameof(buffer));
        }
        buffer[GeneveLayout.VersionAndOptionLength] = (byte)(OptionsLength / 4); // version 0
        buffer[GeneveLayout.Flags] = (byte)((Oam ? GeneveLayout.OamFlag : 0) | (Critical ? GeneveLayout.CriticalFlag : 0));
        BinaryPrimitives.WriteUInt16BigEndian(buffer[GeneveLayout.ProtocolType..], (ushort)ProtocolType);
        BinaryPrimitives.WriteUInt32BigEndian(buffer[GeneveLayout.Vni..], Vni << 8);
    }
}
