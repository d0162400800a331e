using System.Collections.Immutable;
using Akka.Actor;
using Fabric.Actors.Scheduling;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Fabric.Actors.DataPlane.Flow;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Gateway.Pipeline;
using Fabric.Messages.Gateway;

namespace Fabric.Actors.Gateway.Actors;

/// <summary>Registry key of the flow-cache shard region (<c>IRequiredActor&lt;FlowCacheRegion&gt;</c>).</summary>
public sealed class FlowCacheRegion
{
    public const string Name = "flow-cache";

    /// <summary>Shards of the region; entities (gateway, bucket) are spread over them by a stable hash.</summary>
    public const int MaxShards = 64;
}

/// <summary>
/// Entity id <c>gateway:bucket</c>; shard = FNV-1a of the id modulo <see cref="FlowCacheRegion.MaxShards"/>
/// (stable across processes, unlike string.GetHashCode). Only <see cref="IFlowCacheMessage"/>s
/// travel through the region, so everything that crosses nodes is on the Hyperion allow-list.
/// </summary>
public sealed class FlowCacheMessageExtractor : IMessageExtractor
{
    public static string EntityIdOf(string gateway, int bucket) => $"{gateway}:{bucket}";

    public string? EntityId(object message) => message is IFlowCacheMessage m ? EntityIdOf(m.Gateway, m.Bucket) : null;

    public object? EntityMessage(object message) => message;

    public string? ShardId(object message) => EntityId(message) is { } id ? ShardId(id) : null;

    public string ShardId(string entityId, object? messageHint = null)
    {
        uint h = 2166136261;
        foreach (var c in entityId) h = (h ^ c) * 16777619;
        return (h % FlowCacheRegion.MaxShards).ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}

/// <summary>
/// One bucket of a gateway's flow cache as a Cluster.Sharding entity: it owns the bucket's NAT
/// bindings, port blocks and connections, and runs the stages for the misses the gateway sends
/// it in batches (the hits never leave the gateway). Nothing is persisted. Port blocks are lent
/// by the gateway's ledger (a few spares ahead; emptied blocks go back); idle connections are
/// confirmed with the gateway, which sees the hits, before they and their bindings go; closed
/// ones go after the closed hold. A new incarnation (its node left, the shard moved) waits for
/// the gateway's restore: the bucket's leases and the connections the gateway mirrors, with
/// their external ports, so established connections keep their ports.
/// </summary>
public sealed class FlowCacheEntity : ReceiveActor, IWithStash, IWithTimers
{
    /// <summary>Flows the entity's own cache could hold: it decides, the gateway caches.</summary>
    private const int MaxFlows = 16;

    /// <summary>
    /// Connections a sweep looks at per hold of the bucket's lock: a gateway deciding here waits
    /// for one chunk (~0.1 ms), not for a whole sweep (a few ms with thousands closing a second).
    /// </summary>
    private const int SweepChunk = 128;

    private readonly int _bucket;
    private readonly string _node;
    private readonly DateTimeOffset _started = DateTimeOffset.UtcNow;
    private readonly List<Connection> _toConfirm = [];
    private readonly HashSet<uint> _wanted = [];
    private readonly long _incarnation = Random.Shared.NextInt64(1, long.MaxValue);
    /// <summary>The bucket's shard and plan, under a lock: a gateway on this node decides misses with them directly.</summary>
    private readonly FlowCacheBucket _state;
    private IActorRef? _gateway;
    private string _gatewayName = "";
    private long _gatewayIncarnation;
    private long _leaseVersion;
    private bool _askedForConfig;
    /// <summary>The deadline the sweep timer is armed for (<see cref="long.MaxValue"/>: not armed).</summary>
    private long _sweepAt = long.MaxValue;

    public IStash Stash { get; set; } = null!;
    public ITimerScheduler Timers { get; set; } = null!;

    public FlowCacheEntity(string entityId)
    {
        _bucket = int.TryParse(entityId.AsSpan(entityId.LastIndexOf(':') + 1), out var b) ? b : 0;
        _node = Cluster.Get(Context.System).SelfAddress.ToString();
        _state = new FlowCacheBucket(Self);

        Receive<ConfigureFlowCache>(Configure);
        Receive<ResolveFlows>(Resolve);
        Receive<GrantPortBlocks>(g =>
        {
            if (g.GatewayIncarnation != _gatewayIncarnation) return;
            ApplyLeases(g.LeaseVersion, g.Leases);
            _wanted.Clear();
        });
        Receive<ConnectionsChecked>(m =>
        {
            _state.ApplyConfirm(m, Environment.TickCount64);
            UpdateBlocks();
        });
        Receive<ConnectionsUpdated>(m => _state.ApplyUpdates(m.Updates, Environment.TickCount64));
        Receive<FlowCacheUpkeep>(_ =>
        {
            // A gateway on this node decided or tracked here directly (the sweep is armed after every message).
            _state.UpkeepDone();
            UpdateBlocks();
        });
        Receive<Sweep>(_ => OnSweep());
        Receive<GetFlowCacheStats>(g => Sender.Tell(Stats(g)));
    }

