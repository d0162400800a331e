using Akka.Actor;
using Akka.Event;
using Fabric.Actors.DataPlane.Flow;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Gateway.Pipeline;
using Fabric.Messages.Gateway;

namespace Fabric.Actors.Gateway.Actors;

// The sharded miss path, the gateway's side of its flow-cache entities. A miss is parked (its frame
// copied), the batch's misses go to their bucket's entity in one ResolveFlows per bucket, and the
// answer installs the entries and releases the frames. The resolver watches each entity that
// answered: when one stops (its node left or died, or the shard was rebalanced) the bucket's local
// entries stay (hits go on) and its new incarnation is restored from what the gateway mirrors
// (MissResolver.Nat.cs). Every parked frame ends in an answer or a counted drop: resolver-backlog
// (too many waiting), resolver-timeout (no answer in fabric.gateway.resolver.timeout),
// resolver-no-answer (an answer that did not cover it).
//
// Direct mode: when a bucket's entity runs on this node, the resolver first sends it a barrier (an
// empty ResolveFlows, straight and through the region) and, once both are answered with nothing
// else sent to it in between and no miss of the bucket in flight, decides the bucket's misses on
// the calling thread (a port's receive thread) under the entity's lock (FlowCacheBucket), and
// hands it connection changes and idle answers the same way: everything the entity was sent
// before has been handled, and nothing is sent after, so the entity sees one order. A bucket
// leaves direct mode when its entity cannot decide (a newer configuration on its way, a restore
// pending, stopped) or stops; its misses go by message again until the next barrier.

/// <summary>
/// Resolves a gateway's misses with its flow-cache entities (Cluster.Sharding region
/// <c>flow-cache</c>) and keeps those entities able to decide: configured, lent port blocks, and
/// restored after a move. Used under the data path's lock.
/// </summary>
internal sealed partial class MissResolver : IMissResolver
{
    private readonly IActorRef?[] _entities;
    private readonly List<Parked>[] _pending;
    private readonly Dictionary<long, Inflight> _inflight = [];
    private readonly List<FlowMiss>[] _misses;
    private readonly GatewayDatapath _dp;
    private readonly GatewaySettings _settings;
    private readonly IActorRef _region;
    private readonly IActorRef _self;
    private readonly IActorContext _context;
    private readonly CoordinatedShutdown _shutdown;
    private bool _stopping;
    private readonly ILoggingAdapter _log;
    private readonly GatewayPorts _output;
    private long _sequence;
    private int _parked;
    /// <summary>Something was parked, or a connection changed, since the last <see cref="Flush"/> (which then has work).</summary>
    private bool _parkedSinceFlush, _changedSinceFlush;
    private bool _traceMisses;
    /// <summary>Per bucket: its local entity's state while in direct mode (null: misses go by message).</summary>
    private readonly FlowCacheBucket?[] _direct;
    /// <summary>Per bucket: the barrier on its way (its first sequence number; 0: none) and how many of its two answers are still out.</summary>
    private readonly long[] _barrier;
    private readonly int[] _barrierOut;
    /// <summary>Per bucket: something was sent to the entity after the barrier, which therefore proves nothing.</summary>
    private readonly bool[] _sentSinceBarrier;
    private readonly FlowCacheBuckets _localEntities;

    private readonly record struct Parked(byte[] Frame, FlowKey Key, ulong Hash);

    /// <param name="Barrier">The barrier this is one half of (0: a batch of misses).</param>
    private sealed record Inflight(int Bucket, List<Parked> Frames, long SentAt, long Barrier = 0);

