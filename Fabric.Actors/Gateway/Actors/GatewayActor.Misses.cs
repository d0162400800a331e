using System.Collections.Immutable;
using Akka.Actor;
using Akka.Event;
using Fabric.Actors.DataPlane.Flow;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Gateway.Pipeline;
using Fabric.Messages.Gateway;

namespace Fabric.Actors.Gateway.Actors;

// The sharded miss path. A miss is parked (its frame copied), the batch's misses go to their
// bucket's flow-cache entity in one ResolveFlows per bucket, and the answer installs the entries
// and releases the frames. The gateway watches each entity that answered: when one stops (its
// node left or died, or the shard was rebalanced) the bucket's local entries stay (hits go on),
// its new incarnation is restored from what the gateway mirrors (GatewayActor.Nat.cs). Every
// parked frame ends in an answer or a counted drop: resolver-backlog (too many waiting),
// resolver-timeout (no answer in fabric.gateway.resolver.timeout), resolver-no-answer (an answer
// that did not cover it).
public sealed partial class GatewayActor : IMissResolver
{
    private readonly IActorRef?[] _entities;
    private readonly List<Parked>[] _pending;
    private readonly Dictionary<long, Inflight> _inflight = [];
    private readonly List<FlowMiss>[] _misses = [.. Enumerable.Range(0, Buckets).Select(_ => new List<FlowMiss>())];
    private IActorRef? _region;
    private long _sequence;
    private long _shardMoves;
    private int _parked;
    private bool _traceMisses;

    private readonly record struct Parked(byte[] Frame, FlowKey Key, ulong Hash);

    private sealed record Inflight(int Bucket, List<Parked> Frames, long SentAt);

    public void Park(int bucket, ReadOnlySpan<byte> frame, in FlowKey key, ulong hash, TcpFlags tcpFlags, byte ttl, PortRole role, bool trace)
    {
        if (_parked >= _settings.ResolverBacklog)
        {
            _dp.Counters.Drops[(int)GatewayDrop.ResolverBacklog]++;
            return;
        }
        _parked++;
        _pending[bucket].Add(new Parked(frame.ToArray(), key, hash));
        _misses[bucket].Add(new FlowMiss(GatewayDatapath.KeyBytes(key), (byte)tcpFlags, ttl, role == PortRole.Uplink));
        _traceMisses |= trace;
    }

    /// <summary>Sends each bucket's parked misses to its entity, one message per bucket.</summary>
    private void FlushMisses()
    {
        if (_region is null) return;
        FlushConnectionChanges(); // first: a FIN tracked on a hit precedes any later miss of its connection
        var now = Environment.TickCount64;
        for (var b = 0; b < Buckets; b++)
        {
            if (_pending[b].Count == 0) continue;
            var seq = ++_sequence;
            SendToEntity(b, new ResolveFlows(_spec.Intent.Name, b, _dp.Plan.Generation, seq, [.. _misses[b]], _traceMisses));
            _inflight[seq] = new Inflight(b, _pending[b], now);
            _pending[b] = [];
            _misses[b].Clear();
        }
        _traceMisses = false;
    }

    /// <summary>
    /// To a bucket's entity: straight to it when it answered from this node (no region and shard
    /// hop on the miss path), else through the region, which finds it wherever it runs and holds
    /// messages while it moves. A local entity that stops is known at once (Terminated), and the
    /// region is used again.
    /// </summary>
    private void SendToEntity(int bucket, IFlowCacheMessage message)
    {
        if (Volatile.Read(ref _entities[bucket]) is { } entity && entity.Path.Address.HasLocalScope) entity.Tell(message, _self);
        else _region?.Tell(message, _self);
    }

    private void OnResolved(FlowsResolved r)
    {
        if (!_inflight.Remove(r.Sequence, out var inflight)) return; // timed out already
        Watch(inflight.Bucket, Sender);
        var now = Environment.TickCount64;
        for (var i = 0; i < inflight.Frames.Count && i < r.Resolutions.Length; i++)
        {
            var p = inflight.Frames[i];
            _dp.CompleteMiss(p.Frame, p.Key, p.Hash, r.Resolutions[i], r.Generation, now, this);
        }
        if (r.Resolutions.Length < inflight.Frames.Count) _dp.Counters.Drops[(int)GatewayDrop.ResolverNoAnswer] += inflight.Frames.Count - r.Resolutions.Length;
        _parked -= inflight.Frames.Count;
        FlushOut();
    }

    private void Watch(int bucket, IActorRef entity)
    {
        var known = _entities[bucket];
        if (entity.Equals(known) || entity.IsNobody()) return;
        if (known is not null) Context.Unwatch(known);
        _entities[bucket] = entity;
        Context.Watch(entity);
    }

    private void OnTerminated(Terminated t)
    {
        for (var b = 0; b < Buckets; b++)
        {
            if (!t.ActorRef.Equals(_entities[b])) continue;
            _entities[b] = null;
            _shardMoves++;
            if (_entityIncarnations[b] != 0) _deadEntities.Add(_entityIncarnations[b]);
            _entityIncarnations[b] = 0;
            // Its local entries stay: hits go on. Its successor gets the leases and mirrored connections now.
            ConfigureBucket(b, restore: true);
            _log.Info("Gateway {0}: flow-cache entity of bucket {1} stopped ({2}); its successor is restored with {3} connections",
                _spec.Intent.Name, b, t.ActorRef.Path.Address, _dp.Shards[b].Connections.Count);
        }
    }

    private void ExpireInflight(long now)
    {
        var timeout = (long)_settings.ResolverTimeout.TotalMilliseconds;
        foreach (var (seq, inflight) in _inflight.Where(kv => now - kv.Value.SentAt > timeout).ToList())
        {
            _inflight.Remove(seq);
            _parked -= inflight.Frames.Count;
            _dp.Counters.Drops[(int)GatewayDrop.ResolverTimeout] += inflight.Frames.Count;
        }
    }
}
