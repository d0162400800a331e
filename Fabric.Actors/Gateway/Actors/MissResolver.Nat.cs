using System.Collections.Immutable;
using System.Runtime.InteropServices;
using Akka.Actor;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Messages.Gateway;

namespace Fabric.Actors.Gateway.Actors;

// The resolver's side of NAT state in sharded mode. The entities own bindings and connections;
// the gateway owns the port-block ledger (which bucket leases which block: it routes inbound
// packets and is never per flow), mirrors the connections it forwards (hits keep their last-seen
// time), answers entities' idle checks from that mirror, and restores a bucket's new entity from
// it: the bucket's leases plus every mirrored connection with its external port.
internal sealed partial class MissResolver
{
    private readonly long[] _entityIncarnations;
    private readonly List<(Connection Connection, uint Generation)>[] _changed;
    /// <summary>Direct mode's hand-over of <see cref="_changed"/> (reused: no message per flush).</summary>
    private readonly List<ConnectionChange> _directChanges = [];
    /// <summary>Tells this gateway's ledger from a previous one's (entities drop leases of another incarnation).</summary>
    private readonly long _incarnation = Random.Shared.NextInt64(1, long.MaxValue);
    /// <summary>Entity incarnations that stopped: their late block returns are ignored (the blocks went to the successor).</summary>
    private readonly HashSet<long> _deadEntities = [];

    /// <summary>
    /// Sends a bucket's entity the configuration, the gateway's settings and its complete lease
    /// set, topped up to the spare target first; with <paramref name="restore"/>, also every
    /// connection mirrored for the bucket (the blocks their bindings sit in are claimed for it).
    /// </summary>
    public void ConfigureBucket(int bucket, bool restore)
    {
        var ledger = _dp.Ledger;
        var connections = ImmutableArray<RestoredConnection>.Empty;
        if (restore)
        {
            var now = Environment.TickCount64;
            connections = _dp.RestoreOf(bucket, now);
            foreach (var rc in connections)
            {
                var c = rc.Connection;
                if (c.ExternalAddress != 0) ledger.Claim(bucket, c.Tenant, new Ipv4Address(c.ExternalAddress), c.ExternalPort);
            }
        }
        foreach (var tenant in ledger.Tenants) ledger.TopUp(bucket, tenant, SparesHeld(bucket, tenant), _settings.Nat.SpareBlocks);
        _region.Tell(new ConfigureFlowCache(Spec.Intent.Name, bucket, _dp.Plan.Generation, Spec.Intent, Spec.Vnis, _dp.Plan.Mac.ToUInt64(),
            _incarnation, _settings.ToMessage(), ledger.Versions[bucket], Leases(bucket), restore, connections), _self);
    }

    public void ConfigureAllBuckets(bool restore)
    {
        for (var b = 0; b < Buckets; b++) ConfigureBucket(b, restore);
    }

    /// <summary>Leased blocks no mirrored binding sits in: what the gateway can tell of a bucket's spares before its entity says.</summary>
    private int SparesHeld(int bucket, uint tenant)
    {
        var leased = _dp.Ledger.LeasesOf(bucket, tenant);
        if (leased.Count == 0) return 0;
        var used = new HashSet<PortBlock>();
        foreach (var c in _dp.Shards[bucket].Connections.All)
        {
            var (address, port) = c.External;
            if (!address.IsUnspecified && c.Key.Tenant == tenant && _dp.Ledger.TryBlockOf(tenant, address, port, out var block)) used.Add(block);
        }
        return leased.Count(l => !used.Contains(l));
    }

    private ImmutableArray<PortBlockLeases> Leases(int bucket)
    {
        var ledger = _dp.Ledger;
        return [.. ledger.Tenants.Select(t => new PortBlockLeases(t, ledger.BlockSizeOf(t), [.. ledger.LeasesOf(bucket, t).Select(FlowResolver.ToWire)]))];
    }

