using System.Diagnostics;

namespace Fabric.Actors.DataPlane.Io;

/// <summary>
/// Up to <see cref="Capacity"/> frames in ONE contiguous buffer of fixed-size slots, plus one
/// <see cref="Packet"/> of metadata per frame. Frame <c>i</c> lives in slot <c>i</c>
/// (<c>[i * SlotSize, (i + 1) * SlotSize)</c>), starting <see cref="Headroom"/> bytes in, so
/// headers can be pushed in front of it without a copy.
/// </summary>
/// <remarks>
/// <para><b>Ownership.</b> A batch has exactly one owner at a time. Whoever rents it from a
/// <see cref="PacketBatchPool"/> owns it; handing it on (a method call that takes it, an actor
/// message) gives it up, and the giver must not touch it afterwards, not even to read. The last
/// owner calls <see cref="Return"/>. A port's <see cref="IPort.SendBatch"/> only borrows the
/// batch for the duration of the call; a receive callback receives ownership.</para>
/// <para>Returning twice always throws. A holder that wants to prove it still owns the same
/// lease can keep <see cref="Generation"/> and call <see cref="CheckLease"/>; in DEBUG builds
/// every accessor also asserts that the batch is rented.</para>
/// <para>No member allocates after construction; the buffer is pinned so ports may hand
/// pointers into it to the kernel.</para>
/// <para><b>Super-frames.</b> A batch made with a super-frame room (<c>superFrameRoom</c> &gt; 0)
/// has one more region behind its slots, big enough for a 64 KiB TCP super-frame a TAP hands over
/// (<see cref="CommitSuperFrame"/>). The super-frame is always the batch's last frame: once it is
/// in, the batch is full. Only consumers that handle <see cref="Packet.GsoSize"/> receive such
/// batches (a gateway's TAPs, see <c>TapPort.KeepsSuperFrames</c>).</para>
/// </remarks>
public sealed class PacketBatch
{
    public const int DefaultCapacity = 256;
    public const int DefaultSlotSize = 2048;

    /// <summary>Room kept in front of a received frame for encapsulation headers (outer
    /// Ethernet + IPv4 + UDP + MPLS + control word is 54 bytes; Geneve with options more).</summary>
    public const int DefaultHeadroom = 128;

    private readonly byte[] _buffer;
    private readonly Packet[] _packets;
    private int _rented; // 1 while rented, 0 while in the pool; changed with Interlocked
    private int _generation;
    private readonly int _slotsEnd;  // where the super-frame region starts (capacity * slot size)
    private bool _sealed;            // a super-frame is in: no room for another frame

    /// <summary>Creates a batch outside any pool; it counts as rented until returned.</summary>
    public PacketBatch(int capacity = DefaultCapacity, int slotSize = DefaultSlotSize, int headroom = DefaultHeadroom, int superFrameRoom = 0)
        : this(null, capacity, slotSize, headroom, superFrameRoom)
    {
    }

    internal PacketBatch(PacketBatchPool? pool, int capacity, int slotSize, int headroom, int superFrameRoom = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(superFrameRoom);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(slotSize, 64);
        ArgumentOutOfRangeException.ThrowIfNegative(headroom);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(headroom, slotSize - 60);
        Pool = pool;
        Capacity = capacity;
        SlotSize = slotSize;
        Headroom = headroom;
        SuperFrameRoomLength = superFrameRoom;
        _slotsEnd = checked(capacity * slotSize);
        _buffer = GC.AllocateUninitializedArray<byte>(checked(_slotsEnd + (superFrameRoom > 0 ? headroom + superFrameRoom : 0)), pinned: true);
        _packets = new Packet[capacity];
        _rented = pool is null ? 1 : 0;
        _generation = pool is null ? 1 : 0;
    }

    /// <summary>The pool this batch returns to, or null for a stand-alone batch.</summary>
    public PacketBatchPool? Pool { get; }

    public int Capacity { get; }

    public int SlotSize { get; }

    public int Headroom { get; }

