namespace Fabric.Actors.DataPlane.Io;

/// <summary>
/// A bounded pool of equally shaped <see cref="PacketBatch"/>es, grown on demand: nothing is
/// allocated up front unless asked (<c>preallocate</c>). <see cref="Rent"/> never fails: when the
/// pool is empty it allocates a new batch and counts a miss, so a steady miss count means the
/// pool is too small (or batches leak). <see cref="TryRent"/> is the ingress path's rent: it
/// refuses (and counts <see cref="Refusals"/>) once <see cref="MaxLive"/> batches are out, so a
/// port under overload drops and counts at ingress instead of pinning memory without bound. A
/// return to a full pool drops the batch for the GC and counts a discard. At most
/// <see cref="MaxRetained"/> idle batches are kept.
/// </summary>
/// <remarks>
/// The idle batches sit in an array stack behind a <see cref="Lock"/>: rent and return each hold
/// it for a handful of instructions, cheaper under the two-core contention here than a lock-free
/// queue's node allocation, and it keeps the most recently used (cache-warm) batch on top.
/// </remarks>
public sealed class PacketBatchPool
{
    private readonly Lock _lock = new();
    private readonly PacketBatch?[] _idle;
    private int _idleCount;
    private long _rents;
    private long _returns;
    private long _misses;
    private long _discards;
    private long _refusals;

    public PacketBatchPool(
        int maxRetained = 64,
        int batchCapacity = PacketBatch.DefaultCapacity,
        int slotSize = PacketBatch.DefaultSlotSize,
        int headroom = PacketBatch.DefaultHeadroom,
        int preallocate = 0,
        int maxLive = int.MaxValue,
        int superFrameRoom = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(superFrameRoom);
        SuperFrameRoom = superFrameRoom;
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRetained, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(preallocate, maxRetained);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLive, 1);
        MaxRetained = maxRetained;
        MaxLive = maxLive;
        BatchCapacity = batchCapacity;
        SlotSize = slotSize;
        Headroom = headroom;
        _idle = new PacketBatch?[maxRetained];
        for (int i = 0; i < preallocate; i++)
        {
            _idle[_idleCount++] = new PacketBatch(this, batchCapacity, slotSize, headroom, superFrameRoom);
        }
    }

    public int MaxRetained { get; }

    /// <summary>Most batches <see cref="TryRent"/> lets be out at once (rented, not returned).</summary>
    public int MaxLive { get; }

    /// <summary><see cref="TryRent"/> calls refused because <see cref="MaxLive"/> batches were out.</summary>
    public long Refusals => Interlocked.Read(ref _refusals);

    /// <summary>Bytes of frame buffer one batch pins.</summary>
    public long BatchBytes => (long)BatchCapacity * SlotSize + (SuperFrameRoom > 0 ? Headroom + SuperFrameRoom : 0);

    /// <summary>Each batch's room for one TCP super-frame kept whole (0: none; see <see cref="PacketBatch"/>).</summary>
    public int SuperFrameRoom { get; }

    public int BatchCapacity { get; }

    public int SlotSize { get; }

    public int Headroom { get; }

    /// <summary>Batches handed out.</summary>
    public long Rents => Interlocked.Read(ref _rents);

    /// <summary>Batches given back.</summary>
    public long Returns => Interlocked.Read(ref _returns);

    /// <summary>Rents that found the pool empty and allocated.</summary>
    public long Misses => Interlocked.Read(ref _misses);

    /// <summary>Returns that found the pool full and let the batch go.</summary>
    public long Discards => Interlocked.Read(ref _discards);

    /// <summary>Rented and not yet returned.</summary>
    public long Outstanding => Rents - Returns;

    /// <summary>Idle batches held now.</summary>
    public int Idle
    {
        get
        {
            lock (_lock)
            {
                return _idleCount;
            }
        }
    }

    /// <summary>Takes an empty batch; the caller owns it until it hands it on or returns it.</summary>
    public PacketBatch Rent()
    {
        PacketBatch? batch = null;
        lock (_lock)
        {
            if (_idleCount > 0)
            {
                batch = _idle[--_idleCount];
                _idle[_idleCount] = null;
            }
        }

        if (batch is null)
        {
            Interlocked.Increment(ref _misses);
            batch = new PacketBatch(this, BatchCapacity, SlotSize, Headroom, SuperFrameRoom);
        }

        batch.MarkRented();
        Interlocked.Increment(ref _rents);
        return batch;
    }

    /// <summary>
    /// Takes an empty batch unless <see cref="MaxLive"/> are already out (then false, counted):
    /// the receive path of a port, which drops at ingress rather than grow without bound.
    /// </summary>
    public bool TryRent([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out PacketBatch? batch)
    {
        if (Outstanding >= MaxLive)
        {
            Interlocked.Increment(ref _refusals);
            batch = null;
            return false;
        }

        batch = Rent();
        return true;
    }

    /// <summary>Takes a batch back; reached through <see cref="PacketBatch.Return"/>, which rejects a double return.</summary>
    internal void Accept(PacketBatch batch)
    {
        Interlocked.Increment(ref _returns);
        lock (_lock)
        {
            if (_idleCount < _idle.Length)
            {
                _idle[_idleCount++] = batch;
                return;
            }
        }

        Interlocked.Increment(ref _discards);
    }

    public override string ToString() =>
        $"PacketBatchPool(rents={Rents}, returns={Returns}, misses={Misses}, discards={Discards}, refusals={Refusals}, idle={Idle})";
}
