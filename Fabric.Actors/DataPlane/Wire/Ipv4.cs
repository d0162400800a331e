using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Fabric.Actors.DataPlane.Wire;

// IPv4 header (RFC 791 §3.1, https://www.rfc-editor.org/rfc/rfc791#section-3.1;
// DSCP/ECN per RFC 2474 and RFC 3168).
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |Version|  IHL  |   DSCP    |ECN|          Total Length         |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |         Identification        |0|D|M|      Fragment Offset    |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |  Time to Live |    Protocol   |         Header Checksum       |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                       Source Address                          |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                    Destination Address                        |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                    Options (IHL > 5)          |    Padding    |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

/// <summary>Field offsets and bit masks of the IPv4 header.</summary>
public static class Ipv4Layout
{
    public const int VersionAndHeaderLength = 0;
    public const int DscpAndEcn = 1;
    public const int TotalLength = 2;
    public const int Identification = 4;
    public const int FlagsAndFragmentOffset = 6;
    public const int Ttl = 8;
    public const int Protocol = 9;
    public const int Checksum = 10;
    public const int Source = 12;
    public const int Destination = 16;
    public const int Options = 20;

    public const int MinimumHeaderLength = 20;
    public const int MaximumHeaderLength = 60;
    public const int MaximumPacketLength = 65535;

    public const ushort DontFragmentFlag = 0x4000;
    public const ushort MoreFragmentsFlag = 0x2000;
    /// <summary>Fragment offset, in 8-byte units.</summary>
    public const ushort FragmentOffsetMask = 0x1FFF;

    /// <summary>Option type 0: end of option list (RFC 791).</summary>
    public const byte OptionEndOfList = 0;
    /// <summary>Option type 1: no operation, single byte padding.</summary>
    public const byte OptionNoOperation = 1;
}