    /// <summary>Largest frame a slot holds when it starts at the headroom.</summary>
    public int MaxFrameLength => SlotSize - Headroom;

    /// <summary>Largest super-frame the batch can take (0: it has no super-frame room).</summary>
    public int SuperFrameRoomLength { get; }

    /// <summary>Number of frames in the batch (slots <c>0 .. Count - 1</c>).</summary>
    public int Count { get; private set; }

    /// <summary>No room for another frame: every slot used, or a super-frame is in (it is always last).</summary>
    public bool IsFull => Count == Capacity || _sealed;

    /// <summary>True while a super-frame can still join the batch (it has the room and none is in).</summary>
    public bool CanTakeSuperFrame => SuperFrameRoomLength > 0 && !IsFull;

    /// <summary>Changes on every rent: a lease token a holder can check with <see cref="CheckLease"/>.</summary>
    public int Generation => Volatile.Read(ref _generation);

    public bool IsRented => Volatile.Read(ref _rented) == 1;

    /// <summary>The whole contiguous buffer; for ports that hand slot addresses to the kernel.</summary>
    internal byte[] Buffer => _buffer;

    /// <summary>Offset in <see cref="Buffer"/> of the frame room of slot <paramref name="slot"/> (after its headroom).</summary>
    internal int FrameRoomOffset(int slot) => slot * SlotSize + Headroom;

    /// <summary>Offset in <see cref="Buffer"/> of the super-frame room (after its headroom).</summary>
    internal int SuperFrameRoomOffset => _slotsEnd + Headroom;

    /// <summary>Metadata of frame <paramref name="index"/>.</summary>
    public ref Packet this[int index]
    {
        get
        {
            AssertRented();
            if ((uint)index >= (uint)Count)
            {
                throw new ArgumentOutOfRangeException(nameof(index));
            }

            return ref _packets[index];
        }
    }

    /// <summary>The bytes of frame <paramref name="index"/>.</summary>
    public Span<byte> Frame(int index)
    {
        ref Packet p = ref this[index];
        return _buffer.AsSpan(p.Offset, p.Length);
    }

    /// <summary>
    /// Space for the next frame: from the headroom of slot <see cref="Count"/> to its end. Write
    /// the frame there, then call <see cref="Commit"/>; returns an empty span when full.
    /// </summary>
    public Span<byte> NextFrameRoom()
    {
        AssertRented();
        return IsFull ? Span<byte>.Empty : _buffer.AsSpan(FrameRoomOffset(Count), MaxFrameLength);
    }

    /// <summary>The super-frame room (empty when the batch cannot take one): write the super-frame there, then call <see cref="CommitSuperFrame"/>.</summary>
    public Span<byte> SuperFrameRoom()
    {
        AssertRented();
        return CanTakeSuperFrame ? _buffer.AsSpan(SuperFrameRoomOffset, SuperFrameRoomLength) : Span<byte>.Empty;
    }

