namespace Fabric.Actors.DataPlane.Io;

/// <summary>
/// A bounded pool of equally shaped <see cref="PacketBatch"/>es. <see cref="Rent"/> never fails:
/// when the pool is empty it allocates a new batch and counts a miss, so a steady miss count
/// means the pool is too small (or batches leak). A return to a full pool drops the batch for
/// the GC and counts a discard. At most <see cref="MaxRetained"/> idle batches are kept.
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

    public PacketBatchPool(
        int maxRetained = 64,
        int batchCapacity = PacketBatch.DefaultCapacity,
        int slotSize = PacketBatch.DefaultSlotSize,
        int headroom = PacketBatch.DefaultHeadroom,
        int preallocate = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRetained, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(preallocate, maxRetained);
        MaxRetained = maxRetained;
        BatchCapacity = batchCapacity;
        SlotSize = slotSize;
        Headroom = headroom;
        _idle = new PacketBatch?[maxRetained];
        for (int i = 0; i < preallocate; i++)
        {
            _idle[_idleCount++] = new PacketBatch(this, batchCapacity, slotSize, headroom);
        }
    }

    public int MaxRetained { get; }

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
            batch = new PacketBatch(this, BatchCapacity, SlotSize, Headroom);
        }

        batch.MarkRented();
        Interlocked.Increment(ref _rents);
        return batch;
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
        $"PacketBatchPool(rents={Rents}, returns={Returns}, misses={Misses}, discards={Discards}, idle={Idle})";
}