    protected override void PreStart() => FlowCacheBuckets.For(Context.System).Add(Self, _state);

    protected override void PostStop()
    {
        FlowCacheBuckets.For(Context.System).Remove(Self);
        lock (_state.Gate) _state.Stopped = true;
    }

    /// <summary>
    /// Every message may have filed or swept connections: the sweep is armed for the next one due.
    /// Holds the bucket's lock throughout (a gateway on this node may be deciding with it).
    /// </summary>
    protected override bool AroundReceive(Receive receive, object message)
    {
        if (message is Sweep)
        {
            // The sweep takes the lock a chunk at a time (OnSweep).
            var swept = base.AroundReceive(receive, message);
            lock (_state.Gate) ArmSweep();
            return swept;
        }

        lock (_state.Gate)
        {
            var handled = base.AroundReceive(receive, message);
            ArmSweep();
            return handled;
        }
    }

    /// <summary>
    /// Arms the sweep for when the first connection can be due, or stops it while none is
    /// tracked: an idle bucket never wakes (it used to sweep every sweep-interval regardless).
    /// </summary>
    private void ArmSweep()
    {
        if (!Timers.IsTimerActive(Sweep.Instance)) _sweepAt = long.MaxValue; // fired, or cancelled with the shard
        Timers.ArmAt(Sweep.Instance, _state.Shard?.Connections.NextDue ?? long.MaxValue, ref _sweepAt);
        _state.SweepArmedAt = _sweepAt;
    }

    private void Configure(ConfigureFlowCache c)
    {
        _gateway = Sender;
        _gatewayName = c.Gateway;
        if (_gatewayIncarnation != 0 && c.GatewayIncarnation != _gatewayIncarnation)
        {
            // A new gateway actor: its ledger knows none of our leases. Start NAT afresh.
            _state.Shard?.Reset();
            _leaseVersion = 0;
            _state.AwaitingRestore = true;
        }
        _gatewayIncarnation = c.GatewayIncarnation;
        if (_state.Shard is null)
        {
            var settings = c.Settings is { } s ? GatewaySettings.FromMessage(s) : GatewaySettings.Default;
            _state.Shard = new FlowCacheShard(_bucket, MaxFlows, 0, settings, lender: null, lastSeenElsewhere: true);
        }
        if (_state.Plan is null || c.Generation > _state.Plan.Generation)
        {
            // The same builders as the gateway's stage actors, keeping the tables whose part did not change.
            var vnis = c.Vnis.ToDictionary(v => v.Tenant, v => v.Vni);
            var previous = _state.Plan?.Tenants.ToDictionary(t => t.Name, t => t.Tables);
            _state.Plan = GatewayPlan.Assemble(c.Intent, c.Generation, GatewayPlan.Layout(c.Intent, vnis, _state.Shard.Nat.Settings.PortBlockSize),
                l => TenantStageTables.Build(l, previous?.GetValueOrDefault(l.Intent.Tenant)), new MacAddress(c.Mac));
        }
        ApplyLeases(c.LeaseVersion, c.Leases);
        if (c.Restore && _state.AwaitingRestore)
        {
            if (!c.Connections.IsDefaultOrEmpty) _state.Shard.Restore(_state.Plan, c.Connections, Environment.TickCount64);
            _state.AwaitingRestore = false;
        }
        else if (_state.AwaitingRestore)
        {
            Sender.Tell(new FlowCacheNeedsConfig(c.Gateway, _bucket, _state.Plan.Generation, Fresh: true));
            return;
        }
        _askedForConfig = false;
        Stash.UnstashAll();
    }

    private void Resolve(ResolveFlows r)
    {
        if (_state.Plan is null || _state.Shard is null || r.Generation > _state.Plan.Generation || _state.AwaitingRestore)
        {
            Stash.Stash();
            if (!_askedForConfig) Sender.Tell(new FlowCacheNeedsConfig(r.Gateway, r.Bucket, r.Generation, Fresh: _state.AwaitingRestore));
            _askedForConfig = true;
            return;
        }
        _gateway = Sender;
        var now = Environment.TickCount64;
        var answers = ImmutableArray.CreateBuilder<FlowResolution>(r.Misses.Length);
        foreach (var m in r.Misses) answers.Add(FlowResolver.Resolve(_state.Shard, _state.Plan, m, now, r.Trace));
        _state.Resolved += r.Misses.Length;
        _state.Batches++;
        UpdateBlocks(); // before the answer: the gateway learns of returns and needs in order
        Sender.Tell(new FlowsResolved(r.Gateway, r.Bucket, _state.Plan.Generation, r.Sequence, answers.MoveToImmutable()));
    }