    /// <summary>
    /// Appends the TCP super-frame just written into <see cref="SuperFrameRoom"/>, whose segments
    /// carry <paramref name="gsoSize"/> payload bytes each; the batch is full after it.
    /// </summary>
    public ref Packet CommitSuperFrame(int length, ushort gsoSize, ushort ingressPort = 0)
    {
        AssertRented();
        if (!CanTakeSuperFrame)
        {
            throw new InvalidOperationException(SuperFrameRoomLength == 0 ? "PacketBatch has no super-frame room." : "PacketBatch is full.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, SuperFrameRoomLength);
        ArgumentOutOfRangeException.ThrowIfZero(gsoSize);
        ref Packet p = ref _packets[Count];
        p = default;
        p.Offset = SuperFrameRoomOffset;
        p.Length = length;
        p.IngressPort = ingressPort;
        p.GsoSize = gsoSize;
        Count++;
        _sealed = true;
        return ref p;
    }

    /// <summary>Appends the frame just written into <see cref="NextFrameRoom"/>.</summary>
    public ref Packet Commit(int length, ushort ingressPort = 0)
    {
        AssertRented();
        if (IsFull)
        {
            throw new InvalidOperationException("PacketBatch is full.");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, MaxFrameLength);
        ref Packet p = ref _packets[Count];
        p = default;
        p.Offset = FrameRoomOffset(Count);
        p.Length = length;
        p.IngressPort = ingressPort;
        Count++;
        return ref p;
    }

    /// <summary>Copies <paramref name="frame"/> in as the next frame; false when full or too large.</summary>
    public bool TryAppend(ReadOnlySpan<byte> frame, ushort ingressPort = 0)
    {
        Span<byte> room = NextFrameRoom();
        if (frame.Length > room.Length)
        {
            return false;
        }

        frame.CopyTo(room);
        Commit(frame.Length, ingressPort);
        return true;
    }

    /// <summary>
    /// Grows frame <paramref name="index"/> at the front by <paramref name="length"/> bytes taken
    /// from its headroom and returns them (the new header); throws when the headroom is short.
    /// </summary>
    public Span<byte> PushHeader(int index, int length)
    {
        ref Packet p = ref this[index];
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        int start = p.Offset >= _slotsEnd ? _slotsEnd : index * SlotSize;
        if (p.Offset - length < start)
        {
            throw new InvalidOperationException($"Frame {index} has {p.Offset - start} bytes of headroom, {length} asked.");
        }

        p.Offset -= length;
        p.Length += length;
        return _buffer.AsSpan(p.Offset, length);
    }

    /// <summary>Removes <paramref name="length"/> bytes from the front of frame <paramref name="index"/> (decapsulation).</summary>
    public void PullHeader(int index, int length)
    {
        ref Packet p = ref this[index];
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, p.Length);
        p.Offset += length;
        p.Length -= length;
    }

    /// <summary>Sets the length of frame <paramref name="index"/> (e.g. after a rewrite), within its slot.</summary>
    public void SetLength(int index, int length)
    {
        ref Packet p = ref this[index];
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, (p.Offset >= _slotsEnd ? _buffer.Length : (index + 1) * SlotSize) - p.Offset);
        p.Length = length;
    }

    /// <summary>Forgets all frames; the buffer is kept.</summary>
    public void Clear()
    {
        AssertRented();
        Count = 0;
        _sealed = false;
    }

    /// <summary>Total bytes of all frames.</summary>
    public long TotalBytes()
    {
        AssertRented();
        long sum = 0;
        for (int i = 0; i < Count; i++)
        {
            sum += _packets[i].Length;
        }

        return sum;
    }

    /// <summary>
    /// Throws unless the batch is still rented under the lease <paramref name="generation"/> that
    /// the caller saw when it received the batch (detects use after return or after re-rent).
    /// </summary>
    public void CheckLease(int generation)
    {
        if (!IsRented || Generation != generation)
        {
            throw new InvalidOperationException(
                $"PacketBatch lease {generation} is no longer held (rented={IsRented}, generation={Generation}).");
        }
    }

    /// <summary>
    /// Gives the batch back to its pool (a stand-alone batch just becomes unusable). Only the last
    /// owner calls this, once; a second return throws.
    /// </summary>
    public void Return()
    {
        if (Interlocked.CompareExchange(ref _rented, 0, 1) != 1)
        {
            throw new InvalidOperationException($"PacketBatch returned twice (generation {Generation}).");
        }

        Count = 0;
        _sealed = false;
        Pool?.Accept(this);
    }

    /// <summary>Called by the pool when it hands the batch out.</summary>
    internal void MarkRented()
    {
        if (Interlocked.CompareExchange(ref _rented, 1, 0) != 0)
        {
            throw new InvalidOperationException("PacketBatch was in the pool while still rented.");
        }

        Interlocked.Increment(ref _generation);
    }

    [Conditional("DEBUG")]
    private void AssertRented()
    {
        if (Volatile.Read(ref _rented) != 1)
        {
            throw new InvalidOperationException("PacketBatch used after it was returned to its pool.");
        }
    }
}