    /// <param name="context">The gateway actor's context: entities are watched from it, answers come to its <paramref name="self"/>.</param>
    public MissResolver(GatewayDatapath dp, GatewaySettings settings, GatewaySpec spec, IActorRef region, IActorRef self, IActorContext context,
        ILoggingAdapter log, GatewayPorts output)
    {
        _dp = dp;
        _settings = settings;
        Buckets = dp.Shards.Length;
        _entities = new IActorRef?[Buckets];
        _pending = [.. Enumerable.Range(0, Buckets).Select(_ => new List<Parked>())];
        _misses = [.. Enumerable.Range(0, Buckets).Select(_ => new List<FlowMiss>())];
        _entityIncarnations = new long[Buckets];
        _changed = [.. Enumerable.Range(0, Buckets).Select(_ => new List<(Connection, uint)>())];
        _direct = new FlowCacheBucket?[Buckets];
        _barrier = new long[Buckets];
        _barrierOut = new int[Buckets];
        _sentSinceBarrier = new bool[Buckets];
        _localEntities = FlowCacheBuckets.For(context.System);
        Spec = spec;
        _region = region;
        _self = self;
        _context = context;
        _shutdown = CoordinatedShutdown.Get(context.System);
        _log = log;
        _output = output;
    }

    /// <summary>The gateway's flow-cache buckets (one entity each): its data path's shards, <c>fabric.gateway.buckets</c>.</summary>
    private int Buckets { get; }

    /// <summary>The gateway's configuration as of the data path's plan (sent to the entities).</summary>
    public GatewaySpec Spec { get; set; }

    /// <summary>Entities that stopped and were replaced (shard moves) since the gateway started.</summary>
    public long ShardMoves { get; private set; }

    /// <summary>Misses decided on the calling thread with a local entity's state (direct mode).</summary>
    public long ResolvedHere { get; private set; }

    /// <summary>Buckets whose misses are decided here (direct mode).</summary>
    public int DirectBuckets => _direct.Count(d => d is not null);

    /// <summary>Missed frames waiting for an answer.</summary>
    public int Waiting => _pending.Sum(p => p.Count) + _inflight.Values.Sum(i => i.Frames.Count);

    /// <summary>The entity that last answered for <paramref name="bucket"/> (null: none yet, or it stopped).</summary>
    public IActorRef? EntityOf(int bucket) => _entities[bucket];

    /// <summary>
    /// Decides a miss here when its bucket is in direct mode (its entity on this node, drained):
    /// under the entity's lock, as the entity would. False: park it (and the bucket leaves direct
    /// mode if its entity could not decide).
    /// </summary>
    public bool TryResolveHere(int bucket, in FlowKey key, TcpFlags tcpFlags, byte ttl, PortRole role, bool trace, Span<uint> tally,
        out EntityAnswer answer, out List<string>? traceLines, out uint generation)
    {
        if (_direct[bucket] is not { } entity)
        {
            answer = default;
            traceLines = null;
            generation = 0;
            return false;
        }
        var now = Environment.TickCount64;
        FlushConnectionChanges(bucket, now); // a FIN tracked earlier in this batch comes first
        if (!entity.TryDecide(key, tcpFlags, ttl, role == PortRole.Uplink, _dp.Plan.Generation, trace, now, tally, out answer, out traceLines, out generation))
        {
            LeaveDirect(bucket);
            return false;
        }
        ResolvedHere++;
        return true;
    }

    public void Park(int bucket, ReadOnlySpan<byte> frame, in FlowKey key, ulong hash, TcpFlags tcpFlags, byte ttl, PortRole role, bool trace)
    {
        if (_parked >= _settings.ResolverBacklog)
        {
            _dp.Counters.Drop(GatewayDrop.ResolverBacklog);
            return;
        }
        _parked++;
        _parkedSinceFlush = true;
        _pending[bucket].Add(new Parked(frame.ToArray(), key, hash));
        _misses[bucket].Add(new FlowMiss(GatewayDatapath.KeyBytes(key), (byte)tcpFlags, ttl, role == PortRole.Uplink));
        _traceMisses |= trace;
    }

    /// <summary>
    /// True once the node's coordinated shutdown has begun: its flow-cache region then hands its
    /// shards off and holds what it is sent until its phase times out (10 s added to every stop),
    /// so nothing more goes to it and misses are dropped, counted as node-stopping.
    /// </summary>
    private bool Stopping => _stopping || (_stopping = _shutdown.ShutdownReason is not null);