    /// <summary>Expires what is due: closed connections past their hold go; idle-looking ones are confirmed with the gateway.</summary>
    private void OnSweep()
    {
        var now = Environment.TickCount64;
        _toConfirm.Clear();
        var more = true;
        while (more)
        {
            lock (_state.Gate)
            {
                if (_state.Shard is null) return;
                _state.Shard.Expire(now, _toConfirm, out more, SweepChunk);
            }
        }
        lock (_state.Gate) Confirm(now);
    }

    /// <summary>Holding the lock: the idle-looking connections of a sweep are confirmed with the gateway (which sees the hits), then blocks are updated.</summary>
    private void Confirm(long now)
    {
        if (_state.Shard is null) return;
        if (_toConfirm.Count > 0)
        {
            if (_gateway is null)
            {
                foreach (var c in _toConfirm) _state.Shard.Connections.Confirm(c.Key, -1, c.State, now);
            }
            else
            {
                _gateway.Tell(new CheckConnections(_gatewayName, _bucket, [.. _toConfirm.Select(c => FlowResolver.ToWire(c))]));
            }
        }
        UpdateBlocks();
    }

    /// <summary>Hands emptied blocks back and asks for spares where they ran low (once until the gateway answers).</summary>
    private void UpdateBlocks()
    {
        if (_state.Shard is null || _gateway is null) return;
        var returned = _state.Shard.Nat.TakeReturned();
        var wanted = _state.Shard.Nat.Deficits().Where(d => _wanted.Add(d.Tenant)).Select(d => new SpareBlocks(d.Tenant, d.Spares, d.Starved)).ToImmutableArray();
        if (returned.Count == 0 && wanted.IsEmpty) return;
        var blocks = returned.GroupBy(r => r.Tenant)
            .Select(g => new PortBlockLeases(g.Key, _state.Shard.Nat.Settings.PortBlockSize, [.. g.Select(r => FlowResolver.ToWire(r.Block))]))
            .ToImmutableArray();
        _gateway.Tell(new UpdatePortBlocks(_gatewayName, _bucket, _gatewayIncarnation, _incarnation, blocks, wanted));
    }

    private void ApplyLeases(long version, ImmutableArray<PortBlockLeases> leases)
    {
        if (_state.Shard is null || leases.IsDefault || version <= _leaseVersion) return;
        _leaseVersion = version;
        foreach (var l in leases)
        {
            _state.Shard.Nat.Reconcile(l.Tenant, l.BlockSize, l.Blocks.Select(FlowResolver.BlockOf).ToHashSet());
        }
    }

    private FlowCacheEntityStats Stats(GetFlowCacheStats g)
    {
        var nat = _state.Shard?.Nat;
        return new FlowCacheEntityStats(
            g.Gateway, g.Bucket, _node, _state.Plan?.Generation ?? 0, nat?.Count ?? 0, _state.Shard?.Connections.Count ?? 0, _state.Resolved, _state.Batches, _started,
            nat?.BlocksInUse ?? 0, nat?.SpareCount ?? 0, nat?.Created ?? 0, nat?.Released ?? 0, nat?.Exhausted ?? 0, _state.Shard?.Connections.Expired ?? 0,
            nat?.Remembered ?? 0, nat?.Revived ?? 0, nat?.Reclaimed ?? 0);
    }

    private sealed class Sweep
    {
        public static readonly Sweep Instance = new();
    }
}

/// <summary>The entity half of the sharded miss path, plain C#: decide one miss (the same routine as in process) and say what to cache.</summary>
public static class FlowResolver
{
    private const byte NoConnection = 255;

    public static FlowResolution Resolve(FlowCacheShard shard, GatewayPlan plan, FlowMiss m, long now, bool trace) =>
        Resolve(shard, plan, GatewayDatapath.KeyFrom(m.Key), (TcpFlags)m.TcpFlags, m.Ttl, m.FromUplink, now, trace);

