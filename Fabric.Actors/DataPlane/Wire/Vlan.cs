using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Fabric.Actors.DataPlane.Wire;

// IEEE 802.1Q VLAN tag, and 802.1ad service tag ("QinQ") which has the same shape.
// (IEEE Std 802.1Q-2018 §9.6; summary: https://en.wikipedia.org/wiki/IEEE_802.1Q)
// The tag's TPID (0x8100 C-tag, 0x88A8 S-tag) sits where the EtherType was; this view starts
// right after it, at the Tag Control Information, and ends with the encapsulated EtherType.
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// | PCP |D|        VLAN ID        |  Encapsulated EtherType / TPID|
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// PCP: priority code point (802.1p). D: drop eligible indicator (DEI, formerly CFI).

/// <summary>Field offsets of a VLAN tag, counted from the Tag Control Information.</summary>
public static class VlanLayout
{
    public const int TagControl = 0;
    public const int EtherType = 2;
    public const int TagLength = 4;

    /// <summary>How many stacked tags we walk (S-tag + C-tag), as Open vSwitch does.</summary>
    public const int MaxStackDepth = 2;

    public const ushort PriorityShift = 13;
    public const ushort DropEligibleFlag = 0x1000;
}

/// <summary>A checked view of one VLAN tag (TCI + encapsulated EtherType) and what follows it.</summary>
public readonly ref struct VlanTagView
{
    private readonly ReadOnlySpan<byte> _buffer;

    private VlanTagView(ReadOnlySpan<byte> buffer) => _buffer = buffer;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryParse(ReadOnlySpan<byte> buffer, out VlanTagView tag, out DropReason reason)
    {
        if (buffer.Length < VlanLayout.TagLength)
        {
            tag = default;
            reason = DropReason.Truncated;
            return false;
        }
        tag = new VlanTagView(buffer);
        reason = DropReason.None;
        return true;
    }

    public ushort TagControl => BigEndian.U16(_buffer, VlanLayout.TagControl);
    /// <summary>Priority code point 0..7 (IEEE 802.1p).</summary>
    public byte Priority => (byte)(TagControl >> VlanLayout.PriorityShift);
    public bool DropEligible => (TagControl & VlanLayout.DropEligibleFlag) != 0;
    public VlanId VlanId => VlanId.FromTci(TagControl);
    /// <summary>The EtherType of what follows: a payload type or the TPID of an inner tag.</summary>
    public EtherType EtherType => (EtherType)BigEndian.U16(_buffer, VlanLayout.EtherType);
    public ReadOnlySpan<byte> Payload => _buffer[VlanLayout.TagLength..];
}

/// <summary>The value of one VLAN tag: TCI fields and the encapsulated EtherType.</summary>
public readonly record struct VlanTagRepr(VlanId VlanId, EtherType EtherType, byte Priority = 0, bool DropEligible = false)
{
    public int BufferLength => VlanLayout.TagLength;

    public ushort TagControl => (ushort)(((Priority & 0x7) << VlanLayout.PriorityShift)
        | (DropEligible ? VlanLayout.DropEligibleFlag : 0) | VlanId.Value);

    public static VlanTagRepr Parse(VlanTagView tag) => new(tag.VlanId, tag.EtherType, tag.Priority, tag.DropEligible);

    public static bool TryParse(ReadOnlySpan<byte> buffer, out VlanTagRepr repr, out DropReason reason)
    {
        if (!VlanTagView.TryParse(buffer, out var tag, out reason))
        {
            repr = default;
            return false;
        }
        repr = Parse(tag);
        return true;
    }

    public void Emit(Span<byte> buffer)
    {
        if (buffer.Length < VlanLayout.TagLength)
        {
            throw new ArgumentException("Buffer shorter than a VLAN tag", nameof(buffer));
        }
        BinaryPrimitives.WriteUInt16BigEndian(buffer[VlanLayout.TagControl..], TagControl);
        BinaryPrimitives.WriteUInt16BigEndian(buffer[VlanLayout.EtherType..], (ushort)EtherType);
    }
}

/// <summary>
/// An attachment circuit's VLAN (IEEE 802.1Q): frames of the port carry the tag, frames of the
/// circuit do not. Both directions copy the frame once, removing or inserting the outer tag right
/// after the source MAC (TPID 0x8100, then the TCI, then the frame's own EtherType).
/// </summary>
public static class VlanTagging
{
    /// <summary>Offset of the tag (TPID) in a tagged frame: right after the two MAC addresses.</summary>
    private const int TagOffset = EthernetLayout.EtherType;

