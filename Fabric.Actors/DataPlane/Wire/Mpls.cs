using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Fabric.Actors.DataPlane.Wire;

// MPLS label stack entry (RFC 3032 §2.1, https://www.rfc-editor.org/rfc/rfc3032#section-2.1;
// "EXP" renamed Traffic Class by RFC 5462).
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                Label                  | TC  |S|       TTL     |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// Entries repeat until one has S (bottom of stack) set. Nothing in the stack says what the
// payload is: the label's binding does (a PW carries a control word + Ethernet, RFC 4448).

/// <summary>Layout of a label stack entry and the walk's bound.</summary>
public static class MplsLayout
{
    public const int EntryLength = 4;
    /// <summary>
    /// Most entries we walk looking for bottom-of-stack. Real stacks are 1..5 deep (tunnel,
    /// service, entropy/flow labels); a deeper one is refused rather than walked unboundedly.
    /// </summary>
    public const int MaxStackDepth = 8;

    public const int LabelShift = 12;
    public const int TrafficClassShift = 9;
    public const uint BottomOfStackFlag = 0x100;
}

/// <summary>One label stack entry: label, traffic class, bottom-of-stack bit, TTL.</summary>
public readonly record struct MplsLabelStackEntry(MplsLabel Label, byte TrafficClass, bool BottomOfStack, byte Ttl)
{
    public int BufferLength => MplsLayout.EntryLength;

    /// <summary>The 32-bit entry as sent.</summary>
    public uint Encoded => (Label.Value << MplsLayout.LabelShift)
        | ((uint)(TrafficClass & 0x7) << MplsLayout.TrafficClassShift)
        | (BottomOfStack ? MplsLayout.BottomOfStackFlag : 0)
        | Ttl;

    public static MplsLabelStackEntry FromEncoded(uint entry) => new(
        MplsLabel.FromEntry(entry),
        (byte)((entry >> MplsLayout.TrafficClassShift) & 0x7),
        (entry & MplsLayout.BottomOfStackFlag) != 0,
        (byte)entry);

    public void Emit(Span<byte> buffer) => BinaryPrimitives.WriteUInt32BigEndian(buffer, Encoded);

    /// <summary>
    /// Writes <paramref name="entries"/> top first, setting bottom-of-stack on the last one and
    /// clearing it on the others whatever the entries say. Returns the bytes written.
    /// </summary>
    public static int EmitStack(Span<byte> buffer, ReadOnlySpan<MplsLabelStackEntry> entries)
    {
        if (entries.Length == 0 || entries.Length > MplsLayout.MaxStackDepth || buffer.Length < entries.Length * MplsLayout.EntryLength)
        {
            throw new ArgumentException("Need 1..8 entries and room for them", nameof(entries));
        }
        for (var i = 0; i < entries.Length; i++)
        {
            (entries[i] with { BottomOfStack = i == entries.Length - 1 }).Emit(buffer[(i * MplsLayout.EntryLength)..]);
        }
        return entries.Length * MplsLayout.EntryLength;
    }
}

/// <summary>
/// A checked view of an MPLS label stack: 1..<see cref="MplsLayout.MaxStackDepth"/> entries,
/// the last with bottom-of-stack set, and the payload after it.
/// </summary>
public readonly ref struct MplsLabelStackView
{
    private readonly ReadOnlySpan<byte> _buffer;

    private MplsLabelStackView(ReadOnlySpan<byte> buffer, int depth)
    {
        _buffer = buffer;
        Depth = depth;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryParse(ReadOnlySpan<byte> buffer, out MplsLabelStackView stack, out DropReason reason)
    {
        stack = default;
        for (var depth = 1; depth <= MplsLayout.MaxStackDepth; depth++)
        {
            var end = depth * MplsLayout.EntryLength;
            if (end > buffer.Length)
            {
                reason = DropReason.Truncated;
                return false;
            }
            if ((BigEndian.U32(buffer, end - MplsLayout.EntryLength) & MplsLayout.BottomOfStackFlag) != 0)
            {
                stack = new MplsLabelStackView(buffer, depth);
                reason = DropReason.None;
                return true;
            }
        }
        reason = DropReason.LabelStackTooDeep;
        return false;
    }

    /// <summary>Number of entries, 1..8.</summary>
    public int Depth { get; }
    public int HeaderLength => Depth * MplsLayout.EntryLength;

    /// <summary>Entry <paramref name="index"/>, 0 = top. Throws only for an index outside 0..Depth-1.</summary>
    public MplsLabelStackEntry this[int index] => (uint)index < (uint)Depth
        ? MplsLabelStackEntry.FromEncoded(BigEndian.U32(_buffer, index * MplsLayout.EntryLength))
        : throw new ArgumentOutOfRangeException(nameof(index));

    public MplsLabelStackEntry Top => MplsLabelStackEntry.FromEncoded(BigEndian.U32(_buffer, 0));
    public MplsLabelStackEntry Bottom => MplsLabelStackEntry.FromEncoded(BigEndian.U32(_buffer, HeaderLength - MplsLayout.EntryLength));
    public ReadOnlySpan<byte> Payload => _buffer[HeaderLength..];
    public ReadOnlySpan<byte> Bytes => _buffer;
}