/// <summary>
/// A checked view of an IPv4 datagram: version 4, IHL ≥ 5, header and total length inside the
/// buffer, fragment inside 64 KiB, options well formed. The view ends at Total Length, so
/// Ethernet padding is never mistaken for payload. The checksum is not verified (see the contract).
/// </summary>
public readonly ref struct Ipv4View
{
    private readonly ReadOnlySpan<byte> _buffer;

    private Ipv4View(ReadOnlySpan<byte> buffer) => _buffer = buffer;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryParse(ReadOnlySpan<byte> buffer, out Ipv4View packet, out DropReason reason) =>
        TryParse(buffer, quoted: false, out packet, out reason);

    /// <summary>
    /// Parses the datagram an ICMP error quotes (RFC 792: the header plus the first 8 payload
    /// bytes), whose Total Length is the original's and so longer than the bytes present.
    /// The view's payload is whatever was quoted.
    /// </summary>
    public static bool TryParseQuoted(ReadOnlySpan<byte> buffer, out Ipv4View packet, out DropReason reason) =>
        TryParse(buffer, quoted: true, out packet, out reason);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryParse(ReadOnlySpan<byte> buffer, bool quoted, out Ipv4View packet, out DropReason reason)
    {
        packet = default;
        if (buffer.Length < Ipv4Layout.MinimumHeaderLength)
        {
            reason = DropReason.Truncated;
            return false;
        }
        var versionIhl = BigEndian.U8(buffer, Ipv4Layout.VersionAndHeaderLength);
        if (versionIhl >> 4 != 4)
        {
            reason = DropReason.BadVersion;
            return false;
        }
        var headerLength = (versionIhl & 0x0F) * 4;
        if (headerLength < Ipv4Layout.MinimumHeaderLength)
        {
            reason = DropReason.BadHeaderLength;
            return false;
        }
        if (headerLength > buffer.Length)
        {
            reason = DropReason.Truncated;
            return false;
        }
        int totalLength = BigEndian.U16(buffer, Ipv4Layout.TotalLength);
        if (totalLength < headerLength)
        {
            reason = DropReason.BadLength;
            return false;
        }
        if (totalLength > buffer.Length)
        {
            if (!quoted)
            {
                reason = DropReason.Truncated;
                return false;
            }
            totalLength = buffer.Length;
        }
        var fragmentEnd = ((BigEndian.U16(buffer, Ipv4Layout.FlagsAndFragmentOffset) & Ipv4Layout.FragmentOffsetMask) * 8)
            + BigEndian.U16(buffer, Ipv4Layout.TotalLength) - headerLength;
        if (fragmentEnd > Ipv4Layout.MaximumPacketLength)
        {
            reason = DropReason.BadFragment;
            return false;
        }
        if (headerLength > Ipv4Layout.MinimumHeaderLength
            && !Ipv4OptionReader.IsWellFormed(buffer[Ipv4Layout.Options..headerLength]))
        {
            reason = DropReason.BadOption;
            return false;
        }
        packet = new Ipv4View(buffer[..totalLength]);
        reason = DropReason.None;
        return true;
    }

    public int Version => BigEndian.U8(_buffer, Ipv4Layout.VersionAndHeaderLength) >> 4;
    /// <summary>Header length in bytes (IHL × 4), 20..60.</summary>
    public int HeaderLength => (BigEndian.U8(_buffer, Ipv4Layout.VersionAndHeaderLength) & 0x0F) * 4;
    public byte Dscp => (byte)(BigEndian.U8(_buffer, Ipv4Layout.DscpAndEcn) >> 2);
    public byte Ecn => (byte)(BigEndian.U8(_buffer, Ipv4Layout.DscpAndEcn) & 0x03);
    /// <summary>Total Length as carried (for a quoted datagram, the original's length).</summary>
    public int TotalLength => BigEndian.U16(_buffer, Ipv4Layout.TotalLength);
    public ushort Identification => BigEndian.U16(_buffer, Ipv4Layout.Identification);
    public bool DontFragment => (BigEndian.U16(_buffer, Ipv4Layout.FlagsAndFragmentOffset) & Ipv4Layout.DontFragmentFlag) != 0;
    public bool MoreFragments => (BigEndian.U16(_buffer, Ipv4Layout.FlagsAndFragmentOffset) & Ipv4Layout.MoreFragmentsFlag) != 0;
    /// <summary>Fragment offset in bytes (the field × 8).</summary>
    public int FragmentOffset => (BigEndian.U16(_buffer, Ipv4Layout.FlagsAndFragmentOffset) & Ipv4Layout.FragmentOffsetMask) * 8;
    /// <summary>True for any fragment, first included (MF set or offset non-zero).</summary>
    public bool IsFragment => (BigEndian.U16(_buffer, Ipv4Layout.FlagsAndFragmentOffset) & (Ipv4Layout.MoreFragmentsFlag | Ipv4Layout.FragmentOffsetMask)) != 0;
    /// <summary>True for a fragment other than the first: it carries no L4 header.</summary>
    public bool IsLaterFragment => (BigEndian.U16(_buffer, Ipv4Layout.FlagsAndFragmentOffset) & Ipv4Layout.FragmentOffsetMask) != 0;
    public byte Ttl => BigEndian.U8(_buffer, Ipv4Layout.Ttl);
    public IpProtocol Protocol => (IpProtocol)BigEndian.U8(_buffer, Ipv4Layout.Protocol);
    public ushort HeaderChecksum => BigEndian.U16(_buffer, Ipv4Layout.Checksum);
    public Ipv4Address Source => Ipv4Address.ReadUnchecked(_buffer, Ipv4Layout.Source);
    public Ipv4Address Destination => Ipv4Address.ReadUnchecked(_buffer, Ipv4Layout.Destination);

    public ReadOnlySpan<byte> Header => _buffer[..HeaderLength];
    public ReadOnlySpan<byte> Options => _buffer[Ipv4Layout.Options..HeaderLength];
    public Ipv4OptionReader ReadOptions() => new(Options);
    public ReadOnlySpan<byte> Payload => _buffer[HeaderLength..];
    /// <summary>The datagram, header to Total Length (trailing link padding excluded).</summary>
    public ReadOnlySpan<byte> Bytes => _buffer;

    public bool IsChecksumValid => Checksum.IsValid(Header);

    /// <summary>The pseudo-header partial sum for this datagram's TCP/UDP checksum.</summary>
    public uint PseudoHeaderSum => Checksum.PseudoHeaderSum(Source, Destination, Protocol, Payload.Length);
}