    /// <summary>
    /// Copies <paramref name="frame"/> into <paramref name="destination"/> without its outer tag
    /// when that tag is 802.1Q with VLAN <paramref name="vlan"/>; false (nothing written) when
    /// the frame is untagged, another VLAN, truncated, or does not fit.
    /// </summary>
    public static bool TryCopyUntagged(ReadOnlySpan<byte> frame, VlanId vlan, Span<byte> destination, out int length)
    {
        length = 0;
        if (frame.Length < EthernetLayout.HeaderLength + VlanLayout.TagLength
            || (EtherType)BigEndian.U16(frame, EthernetLayout.EtherType) != EtherType.Vlan
            || !VlanTagView.TryParse(frame[EthernetLayout.HeaderLength..], out var tag, out _)
            || tag.VlanId != vlan
            || frame.Length - VlanLayout.TagLength > destination.Length)
        {
            return false;
        }

        frame[..TagOffset].CopyTo(destination);
        frame[(TagOffset + VlanLayout.TagLength)..].CopyTo(destination[TagOffset..]);
        length = frame.Length - VlanLayout.TagLength;
        return true;
    }

    /// <summary>
    /// Removes the outer 802.1Q tag of VLAN <paramref name="vlan"/> in place: the two MACs move
    /// one tag length on and <paramref name="frame"/> becomes the untagged frame that starts
    /// there (no copy of the payload). False (frame untouched) when the frame is untagged,
    /// another VLAN, or truncated.
    /// </summary>
    public static bool TryUntagInPlace(ref Span<byte> frame, VlanId vlan)
    {
        if (frame.Length < EthernetLayout.HeaderLength + VlanLayout.TagLength
            || (EtherType)BigEndian.U16(frame, EthernetLayout.EtherType) != EtherType.Vlan
            || !VlanTagView.TryParse(frame[EthernetLayout.HeaderLength..], out var tag, out _)
            || tag.VlanId != vlan)
        {
            return false;
        }

        frame[..TagOffset].CopyTo(frame[VlanLayout.TagLength..]);
        frame = frame[VlanLayout.TagLength..];
        return true;
    }

    /// <summary>Copies <paramref name="frame"/> into <paramref name="destination"/> with an 802.1Q tag for <paramref name="vlan"/> (priority 0); false when it does not fit.</summary>
    public static bool TryCopyTagged(ReadOnlySpan<byte> frame, VlanId vlan, Span<byte> destination, out int length)
    {
        length = 0;
        if (frame.Length < EthernetLayout.HeaderLength || frame.Length + VlanLayout.TagLength > destination.Length)
        {
            return false;
        }

        frame[..TagOffset].CopyTo(destination);
        BinaryPrimitives.WriteUInt16BigEndian(destination[TagOffset..], (ushort)EtherType.Vlan);
        new VlanTagRepr(vlan, (EtherType)BigEndian.U16(frame, EthernetLayout.EtherType)).Emit(destination[(TagOffset + 2)..]);
        frame[EthernetLayout.HeaderLength..].CopyTo(destination[(TagOffset + 2 + VlanLayout.TagLength)..]);
        length = frame.Length + VlanLayout.TagLength;
        return true;
    }

    /// <summary>
    /// Copies a frame whose outer tag is 802.1Q into <paramref name="destination"/> with that
    /// tag's VLAN id replaced by <paramref name="vlan"/> (priority and DEI kept): how a frame
    /// moves between two local tags without being untagged and tagged again. False (nothing
    /// written) when the frame is not 802.1Q tagged, is truncated, or does not fit.
    /// </summary>
    public static bool TryCopyRetagged(ReadOnlySpan<byte> frame, VlanId vlan, Span<byte> destination, out int length)
    {
        length = 0;
        if (frame.Length < EthernetLayout.HeaderLength + VlanLayout.TagLength
            || (EtherType)BigEndian.U16(frame, EthernetLayout.EtherType) != EtherType.Vlan
            || frame.Length > destination.Length)
        {
            return false;
        }

        frame.CopyTo(destination);
        Span<byte> tci = destination[EthernetLayout.HeaderLength..];
        ushort kept = (ushort)(BinaryPrimitives.ReadUInt16BigEndian(tci) & ~VlanId.MaxValue);
        BinaryPrimitives.WriteUInt16BigEndian(tci, (ushort)(kept | vlan.Value));
        length = frame.Length;
        return true;
    }
}