    /// <summary>Sends each bucket's parked misses to its entity, one message per bucket.</summary>
    public void Flush()
    {
        // A batch of hits moved no connection and parked nothing: the common case costs two reads.
        if (!_changedSinceFlush && !_parkedSinceFlush) return;
        var now = Environment.TickCount64;
        if (_changedSinceFlush)
        {
            for (var b = 0; b < Buckets; b++) FlushConnectionChanges(b, now); // first: a FIN tracked on a hit precedes any later miss of its connection
            _changedSinceFlush = false;
        }
        if (!_parkedSinceFlush) return;
        _parkedSinceFlush = false;
        var stopping = Stopping;
        for (var b = 0; b < Buckets; b++)
        {
            if (_pending[b].Count == 0) continue;
            if (stopping)
            {
                _dp.Counters.Drop(GatewayDrop.NodeStopping, _pending[b].Count);
                _parked -= _pending[b].Count;
            }
            else
            {
                var seq = ++_sequence;
                SendToEntity(b, new ResolveFlows(Spec.Intent.Name, b, _dp.Plan.Generation, seq, [.. _misses[b]], _traceMisses));
                _inflight[seq] = new Inflight(b, _pending[b], now);
            }
            _pending[b] = [];
            _misses[b].Clear();
        }
        _traceMisses = false;
    }

    /// <summary>An entity's answer (<paramref name="entity"/> is its sender): installs the entries, releases the frames out of their ports.</summary>
    public void OnResolved(FlowsResolved r, IActorRef entity)
    {
        if (!_inflight.Remove(r.Sequence, out var inflight)) return; // timed out already
        Watch(inflight.Bucket, entity);
        if (inflight.Barrier != 0) BarrierAnswered(inflight.Bucket, inflight.Barrier);
        else SendBarrier(inflight.Bucket);
        var now = Environment.TickCount64;
        for (var i = 0; i < inflight.Frames.Count && i < r.Resolutions.Length; i++)
        {
            var p = inflight.Frames[i];
            _dp.CompleteMiss(p.Frame, p.Key, p.Hash, r.Resolutions[i], r.Generation, now, _output);
        }
        if (r.Resolutions.Length < inflight.Frames.Count) _dp.Counters.Drop(GatewayDrop.ResolverNoAnswer, inflight.Frames.Count - r.Resolutions.Length);
        _parked -= inflight.Frames.Count;
        _output.Flush();
    }

    /// <summary>
    /// A watched entity stopped: its bucket's local entries stay (hits go on) and its successor is
    /// restored at once, unless the node is shutting down: the region then hands its shards off and
    /// waits for what it holds, and a restore sent to it would hold up the node's stop for the
    /// whole shard-region phase (10 s) for a gateway that stops too.
    /// </summary>
    public void OnTerminated(Terminated t)
    {
        var stopping = Stopping;
        for (var b = 0; b < Buckets; b++)
        {
            if (!t.ActorRef.Equals(_entities[b])) continue;
            _entities[b] = null;
            LeaveDirect(b);
            ShardMoves++;
            if (_entityIncarnations[b] != 0) _deadEntities.Add(_entityIncarnations[b]);
            _entityIncarnations[b] = 0;
            if (stopping) continue;
            ConfigureBucket(b, restore: true);
            _log.Info("Gateway {0}: flow-cache entity of bucket {1} stopped ({2}); its successor is restored with {3} connections",
                Spec.Intent.Name, b, t.ActorRef.Path.Address, _dp.Shards[b].Connections.Count);
        }
    }