/// <summary>
/// Walks IPv4 options (RFC 791 §3.1): type 0 ends the list, type 1 is one byte of padding, any
/// other option is type, length (≥ 2, counting itself), data. Stops, never throws, on a bad length.
/// </summary>
public ref struct Ipv4OptionReader
{
    private readonly ReadOnlySpan<byte> _options;
    private int _offset;

    public Ipv4OptionReader(ReadOnlySpan<byte> options)
    {
        _options = options;
        _offset = 0;
        Malformed = false;
    }

    /// <summary>True once the walk stopped at an option whose length does not fit.</summary>
    public bool Malformed { get; private set; }

    /// <summary>Reads the next option other than padding; false at the end of the list.</summary>
    public bool TryReadNext(out byte type, out ReadOnlySpan<byte> data)
    {
        data = default;
        type = 0;
        while (_offset < _options.Length)
        {
            type = _options[_offset];
            if (type == Ipv4Layout.OptionEndOfList)
            {
                _offset = _options.Length;
                return false;
            }
            if (type == Ipv4Layout.OptionNoOperation)
            {
                _offset++;
                continue;
            }
            if (_offset + 2 > _options.Length)
            {
                Malformed = true;
                _offset = _options.Length;
                return false;
            }
            int length = _options[_offset + 1];
            if (length < 2 || _offset + length > _options.Length)
            {
                Malformed = true;
                _offset = _options.Length;
                return false;
            }
            data = _options.Slice(_offset + 2, length - 2);
            _offset += length;
            return true;
        }
        return false;
    }

    public static bool IsWellFormed(ReadOnlySpan<byte> options)
    {
        var reader = new Ipv4OptionReader(options);
        while (reader.TryReadNext(out _, out _))
        {
        }
        return !reader.Malformed;
    }
}

/// <summary>Sets IPv4 header fields in place; the rewrites keep the header checksum valid (RFC 1624).</summary>
public readonly ref struct Ipv4Writer
{
    private readonly Span<byte> _buffer;

    public Ipv4Writer(Span<byte> buffer)
    {
        if (buffer.Length < Ipv4Layout.MinimumHeaderLength)
        {
            throw new ArgumentException("Buffer shorter than an IPv4 header", nameof(buffer));
        }
        _buffer = buffer;
    }

    /// <summary>Sets version 4 and IHL from a header length in bytes (a multiple of 4, 20..60).</summary>
    public int HeaderLength
    {
        get => (_buffer[Ipv4Layout.VersionAndHeaderLength] & 0x0F) * 4;
        set => _buffer[Ipv4Layout.VersionAndHeaderLength] = (byte)(0x40 | ((value / 4) & 0x0F));
    }

    public byte DscpAndEcn { get => _buffer[Ipv4Layout.DscpAndEcn]; set => _buffer[Ipv4Layout.DscpAndEcn] = value; }
    public ushort TotalLength { get => Read16(Ipv4Layout.TotalLength); set => Write16(Ipv4Layout.TotalLength, value); }
    public ushort Identification { get => Read16(Ipv4Layout.Identification); set => Write16(Ipv4Layout.Identification, value); }
    /// <summary>The raw flags and fragment offset word (DF, MF, offset in 8-byte units).</summary>
    public ushort FlagsAndFragmentOffset { get => Read16(Ipv4Layout.FlagsAndFragmentOffset); set => Write16(Ipv4Layout.FlagsAndFragmentOffset, value); }
    public byte Ttl { get => _buffer[Ipv4Layout.Ttl]; set => _buffer[Ipv4Layout.Ttl] = value; }
    public IpProtocol Protocol { get => (IpProtocol)_buffer[Ipv4Layout.Protocol]; set => _buffer[Ipv4Layout.Protocol] = (byte)value; }
    public ushort HeaderChecksum { get => Read16(Ipv4Layout.Checksum); set => Write16(Ipv4Layout.Checksum, value); }
    public Ipv4Address Source { get => Ipv4Address.Read(_buffer[Ipv4Layout.Source..]); set => value.WriteTo(_buffer[Ipv4Layout.Source..]); }
    public Ipv4Address Destination { get => Ipv4Address.Read(_buffer[Ipv4Layout.Destination..]); set => value.WriteTo(_buffer[Ipv4Layout.Destination..]); }

    /// <summary>Recomputes the header checksum over the whole header (options included).</summary>
    public void FillChecksum()
    {
        HeaderChecksum = 0;
        HeaderChecksum = Checksum.Compute(_buffer[..HeaderLength]);
    }

    /// <summary>Replaces the source address, updating the header checksum incrementally (NAT).</summary>
    public void RewriteSource(Ipv4Address address)
    {
        HeaderChecksum = Checksum.Update(HeaderChecksum, Source.ToUInt32(), address.ToUInt32());
        Source = address;
    }

    /// <summary>Replaces the destination address, updating the header checksum incrementally (NAT).</summary>
    public void RewriteDestination(Ipv4Address address)
    {
        HeaderChecksum = Checksum.Update(HeaderChecksum, Destination.ToUInt32(), address.ToUInt32());
        Destination = address;
    }

    /// <summary>
    /// Decrements TTL as a router does (RFC 1812 §5.3.1), updating the checksum incrementally.
    /// Returns false, changing nothing, when TTL is already 0 or 1 (the caller sends Time Exceeded).
    /// </summary>
    public bool TryDecrementTtl()
    {
        var ttl = Ttl;
        if (ttl <= 1)
        {
            return false;
        }
        var protocol = (byte)Protocol;
        HeaderChecksum = Checksum.Update(HeaderChecksum, (ushort)((ttl << 8) | protocol), (ushort)(((ttl - 1) << 8) | protocol));
        Ttl = (byte)(ttl - 1);
        return true;
    }

    private ushort Read16(int offset) => BinaryPrimitives.ReadUInt16BigEndian(_buffer[offset..]);
    private void Write16(int offset, ushort value) => BinaryPrimitives.WriteUInt16BigEndian(_buffer[offset..], value);
}

