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