    /// <summary>When (Environment.TickCount64 ms) <see cref="ExpireInflight"/> next has frames to drop; <see cref="long.MaxValue"/>: none waits.</summary>
    public long NextInflightExpiry
    {
        get
        {
            if (_inflight.Count == 0) return long.MaxValue; // every batch asks: the common answer costs one read
            var first = long.MaxValue;
            foreach (var inflight in _inflight.Values) first = Math.Min(first, inflight.SentAt);
            return first == long.MaxValue ? first : first + (long)_settings.ResolverTimeout.TotalMilliseconds + 1;
        }
    }

    /// <summary>Drops (counted) the frames whose answer is later than fabric.gateway.resolver.timeout.</summary>
    public void ExpireInflight(long now)
    {
        var timeout = (long)_settings.ResolverTimeout.TotalMilliseconds;
        foreach (var (seq, inflight) in _inflight.Where(kv => now - kv.Value.SentAt > timeout).ToList())
        {
            _inflight.Remove(seq);
            if (inflight.Barrier == _barrier[inflight.Bucket]) _barrier[inflight.Bucket] = 0; // a later answer proves nothing
            _parked -= inflight.Frames.Count;
            _dp.Counters.Drop(GatewayDrop.ResolverTimeout, inflight.Frames.Count);
        }
    }

    /// <summary>
    /// To a bucket's entity: straight to it when it answered from this node (no region and shard
    /// hop on the miss path), else through the region, which finds it wherever it runs and holds
    /// messages while it moves. A local entity that stops is known at once (Terminated), and the
    /// region is used again.
    /// </summary>
    private void SendToEntity(int bucket, IFlowCacheMessage message)
    {
        if (Stopping) return; // see Stopping: the node goes, and its connections with it

        _sentSinceBarrier[bucket] = true;
        if (Volatile.Read(ref _entities[bucket]) is { } entity && entity.Path.Address.HasLocalScope) entity.Tell(message, _self);
        else _region.Tell(message, _self);
    }

    private void Watch(int bucket, IActorRef entity)
    {
        var known = _entities[bucket];
        if (entity.Equals(known) || entity.IsNobody()) return;
        if (known is not null) _context.Unwatch(known);
        LeaveDirect(bucket);
        _entities[bucket] = entity;
        _context.Watch(entity);
    }

    /// <summary>
    /// After an answer from a bucket's entity on this node, outside direct mode and with no
    /// barrier on its way: an empty ResolveFlows straight to the entity and another through the
    /// region, behind everything sent before by either way.
    /// </summary>
    private void SendBarrier(int bucket)
    {
        if (_direct[bucket] is not null || _barrier[bucket] != 0) return;
        if (_entities[bucket] is not { } entity || !entity.Path.Address.HasLocalScope || _localEntities.Of(entity) is null) return;
        var now = Environment.TickCount64;
        var token = _sequence + 1;
        foreach (var straight in (ReadOnlySpan<bool>)[true, false])
        {
            var seq = ++_sequence;
            var barrier = new ResolveFlows(Spec.Intent.Name, bucket, _dp.Plan.Generation, seq, [], false);
            if (straight) entity.Tell(barrier, _self);
            else _region.Tell(barrier, _self);
            _inflight[seq] = new Inflight(bucket, [], now, token);
        }
        _barrier[bucket] = token;
        _barrierOut[bucket] = 2;
        _sentSinceBarrier[bucket] = false;
    }

    /// <summary>
    /// Half a barrier came back. With both, nothing sent since and no miss of the bucket in
    /// flight, the entity has handled everything it was sent: the bucket goes direct.
    /// </summary>
    private void BarrierAnswered(int bucket, long token)
    {
        if (token != _barrier[bucket] || --_barrierOut[bucket] > 0) return;
        _barrier[bucket] = 0;
        if (_sentSinceBarrier[bucket] || _pending[bucket].Count > 0 || _inflight.Values.Any(i => i.Bucket == bucket)) return;
        if (_entities[bucket] is { } entity && _localEntities.Of(entity) is { } state) _direct[bucket] = state;
    }

    private void LeaveDirect(int bucket)
    {
        _direct[bucket] = null;
        _barrier[bucket] = 0;
    }
}