/// <summary>
/// The value of an IPv4 header without options (options are walked on parse, never emitted).
/// BufferLength counts the payload, which Emit expects in place behind the header.
/// </summary>
public readonly record struct Ipv4Repr(
    Ipv4Address Source,
    Ipv4Address Destination,
    IpProtocol Protocol,
    int PayloadLength,
    byte Ttl = Ipv4Repr.DefaultTtl)
{
    /// <summary>The default TTL Linux uses (net.ipv4.ip_default_ttl).</summary>
    public const byte DefaultTtl = 64;

    public byte Dscp { get; init; }
    public byte Ecn { get; init; }
    public ushort Identification { get; init; }
    public bool DontFragment { get; init; }
    public bool MoreFragments { get; init; }
    /// <summary>Fragment offset in bytes; must be a multiple of 8.</summary>
    public int FragmentOffset { get; init; }

    public int HeaderLength => Ipv4Layout.MinimumHeaderLength;
    public int BufferLength => Ipv4Layout.MinimumHeaderLength + PayloadLength;

    public static Ipv4Repr Parse(Ipv4View packet) => new(packet.Source, packet.Destination, packet.Protocol, packet.Payload.Length, packet.Ttl)
    {
        Dscp = packet.Dscp,
        Ecn = packet.Ecn,
        Identification = packet.Identification,
        DontFragment = packet.DontFragment,
        MoreFragments = packet.MoreFragments,
        FragmentOffset = packet.FragmentOffset,
    };

    /// <summary>Parses and verifies the header checksum.</summary>
    public static bool TryParse(ReadOnlySpan<byte> buffer, out Ipv4Repr repr, out DropReason reason)
    {
        repr = default;
        if (!Ipv4View.TryParse(buffer, out var packet, out reason))
        {
            return false;
        }
        if (!packet.IsChecksumValid)
        {
            reason = DropReason.BadChecksum;
            return false;
        }
        repr = Parse(packet);
        return true;
    }

    /// <summary>Writes the 20-byte header with its checksum into <paramref name="buffer"/>.</summary>
    public void Emit(Span<byte> buffer)
    {
        if (buffer.Length < Ipv4Layout.MinimumHeaderLength || BufferLength > Ipv4Layout.MaximumPacketLength)
        {
            throw new ArgumentException("Buffer shorter than an IPv4 header, or payload too long", nameof(buffer));
        }
        var writer = new Ipv4Writer(buffer)
        {
            HeaderLength = Ipv4Layout.MinimumHeaderLength,
            DscpAndEcn = (byte)((Dscp << 2) | (Ecn & 0x03)),
            TotalLength = (ushort)BufferLength,
            Identification = Identification,
            FlagsAndFragmentOffset = (ushort)((DontFragment ? Ipv4Layout.DontFragmentFlag : 0)
                | (MoreFragments ? Ipv4Layout.MoreFragmentsFlag : 0)
                | ((FragmentOffset / 8) & Ipv4Layout.FragmentOffsetMask)),
            Ttl = Ttl,
            Protocol = Protocol,
            Source = Source,
            Destination = Destination,
        };
        writer.FillChecksum();
    }
}