    /// <summary>One miss, decided from its key and the packet's TCP flags and TTL, answered by message (the entity's way).</summary>
    public static FlowResolution Resolve(FlowCacheShard shard, GatewayPlan plan, in FlowKey key, TcpFlags tcpFlags, byte ttl, bool fromUplink, long now, bool trace)
    {
        Span<uint> tally = stackalloc uint[GatewayPipeline.MaxStages];
        Decide(shard, plan, key, tcpFlags, ttl, fromUplink, now, tally, out var a);
        var lines = ImmutableArray<string>.Empty;
        if (trace && a.TallyCount > 0)
        {
            var b = ImmutableArray.CreateBuilder<string>(a.TallyCount);
            foreach (var rec in shard.LastRecords(a.TallyCount)) b.Add(rec.ToString());
            lines = b.MoveToImmutable();
        }
        ref var d = ref a.Decision;
        ref var o = ref d.Outcome;
        FlowRewrite? reply = d.HasReply ? GatewayDatapath.ToWire(d.ReplyRewrites, d.ReplyOutPort, d.ReplyStages) : null;
        FlowConnection? connection = a.HasConnection ? ToWire(a.ConnectionKey, a.FromInside, a.ExternalAddress, a.ExternalPort) : null;
        return new FlowResolution(
            (byte)o.Verdict, (byte)o.Reason, (byte)o.Reject,
            GatewayDatapath.ToWire(o.Rewrites, o.OutPort, o.Stages),
            o.OutPort, o.NextHop.ToUInt32(), (byte)o.Stages, (byte)a.StageMask, d.Cacheable,
            a.HasConnection ? (byte)a.ConnectionState : NoConnection, connection, reply, lines, (ushort)o.Consulted, [.. tally[..a.TallyCount]]);
    }

    /// <summary>
    /// One miss decided, as the gateway will act on it (<see cref="EntityAnswer"/>: the values a
    /// FlowResolution carries, read the way <see cref="GatewayDatapath.AnswerOf"/> reads them):
    /// by <see cref="Resolve"/> for the message, or by a gateway deciding here under the entity's
    /// lock, which then makes no object. The stage records' tallies go to <paramref name="tally"/>.
    /// </summary>
    public static void Decide(FlowCacheShard shard, GatewayPlan plan, in FlowKey key, TcpFlags tcpFlags, byte ttl, bool fromUplink, long now, Span<uint> tally, out EntityAnswer answer)
    {
        answer = default;
        var port = plan.Port(key.IngressPort);
        if (port is null)
        {
            answer.Decision = GatewayDatapath.DecisionOf((byte)StageVerdict.Drop, (byte)GatewayDrop.UnknownPort, 0, default, 0, 0, 0, 0, false, default, null, 0, 0);
            return;
        }
        var facts = new PacketFacts { Key = key, TcpFlags = tcpFlags, Ttl = ttl, Ingress = fromUplink ? PortRole.Uplink : PortRole.Downlink };
        var d = shard.Decide(ref facts, plan.Tenants[port.TenantIndex], plan, now);
        var o = d.Outcome;
        var records = shard.LastRecords(o.Stages);
        var mask = 0;
        for (var i = 0; i < records.Length; i++)
        {
            mask |= 1 << (int)records[i].Stage;
            tally[i] = records[i].Tally;
        }
        // Through the message's widths, so a decision made here is the one a message would carry.
        answer.Decision = GatewayDatapath.DecisionOf((byte)o.Verdict, (byte)o.Reason, (byte)o.Reject, o.Rewrites, o.OutPort, o.NextHop.ToUInt32(), (byte)o.Stages,
            (ushort)o.Consulted, d.Cacheable, tally[..records.Length], d.HasReply ? d.ReplyRewrites : null, d.ReplyOutPort, (byte)d.ReplyStages);
        answer.StageMask = (byte)mask;
        answer.TallyCount = records.Length;
        if (o.Connection is { } c)
        {
            answer.HasConnection = true;
            answer.ConnectionState = c.State;
            answer.ConnectionKey = c.Key;
            answer.FromInside = c.FromInside;
            (answer.ExternalAddress, answer.ExternalPort) = c.External;
        }
    }

    public static FlowConnection ToWire(Connection c) => ToWire(c.Key, c.FromInside, c.External.Address, c.External.Port);

    public static FlowConnection ToWire(in ConnectionKey k, bool fromInside, Ipv4Address externalAddress, ushort externalPort) => new(
        k.Tenant, (byte)k.Protocol, k.InsideAddress.ToUInt32(), k.InsidePort, k.RemoteAddress.ToUInt32(), k.RemotePort, fromInside,
        externalAddress.ToUInt32(), externalPort);

    public static ConnectionKey KeyOf(FlowConnection fc) =>
        new(fc.Tenant, (IpProtocol)fc.Protocol, new Ipv4Address(fc.InsideAddress), fc.InsidePort, new Ipv4Address(fc.RemoteAddress), fc.RemotePort);

    /// <summary>A port block on the wire: address in the high bits, first port in the low 16.</summary>
    public static ulong ToWire(PortBlock b) => (ulong)b.Address.ToUInt32() << 16 | b.FirstPort;

    public static PortBlock BlockOf(ulong wire) => new(new Ipv4Address((uint)(wire >> 16)), (ushort)wire);
}
