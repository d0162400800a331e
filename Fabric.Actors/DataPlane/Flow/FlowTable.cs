using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace Fabric.Actors.DataPlane.Flow;

/// <summary>How an insert ended.</summary>
public enum FlowInsertResult : byte
{
    /// <summary>A new entry was added.</summary>
    Added,
    /// <summary>The key was present (even if stale or expired): its entry was replaced.</summary>
    Replaced,
    /// <summary>The table was full: the least recently used entry near the key's slot was evicted.</summary>
    AddedAfterEviction,
}

/// <summary>A snapshot of a table's counters (monotonic since creation, except Active).</summary>
public readonly record struct FlowTableCounters(
    long Hits,
    long Misses,
    long Insertions,
    long Collisions,
    long EvictedStale,
    long EvictedExpired,
    long EvictedForSpace,
    int Active)
{
    /// <summary>Every entry removed other than by Remove/Clear.</summary>
    public long Evictions => EvictedStale + EvictedExpired + EvictedForSpace;
}

/// <summary>
/// The flow cache's table: FlowKey → TValue, open addressing with linear probing over a
/// power-of-two array kept at most half full, backward-shift deletion (no tombstones), no
/// allocation after construction. Single-threaded: one owner (an actor) uses it.
///
/// Validity, checked lazily on lookup (and by <see cref="Sweep"/>):
/// * generation: each entry carries the configuration generation it was computed under; a
///   lookup with a newer generation treats older entries as misses and evicts them, so a
///   configuration change invalidates the whole cache in O(1).
/// * idle timeout: unused for that many ticks; hard timeout: that many ticks since insertion.
///   Ticks are whatever monotonic clock the caller passes as "now" (0 = no timeout).
///
/// Slots come from the high bits of the flow hash; shards and PW buckets use the low bits
/// (<see cref="FlowHash.Bucket"/>), so one shard's flows do not crowd the same slots.
///
/// The slot array starts small (<see cref="InitialSlots"/>) and doubles as flows arrive, up to
/// twice <see cref="MaxFlows"/>: a gateway node holds thousands of these tables (tenants x
/// shards x subtables, main and ghost), and sizing each for its maximum up front committed
/// gigabytes of heap that no flow ever used. A doubling allocates (on the insert of a new
/// flow, log2(max) times at most); lookups and replacements never do.
/// </summary>
public sealed class FlowTable<TValue> where TValue : struct
{
    private struct Entry
    {
        public ulong Hash; // 0 = empty slot (stored hashes are never 0)
        public FlowKey Key;
        public TValue Value;
        public long Created;
        public long LastUsed;
        public uint Generation;
    }

    /// <summary>How many slots from a key's home an eviction for space considers.</summary>
    private const int EvictionWindow = 16;

    /// <summary>Slots a table starts with when its maximum allows (it doubles from there).</summary>
    public const int InitialSlots = 256;

    private readonly int _maxCapacity;
    private Entry[] _entries;
    private int _mask;
    private int _shift;
    private int _sweepCursor;

    private long _hits, _misses, _insertions, _collisions, _evictedStale, _evictedExpired, _evictedForSpace;

