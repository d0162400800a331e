using System.Runtime.CompilerServices;
using Fabric.Actors.DataPlane.Flow;

namespace Fabric.Actors.Gateway.Pipeline;

/// <summary>
/// A flow-cache shard's classifier, the shape of Open vSwitch's <c>dpcls</c> (tuple-space
/// search): exact-match entries in one table, and one table per distinct mask holding entries
/// keyed by the flow key with every unconsulted field zeroed. A lookup probes the exact table
/// first (stateful flows: NAT, conntrack; <see cref="Exact"/>), then each mask in turn, the
/// most-hit first (<see cref="TryMegaflow"/>). Entries
/// never overlap in meaning: a masked entry exists only because every flow it matches would get
/// the same result from the stages (see <see cref="CacheEntry.MaskFor"/>). Nothing allocates on
/// a hit; a new mask allocates its table once, on the slow path. Single-threaded.
/// </summary>
public sealed class MegaflowCache
{
    private readonly Subtable[] _subtables;
    private readonly int _maskedFlows;
    private readonly long _idleTimeout;
    private int _masks;
    private long _megaflowHits, _misses, _lookups;

    private sealed class Subtable(FlowFields mask, FlowTable<CacheEntry> table)
    {
        public readonly FlowFields Mask = mask;
        public readonly FlowTable<CacheEntry> Table = table;
        public long Hits;
    }

    /// <param name="maxMasks">Most distinct masks (fabric.gateway.cache.max-masks); entries with a further mask are installed exact.</param>
    public MegaflowCache(int maxFlows, long idleTimeout, int maxMasks)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxMasks, 1);
        _subtables = new Subtable[maxMasks];
        Exact = new FlowTable<CacheEntry>(maxFlows, idleTimeout);
        // A masked entry stands for many flows: its table needs far fewer slots.
        _maskedFlows = Math.Clamp(maxFlows / 16, 64, 4096);
        _idleTimeout = idleTimeout;
    }

    /// <summary>Exact-match entries: everything with per-flow state or rewrites, and reply entries.</summary>
    public FlowTable<CacheEntry> Exact { get; }

    /// <summary>False: every entry is installed exact (the cache before megaflows, for comparison).</summary>
    public bool MegaflowsEnabled { get; set; } = true;

    public int Masks => _masks;
    public long ExactHits => Exact.Counters.Hits;
    public long MegaflowHits => _megaflowHits;

    /// <summary>The masks in use, most-hit first.</summary>
    public IEnumerable<FlowFields> MaskList => _subtables.Take(_masks).Select(s => s.Mask);

    public int Count
    {
        get
        {
            var n = Exact.Count;
            for (var i = 0; i < _masks; i++) n += _subtables[i].Table.Count;
            return n;
        }
    }

    /// <summary>Counters summed over the exact and masked tables; hits and misses are per lookup, not per table probe.</summary>
    public FlowTableCounters Counters
    {
        get
        {
            var c = Exact.Counters;
            long ins = c.Insertions, col = c.Collisions, stale = c.EvictedStale, exp = c.EvictedExpired, space = c.EvictedForSpace;
            for (var i = 0; i < _masks; i++)
            {
                var s = _subtables[i].Table.Counters;
                ins += s.Insertions;
                col += s.Collisions;
                stale += s.EvictedStale;
                exp += s.EvictedExpired;
                space += s.EvictedForSpace;
            }
            return new FlowTableCounters(c.Hits + _megaflowHits, _misses, ins, col, stale, exp, space, Count);
        }
    }

    /// <summary>
    /// The second half of a lookup, after <see cref="Exact"/> missed (the caller probes it itself,
    /// so an exact hit costs what it did before megaflows): each mask in turn, busiest first.
    /// </summary>
    public bool TryMegaflow(in FlowKey key, uint generation, long now, out CacheEntry entry)
    {
        for (var i = 0; i < _masks; i++)
        {
            var s = _subtables[i];
            var masked = Masked(key, s.Mask);
            if (s.Table.TryGetValue(masked, FlowHash.Compute(masked), generation, now, out entry))
            {
                s.Hits++;
                _megaflowHits++;
                // Keep the busiest masks first (OVS re-sorts its subtables by hits periodically).
                if (i > 0 && (++_lookups & 1023) == 0) Rank();
                return true;
            }
        }
        entry = default;
        _misses++;
        return false;
    }

    /// <summary>Installs an entry: exact when its mask says so (or megaflows are off, or the masks are used up), else under its mask.</summary>
    public void Insert(in FlowKey key, ulong hash, in CacheEntry entry, uint generation, long now)
    {
        var mask = entry.Mask;
        if (!MegaflowsEnabled || (mask & FlowFields.Exact) != 0 || SubtableFor(mask) is not { } s)
        {
            Exact.Insert(key, hash, entry, generation, now);
            return;
        }
        var masked = Masked(key, mask);
        s.Table.Insert(masked, FlowHash.Compute(masked), entry, generation, now);
    }

    /// <summary>Removes an exact entry (connections' entries are always exact).</summary>
    public bool Remove(in FlowKey key, ulong hash) => Exact.Remove(key, hash);

    public void Clear()
    {
        Exact.Clear();
        for (var i = 0; i < _masks; i++) _subtables[i] = null!;
        _masks = 0;
    }

    /// <summary>
    /// The key with every field outside <paramref name="mask"/> zeroed. The destination MAC (always
    /// the gateway's on a lookup) and the tag word stay; the source MAC is never consulted by a
    /// stage, so a masked entry leaves it out.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static FlowKey Masked(in FlowKey key, FlowFields mask)
    {
        var m = key;
        m.Source = default;
        if ((mask & FlowFields.Tenant) == 0) m.Tenant = 0;
        if ((mask & FlowFields.IngressPort) == 0) m.IngressPort = 0;
        if ((mask & FlowFields.EtherType) == 0) m.EtherType = default;
        if ((mask & FlowFields.SourceAddress) == 0) m.SourceAddress = default;
        if ((mask & FlowFields.DestinationAddress) == 0) m.DestinationAddress = default;
        if ((mask & FlowFields.IpProtocol) == 0) m.IpProtocol = default;
        if ((mask & FlowFields.SourcePort) == 0) m.SourcePort = 0;
        if ((mask & FlowFields.DestinationPort) == 0) m.DestinationPort = 0;
        if ((mask & FlowFields.Flags) == 0) m.Flags = default;
        return m;
    }

    private Subtable? SubtableFor(FlowFields mask)
    {
        for (var i = 0; i < _masks; i++)
        {
            if (_subtables[i].Mask == mask) return _subtables[i];
        }
        if (_masks == _subtables.Length) return null;
        var s = new Subtable(mask, new FlowTable<CacheEntry>(_maskedFlows, _idleTimeout));
        _subtables[_masks++] = s;
        return s;
    }

    private void Rank()
    {
        // Insertion sort: a handful of masks, nearly sorted already.
        for (var i = 1; i < _masks; i++)
        {
            var s = _subtables[i];
            var j = i - 1;
            while (j >= 0 && _subtables[j].Hits < s.Hits)
            {
                _subtables[j + 1] = _subtables[j];
                j--;
            }
            _subtables[j + 1] = s;
        }
    }
}
