using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Fabric.Actors.DataPlane.Wire;

// Ethernet II frame (IEEE 802.3 clause 3, DIX v2; https://www.rfc-editor.org/rfc/rfc894).
// The preamble, SFD and FCS never reach us: a frame starts at the destination address.
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                 Destination MAC address (6)                   |
// +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                               |                               |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
// |                   Source MAC address (6)                      |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |     EtherType / length        |  Payload ...                  |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

/// <summary>Field offsets of an Ethernet II header.</summary>
public static class EthernetLayout
{
    public const int Destination = 0;
    public const int Source = 6;
    public const int EtherType = 12;
    public const int HeaderLength = 14;
    /// <summary>Smallest frame on the wire without FCS (64 - 4); shorter frames are padded.</summary>
    public const int MinimumFrameLength = 60;
}

/// <summary>A checked, read-only view of an Ethernet II frame (see the Wire contract in DropReason.cs).</summary>
public readonly ref struct EthernetView
{
    private readonly ReadOnlySpan<byte> _buffer;

    private EthernetView(ReadOnlySpan<byte> buffer) => _buffer = buffer;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryParse(ReadOnlySpan<byte> buffer, out EthernetView frame, out DropReason reason)
    {
        if (buffer.Length < EthernetLayout.HeaderLength)
        {
            frame = default;
            reason = DropReason.Truncated;
            return false;
        }
        frame = new EthernetView(buffer);
        reason = DropReason.None;
        return true;
    }

    public MacAddress Destination => MacAddress.ReadUnchecked(_buffer, EthernetLayout.Destination);
    public MacAddress Source => MacAddress.ReadUnchecked(_buffer, EthernetLayout.Source);

    /// <summary>The EtherType; a value below 0x0600 is an 802.3 length (see <see cref="IsLengthField"/>).</summary>
    public EtherType EtherType => (EtherType)BigEndian.U16(_buffer, EthernetLayout.EtherType);

    /// <summary>True for an IEEE 802.3 frame whose type field is a length (LLC/SNAP follows).</summary>
    public bool IsLengthField => (ushort)EtherType < EtherTypes.MinimumEtherType;

    public ReadOnlySpan<byte> Payload => _buffer[EthernetLayout.HeaderLength..];
    public ReadOnlySpan<byte> Bytes => _buffer;
}

/// <summary>Sets Ethernet header fields in place.</summary>
public readonly ref struct EthernetWriter
{
    private readonly Span<byte> _buffer;

    /// <summary>Wraps <paramref name="buffer"/>; throws if it cannot hold a header (a programming error).</summary>
    public EthernetWriter(Span<byte> buffer)
    {
        if (buffer.Length < EthernetLayout.HeaderLength)
        {
            throw new ArgumentException("Buffer shorter than an Ethernet header", nameof(buffer));
        }
        _buffer = buffer;
    }

    public MacAddress Destination { set => value.WriteTo(_buffer[EthernetLayout.Destination..]); }
    public MacAddress Source { set => value.WriteTo(_buffer[EthernetLayout.Source..]); }
    public EtherType EtherType { set => BinaryPrimitives.WriteUInt16BigEndian(_buffer[EthernetLayout.EtherType..], (ushort)value); }
    public Span<byte> Payload => _buffer[EthernetLayout.HeaderLength..];
}

/// <summary>The value of an Ethernet II header (payload not included).</summary>
public readonly record struct EthernetRepr(MacAddress Source, MacAddress Destination, EtherType EtherType)
{
    public int BufferLength => EthernetLayout.HeaderLength;

    public static EthernetRepr Parse(EthernetView frame) => new(frame.Source, frame.Destination, frame.EtherType);

    public static bool TryParse(ReadOnlySpan<byte> buffer, out EthernetRepr repr, out DropReason reason)
    {
        if (!EthernetView.TryParse(buffer, out var frame, out reason))
        {
            repr = default;
            return false;
        }
        repr = Parse(frame);
        return true;
    }

    public void Emit(Span<byte> buffer)
    {
        var writer = new EthernetWriter(buffer);
        writer.Destination = Destination;
        writer.Source = Source;
        writer.EtherType = EtherType;
    }
}