    /// <param name="maxFlows">Most entries held at once (the table has at least twice as many slots).</param>
    /// <param name="idleTimeout">Ticks without a hit after which an entry expires; 0 = never.</param>
    /// <param name="hardTimeout">Ticks after insertion after which an entry expires; 0 = never.</param>
    public FlowTable(int maxFlows, long idleTimeout = 0, long hardTimeout = 0)
    {
        if (maxFlows <= 0 || maxFlows > 1 << 29)
        {
            throw new ArgumentOutOfRangeException(nameof(maxFlows), maxFlows, "1 .. 2^29 flows");
        }
        if (idleTimeout < 0 || hardTimeout < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(idleTimeout), "Timeouts are >= 0 (0 = none)");
        }
        _maxCapacity = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(maxFlows * 2, 16));
        _entries = [];
        Resize(Math.Min(_maxCapacity, InitialSlots));
        MaxFlows = maxFlows;
        IdleTimeout = idleTimeout;
        HardTimeout = hardTimeout;
    }

    public int MaxFlows { get; }

    /// <summary>Slots the table has now (it grows to <see cref="MaxCapacity"/> as flows arrive).</summary>
    public int Capacity => _entries.Length;

    /// <summary>Slots the table grows to at most: twice <see cref="MaxFlows"/>, rounded up to a power of two.</summary>
    public int MaxCapacity => _maxCapacity;
    public long IdleTimeout { get; }
    public long HardTimeout { get; }
    public int Count { get; private set; }

    public FlowTableCounters Counters =>
        new(_hits, _misses, _insertions, _collisions, _evictedStale, _evictedExpired, _evictedForSpace, Count);

    /// <summary>Looks a flow up; a hit refreshes its idle timer.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryGetValue(in FlowKey key, ulong hash, uint generation, long now, out TValue value)
    {
        ref var entry = ref Find(in key, hash, generation, now);
        if (Unsafe.IsNullRef(ref entry))
        {
            _misses++;
            value = default;
            return false;
        }
        _hits++;
        value = entry.Value;
        return true;
    }

    /// <summary>
    /// Looks a flow up and returns a reference to its value for in-place updates (per-flow
    /// counters), or a null ref on a miss (test with Unsafe.IsNullRef). Valid until the next insert or removal.
    /// </summary>
    public ref TValue GetValueRefOrNullRef(in FlowKey key, ulong hash, uint generation, long now)
    {
        ref var entry = ref Find(in key, hash, generation, now);
        if (Unsafe.IsNullRef(ref entry))
        {
            _misses++;
            return ref Unsafe.NullRef<TValue>();
        }
        _hits++;
        return ref entry.Value;
    }

    /// <summary>
    /// Looks up a batch: for each i, <paramref name="found"/>[i] says whether
    /// <paramref name="values"/>[i] was set. Returns the number of hits. The home slots of the
    /// whole batch are prefetched first so their cache misses overlap.
    /// </summary>
    public unsafe int LookupBatch(ReadOnlySpan<FlowKey> keys, ReadOnlySpan<ulong> hashes, uint generation, long now, Span<TValue> values, Span<bool> found)
    {
        var n = keys.Length;
        if (hashes.Length < n || values.Length < n || found.Length < n)
        {
            throw new ArgumentException("hashes, values and found need one element per key");
        }
        if (Sse.IsSupported)
        {
            for (var i = 0; i < n; i++)
            {
                Sse.Prefetch0(Unsafe.AsPointer(ref _entries[Home(Normalize(hashes[i]))]));
            }
        }
        var hits = 0;
        for (var i = 0; i < n; i++)
        {
            ref var entry = ref Find(in keys[i], hashes[i], generation, now);
            if (Unsafe.IsNullRef(ref entry))
            {
                found[i] = false;
                values[i] = default;
                continue;
            }
            found[i] = true;
            values[i] = entry.Value;
            hits++;
        }
        _hits += hits;
        _misses += n - hits;
        return hits;
    }

    /// <summary>Adds or replaces the entry for <paramref name="key"/>, stamped with generation and now.</summary>
    public FlowInsertResult Insert(in FlowKey key, ulong hash, in TValue value, uint generation, long now)
    {
        var stored = Normalize(hash);
        var i = Home(stored);
        while (true)
        {
            ref var entry = ref _entries[i];
            if (entry.Hash == 0)
            {
                break;
            }
            if (entry.Hash == stored && FlowKey.Equals(in entry.Key, in key))
            {
                Fill(ref entry, stored, in key, in value, generation, now);
                _insertions++;
                return FlowInsertResult.Replaced;
            }
            _collisions++;
            i = (i + 1) & _mask;
        }

        var result = FlowInsertResult.Added;
        if (Count >= _entries.Length / 2 && _entries.Length < _maxCapacity)
        {
            // Kept at most half full: double, then find the key's empty slot in the new array.
            Resize(_entries.Length * 2);
            i = Home(stored);
            while (_entries[i].Hash != 0)
            {
                i = (i + 1) & _mask;
            }
        }
        else if (Count >= MaxFlows)
        {
            EvictForSpace(Home(stored), generation, now);
            result = FlowInsertResult.AddedAfterEviction;
            // The backward shift may have moved entries: find the first empty slot again.
            i = Home(stored);
            while (_entries[i].Hash != 0)
            {
                i = (i + 1) & _mask;
            }
        }
        Fill(ref _entries[i], stored, in key, in value, generation, now);
        Count++;
        _insertions++;
        return result;
    }

    /// <summary>Moves every entry into a new array of <paramref name="capacity"/> slots (a power of two).</summary>
    private void Resize(int capacity)
    {
        var old = _entries;
        _entries = new Entry[capacity];
        _mask = capacity - 1;
        _shift = 64 - BitOperations.Log2((uint)capacity);
        _sweepCursor = 0;
        foreach (ref var entry in old.AsSpan())
        {
            if (entry.Hash == 0)
            {
                continue;
            }

            var i = Home(entry.Hash);
            while (_entries[i].Hash != 0)
            {
                i = (i + 1) & _mask;
            }

            _entries[i] = entry;
        }
    }

    /// <summary>Removes the entry for <paramref name="key"/>; false if absent.</summary>
    public bool Remove(in FlowKey key, ulong hash)
    {
        var stored = Normalize(hash);
        for (var i = Home(stored); _entries[i].Hash != 0; i = (i + 1) & _mask)
        {
            if (_entries[i].Hash == stored && FlowKey.Equals(in _entries[i].Key, in key))
            {
                RemoveAt(i);
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// Walks up to <paramref name="maxSlots"/> slots from where the last sweep stopped, evicting
    /// stale and expired entries, so the table sheds dead flows without lookups. Returns evictions.
    /// </summary>
    public int Sweep(uint generation, long now, int maxSlots)
    {
        var evicted = 0;
        for (var n = 0; n < Math.Min(maxSlots, _entries.Length); n++)
        {
            var i = _sweepCursor;
            ref var entry = ref _entries[i];
            if (entry.Hash != 0 && TryEvictIfDead(ref entry, i, generation, now))
            {
                evicted++;
                // The backward shift may have pulled an unvisited entry into slot i: look again.
                continue;
            }
            _sweepCursor = (i + 1) & _mask;
        }
        return evicted;
    }

    /// <summary>Empties the table (counters are kept).</summary>
    public void Clear()
    {
        Array.Clear(_entries);
        Count = 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref Entry Find(in FlowKey key, ulong hash, uint generation, long now)
    {
        var stored = Normalize(hash);
        var entries = _entries;
        var i = Home(stored);
        while (true)
        {
            ref var entry = ref entries[i];
            if (entry.Hash == stored && FlowKey.Equals(in entry.Key, in key))
            {
                if (entry.Generation < generation || IsExpired(ref entry, now))
                {
                    EvictDead(ref entry, i, generation);
                    return ref Unsafe.NullRef<Entry>();
                }
                entry.LastUsed = now;
                return ref entry;
            }
            if (entry.Hash == 0)
            {
                return ref Unsafe.NullRef<Entry>();
            }
            _collisions++;
            i = (i + 1) & _mask;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Normalize(ulong hash) => hash == 0 ? 1 : hash;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Home(ulong stored) => (int)(stored >> _shift);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool IsExpired(ref Entry entry, long now) =>
        (IdleTimeout > 0 && now - entry.LastUsed >= IdleTimeout) || (HardTimeout > 0 && now - entry.Created >= HardTimeout);

    private static void Fill(ref Entry entry, ulong stored, in FlowKey key, in TValue value, uint generation, long now)
    {
        entry.Hash = stored;
        entry.Key = key;
        entry.Value = value;
        entry.Generation = generation;
        entry.Created = now;
        entry.LastUsed = now;
    }

    private bool TryEvictIfDead(ref Entry entry, int slot, uint generation, long now)
    {
        if (entry.Generation < generation || IsExpired(ref entry, now))
        {
            EvictDead(ref entry, slot, generation);
            return true;
        }
        return false;
    }

    private void EvictDead(ref Entry entry, int slot, uint generation)
    {
        if (entry.Generation < generation)
        {
            _evictedStale++;
        }
        else
        {
            _evictedExpired++;
        }
        RemoveAt(slot);
    }

    private void EvictForSpace(int home, uint generation, long now)
    {
        // Prefer a dead entry near the key's home; else the least recently used one there.
        var victim = -1;
        var oldest = long.MaxValue;
        for (int n = 0, i = home; n < EvictionWindow; n++, i = (i + 1) & _mask)
        {
            ref var entry = ref _entries[i];
            if (entry.Hash == 0)
            {
                continue;
            }
            if (TryEvictIfDead(ref entry, i, generation, now))
            {
                return;
            }
            if (entry.LastUsed < oldest)
            {
                oldest = entry.LastUsed;
                victim = i;
            }
        }
        if (victim < 0)
        {
            // Nothing near home (the table is full elsewhere): take the sweep cursor's next entry.
            victim = _sweepCursor;
            while (_entries[victim].Hash == 0)
            {
                victim = (victim + 1) & _mask;
            }
        }
        _evictedForSpace++;
        RemoveAt(victim);
    }

    /// <summary>Backward-shift deletion: pull later entries of the cluster into the hole.</summary>
    private void RemoveAt(int hole)
    {
        var entries = _entries;
        var j = hole;
        while (true)
        {
            j = (j + 1) & _mask;
            ref var candidate = ref entries[j];
            if (candidate.Hash == 0)
            {
                break;
            }
            var home = Home(candidate.Hash);
            // Move it if the hole lies on its probe path, i.e. between its home and j (cyclically).
            if (((j - home) & _mask) >= ((j - hole) & _mask))
            {
                entries[hole] = candidate;
                hole = j;
            }
        }
        entries[hole] = default;
        Count--;
    }
}
