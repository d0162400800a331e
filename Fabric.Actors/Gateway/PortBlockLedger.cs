namespace Fabric.Actors.Gateway;

/// <summary>
/// The gateway's record of which flow-cache bucket leases which port block of each tenant's
/// pool (port block allocation: blocks, not flows, are what is recorded, as RFC 6888 asks of a
/// CGN to keep its logs small). Free blocks are lent oldest-freed first, so a block handed back is
/// the last to be lent again. The record is what routes an inbound packet to the bucket whose entity holds its
/// binding (<see cref="OwnerOf"/>) and what a bucket's entity gets back after it moved
/// (<see cref="LeasesOf"/>). Single-threaded (the gateway's).
/// </summary>
public sealed class PortBlockLedger : IPortBlockLender
{
    private readonly int _buckets;
    private readonly Dictionary<uint, TenantLedger> _byTenant = [];
    private TenantLedger?[] _byIndex = [];

    public PortBlockLedger(int buckets)
    {
        _buckets = buckets;
        Versions = new long[buckets];
    }

    /// <summary>Per bucket, bumped whenever its leases change (entities ignore older lease lists).</summary>
    public long[] Versions { get; }

    public IEnumerable<uint> Tenants => _byTenant.Keys;

    /// <summary>
    /// Follows a new configuration: a tenant whose pool still cuts into the same blocks keeps its
    /// leases; a new or changed pool starts with every block free (blocks of an old pool are
    /// simply no longer lent; bindings in them live on until their connections end).
    /// </summary>
    public void Configure(GatewayPlan plan)
    {
        var byIndex = new TenantLedger?[plan.Tenants.Length];
        var keep = new HashSet<uint>();
        foreach (var t in plan.Tenants)
        {
            if (t.Snat is not { } snat) continue;
            if (!_byTenant.TryGetValue(t.Vni, out var l) || !l.Plan.SameBlocks(snat))
            {
                _byTenant[t.Vni] = l = new TenantLedger(snat, _buckets);
                for (var b = 0; b < _buckets; b++) Versions[b]++;
            }
            byIndex[t.Index] = l;
            keep.Add(t.Vni);
        }
        foreach (var vni in _byTenant.Keys.Where(v => !keep.Contains(v)).ToList()) _byTenant.Remove(vni);
        _byIndex = byIndex;
    }

    /// <summary>The bucket leasing the block that holds external (<paramref name="address"/>, <paramref name="port"/>) of tenant <paramref name="t"/>; -1 when none does.</summary>
    public int OwnerOf(TenantPlan t, DataPlane.Wire.Ipv4Address address, ushort port)
    {
        var index = t.Index;
        var l = (uint)index < (uint)_byIndex.Length ? _byIndex[index] : null;
        if (l is null || !l.Plan.TryBlockIndex(address, port, out var block)) return -1;
        return l.Owner[block];
    }

    public bool TryLend(int bucket, uint tenant, out PortBlock block)
    {
        block = default;
        if (!_byTenant.TryGetValue(tenant, out var l)) return false;
        while (l.Free.TryDequeue(out var i))
        {
            if (l.Owner[i] >= 0) continue; // lent since it was queued (a restore claimed it)
            l.Owner[i] = bucket;
            l.ByBucket[bucket].Add(i);
            Versions[bucket]++;
            block = l.Plan.Block(i);
            return true;
        }
        return false;
    }

    /// <summary>The block of <paramref name="tenant"/>'s pool holding external (<paramref name="address"/>, <paramref name="port"/>).</summary>
    public bool TryBlockOf(uint tenant, DataPlane.Wire.Ipv4Address address, ushort port, out PortBlock block)
    {
        block = default;
        if (!_byTenant.TryGetValue(tenant, out var l) || !l.Plan.TryBlockIndex(address, port, out var i)) return false;
        block = l.Plan.Block(i);
        return true;
    }

    /// <summary>Records that <paramref name="bucket"/> holds the block of external (<paramref name="address"/>, <paramref name="port"/>) (a binding the gateway saw there) unless another bucket does; false then.</summary>
    public bool Claim(int bucket, uint tenant, DataPlane.Wire.Ipv4Address address, ushort port)
    {
        if (!_byTenant.TryGetValue(tenant, out var l) || !l.Plan.TryBlockIndex(address, port, out var i)) return false;
        if (l.Owner[i] == bucket) return true;
        if (l.Owner[i] >= 0) return false;
        l.Owner[i] = bucket; // still queued as free: TryLend skips it
        l.ByBucket[bucket].Add(i);
        Versions[bucket]++;
        return true;
    }

    /// <summary>Takes a block back from <paramref name="bucket"/> (ignored when that bucket does not lease it).</summary>
    public void TakeBack(int bucket, uint tenant, PortBlock block)
    {
        if (!_byTenant.TryGetValue(tenant, out var l) || !l.Plan.TryBlockIndex(block, out var i) || l.Owner[i] != bucket) return;
        l.Owner[i] = -1;
        l.ByBucket[bucket].Remove(i);
        l.Free.Enqueue(i);
        Versions[bucket]++;
    }

    /// <summary>Lends <paramref name="bucket"/> blocks until it has <paramref name="target"/> spares, counting the <paramref name="spares"/> it says it has; how many were lent.</summary>
    public int TopUp(int bucket, uint tenant, int spares, int target)
    {
        var lent = 0;
        while (spares + lent < target && TryLend(bucket, tenant, out _)) lent++;
        return lent;
    }

    /// <summary>Every block <paramref name="bucket"/> leases of <paramref name="tenant"/>'s pool.</summary>
    public IReadOnlyCollection<PortBlock> LeasesOf(int bucket, uint tenant) =>
        _byTenant.TryGetValue(tenant, out var l) ? l.ByBucket[bucket].Select(l.Plan.Block).ToHashSet() : [];

    /// <summary>The block size of <paramref name="tenant"/>'s pool (0 when it has none).</summary>
    public int BlockSizeOf(uint tenant) => _byTenant.TryGetValue(tenant, out var l) ? l.Plan.BlockSize : 0;

    public int FreeCount(uint tenant) => _byTenant.TryGetValue(tenant, out var l) ? l.Owner.Count(o => o < 0) : 0;

    public int LeasedCount(uint tenant) => _byTenant.TryGetValue(tenant, out var l) ? l.ByBucket.Sum(b => b.Count) : 0;

    private sealed class TenantLedger
    {
        public TenantLedger(SnatPlan plan, int buckets)
        {
            Plan = plan;
            Owner = new int[plan.BlockCount];
            Array.Fill(Owner, -1);
            Free = new Queue<int>(Enumerable.Range(0, plan.BlockCount));
            ByBucket = [.. Enumerable.Range(0, buckets).Select(_ => new HashSet<int>())];
        }

        public SnatPlan Plan { get; }
        /// <summary>Per block, the bucket leasing it, or -1.</summary>
        public int[] Owner { get; }
        public Queue<int> Free { get; }
        public HashSet<int>[] ByBucket { get; }
    }
}
