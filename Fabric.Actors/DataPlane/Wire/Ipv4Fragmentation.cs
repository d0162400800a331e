using System.Buffers.Binary;

namespace Fabric.Actors.DataPlane.Wire;

// IPv4 fragmentation (RFC 791 §2.3 "Fragmentation", §3.2 "An Example Fragmentation Procedure",
// https://www.rfc-editor.org/rfc/rfc791#section-3.2), as a router does it for a datagram without
// DF that is larger than the next hop's MTU:
//
//   datagram:   | header (H bytes) | payload (P bytes)                                  |
//   fragments:  | header | payload[0 .. n)      MF=1, offset = o
//               | header'| payload[n .. 2n)     MF=1, offset = o + n/8
//               | header'| payload[2n .. P)     MF = the datagram's own MF, offset = o + 2n/8
//
// Every fragment but the last carries a multiple of 8 payload bytes (the offset counts 8-byte
// units). The first fragment keeps the whole header; the later ones (header') keep only the options
// whose "copied" flag (the type's top bit) is set, padded to a 4-byte boundary with End of Option
// List. Identification, TTL, protocol and addresses are the datagram's; a datagram that is itself a
// fragment is cut relative to its own offset, and its MF is kept on its last piece (RFC 791 §3.2).
// DF is the caller's business: a datagram with DF set is never handed to the fragmenter. A link
// header given at creation (a frame's Ethernet header) is written in front of every fragment.

/// <summary>Cuts one IPv4 datagram into fragments that fit an MTU, one fragment per call, into the caller's buffer.</summary>
public ref struct Ipv4Fragmenter
{
    /// <summary>Options whose type has this bit set are copied into every fragment (RFC 791 §3.1).</summary>
    public const byte OptionCopiedFlag = 0x80;

    private readonly ReadOnlySpan<byte> _datagram;
    private readonly ReadOnlySpan<byte> _linkHeader;
    private readonly int _headerLength;
    private readonly int _laterHeaderLength;
    private readonly int _mtu;
    private readonly int _baseOffset;
    private readonly bool _lastHasMoreFragments;
    private int _offset;

    private Ipv4Fragmenter(Ipv4View datagram, int mtu, ReadOnlySpan<byte> linkHeader)
    {
        _datagram = datagram.Bytes;
        _linkHeader = linkHeader;
        _headerLength = datagram.HeaderLength;
        _laterHeaderLength = LaterHeaderLength(datagram.Options);
        _mtu = mtu;
        _baseOffset = datagram.FragmentOffset;
        _lastHasMoreFragments = datagram.MoreFragments;
        _offset = 0;
    }

    /// <summary>
    /// A fragmenter for <paramref name="datagram"/> (a checked view, DF clear) towards a link of
    /// <paramref name="mtu"/> bytes; false when the MTU cannot carry its header plus 8 bytes
    /// (RFC 791: every router takes 68-byte datagrams, so only an MTU below 68 fails), or when the
    /// datagram has no payload to cut. <paramref name="linkHeader"/> (may be empty) goes in front of each fragment.
    /// </summary>
    public static bool TryCreate(Ipv4View datagram, int mtu, out Ipv4Fragmenter fragmenter, ReadOnlySpan<byte> linkHeader = default)
    {
        if (mtu - datagram.HeaderLength < 8 || datagram.Payload.IsEmpty)
        {
            fragmenter = default;
            return false;
        }
        fragmenter = new Ipv4Fragmenter(datagram, mtu, linkHeader);
        return true;
    }

    /// <summary>How many fragments <see cref="TryWriteNext"/> writes in all.</summary>
    public readonly int Count
    {
        get
        {
            var payload = _datagram.Length - _headerLength;
            var first = PayloadPer(_headerLength);
            if (payload <= first) return 1;
            var later = PayloadPer(_laterHeaderLength);
            return 1 + (payload - first + later - 1) / later;
        }
    }

    /// <summary>
    /// Writes the next fragment (link header, IP header and payload) at the start of
    /// <paramref name="destination"/> and gives its length; false when every fragment was written.
    /// <paramref name="destination"/> must hold the link header plus <c>min(MTU, datagram length)</c> bytes.
    /// </summary>
    public bool TryWriteNext(Span<byte> destination, out int length)
    {
        if (!TryWriteFragment(destination[_linkHeader.Length..], out length)) return false;
        _linkHeader.CopyTo(destination);
        length += _linkHeader.Length;
        return true;
    }

    private bool TryWriteFragment(Span<byte> destination, out int length)
    {
        var payload = _datagram.Length - _headerLength;
        if (_offset >= payload)
        {
            length = 0;
            return false;
        }
        var first = _offset == 0;
        var headerLength = first ? _headerLength : _laterHeaderLength;
        var size = Math.Min(PayloadPer(headerLength), payload - _offset);
        var last = _offset + size >= payload;
        length = headerLength + size;
        if (destination.Length < length) throw new ArgumentException("Buffer shorter than the fragment", nameof(destination));

        if (first)
        {
            _datagram[..headerLength].CopyTo(destination);
        }
        else
        {
            _datagram[..Ipv4Layout.MinimumHeaderLength].CopyTo(destination);
            WriteCopiedOptions(_datagram[Ipv4Layout.Options.._headerLength], destination[Ipv4Layout.Options..headerLength]);
        }
        _datagram.Slice(_headerLength + _offset, size).CopyTo(destination[headerLength..]);

        var writer = new Ipv4Writer(destination);
        writer.HeaderLength = headerLength;
        writer.TotalLength = (ushort)length;
        var more = !last || _lastHasMoreFragments;
        var flags = (ushort)((BinaryPrimitives.ReadUInt16BigEndian(_datagram[Ipv4Layout.FlagsAndFragmentOffset..]) & Ipv4Layout.DontFragmentFlag)
            | (more ? Ipv4Layout.MoreFragmentsFlag : 0)
            | (((_baseOffset + _offset) / 8) & Ipv4Layout.FragmentOffsetMask));
        writer.FlagsAndFragmentOffset = flags;
        writer.FillChecksum();
        _offset += size;
        return true;
    }

    /// <summary>Payload bytes a fragment with a header of <paramref name="headerLength"/> carries: what fits, rounded down to 8.</summary>
    private readonly int PayloadPer(int headerLength) => (_mtu - headerLength) & ~7;

    /// <summary>The header length of the second and later fragments: 20 plus the copied options, padded to 4.</summary>
    private static int LaterHeaderLength(ReadOnlySpan<byte> options)
    {
        var copied = 0;
        var reader = new Ipv4OptionReader(options);
        while (reader.TryReadNext(out var type, out var data))
        {
            if ((type & OptionCopiedFlag) != 0) copied += 2 + data.Length;
        }
        return Ipv4Layout.MinimumHeaderLength + ((copied + 3) & ~3);
    }

    private static void WriteCopiedOptions(ReadOnlySpan<byte> options, Span<byte> destination)
    {
        destination.Clear(); // End of Option List pads the rest
        var at = 0;
        var reader = new Ipv4OptionReader(options);
        while (reader.TryReadNext(out var type, out var data))
        {
            if ((type & OptionCopiedFlag) == 0) continue;
            destination[at] = type;
            destination[at + 1] = (byte)(2 + data.Length);
            data.CopyTo(destination[(at + 2)..]);
            at += 2 + data.Length;
        }
    }
}