    /// <summary>An entity returns emptied blocks and asks for spares: the ledger takes them back, lends more, and the entity gets its new lease set.</summary>
    public void OnUpdatePortBlocks(UpdatePortBlocks u)
    {
        if (u.GatewayIncarnation != _incarnation || (uint)u.Bucket >= Buckets || _deadEntities.Contains(u.EntityIncarnation)) return;
        _entityIncarnations[u.Bucket] = u.EntityIncarnation;
        var ledger = _dp.Ledger;
        foreach (var r in u.Returned)
        {
            foreach (var block in r.Blocks) ledger.TakeBack(u.Bucket, r.Tenant, FlowResolver.BlockOf(block));
        }
        // Up to the spare target, plus what hosts wanted and did not find (a burst of new hosts), at most 64 at a time.
        foreach (var w in u.Wanted) ledger.TopUp(u.Bucket, w.Tenant, w.Spares, _settings.Nat.SpareBlocks + Math.Clamp(w.Starved, 0, 64));
        _region.Tell(new GrantPortBlocks(Spec.Intent.Name, u.Bucket, _incarnation, ledger.Versions[u.Bucket], Leases(u.Bucket)), _self);
    }

    /// <summary>An entity asks how long connections it would expire have been idle here (the hits are here), and in what state: answered (directly in direct mode).</summary>
    public void OnCheckConnections(CheckConnections c, IActorRef entity)
    {
        var answer = Check(c);
        if ((uint)c.Bucket < Buckets && _direct[c.Bucket] is { } state && entity.Equals(_entities[c.Bucket])) state.Confirm(answer, Environment.TickCount64);
        else
        {
            if ((uint)c.Bucket < Buckets) _sentSinceBarrier[c.Bucket] = true;
            entity.Tell(answer, _self);
        }
    }

    private ConnectionsChecked Check(CheckConnections c)
    {
        var now = Environment.TickCount64;
        var idle = ImmutableArray.CreateBuilder<long>(c.Connections.Length);
        var states = ImmutableArray.CreateBuilder<byte>(c.Connections.Length);
        foreach (var fc in c.Connections)
        {
            var mirror = _dp.Mirrored(c.Bucket, FlowResolver.KeyOf(fc));
            idle.Add(mirror is null ? -1 : Math.Max(0, now - mirror.LastSeen));
            states.Add((byte)(mirror?.State ?? ConnectionState.Closed));
        }
        return new ConnectionsChecked(c.Gateway, c.Bucket, c.Connections, idle.MoveToImmutable(), states.MoveToImmutable());
    }

    /// <summary>The datapath tracked a FIN or RST on a cached packet: the bucket's entity hears of it with the batch's misses.</summary>
    public void ConnectionChanged(int bucket, Connection connection)
    {
        if ((uint)bucket >= Buckets) return;
        _changed[bucket].Add((connection, connection.Generation));
        _changedSinceFlush = true;
    }

    /// <summary>Tells a bucket's entity of the connection states the datapath moved since the last batch (hands them over directly in direct mode).</summary>
    private void FlushConnectionChanges(int bucket, long now)
    {
        var changed = _changed[bucket];
        if (changed.Count == 0) return;
        if (_direct[bucket] is { } state)
        {
            _directChanges.Clear();
            foreach (var (c, generation) in changed)
            {
                if (c.Generation == generation) _directChanges.Add(new ConnectionChange(c.Key, c.State, c.FinFromInside, c.FinFromOutside));
            }
            changed.Clear();
            state.Update(CollectionsMarshal.AsSpan(_directChanges), now);
            return;
        }
        var updates = ImmutableArray.CreateBuilder<ConnectionUpdate>(changed.Count);
        foreach (var (c, generation) in changed)
        {
            if (c.Generation != generation) continue; // gone since, and its object reused: the entity expires it by its own clock
            updates.Add(new ConnectionUpdate(FlowResolver.ToWire(c), (byte)c.State, c.FinFromInside, c.FinFromOutside));
        }
        changed.Clear();
        if (updates.Count > 0) SendToEntity(bucket, new ConnectionsUpdated(Spec.Intent.Name, bucket, updates.DrainToImmutable()));
    }
}
