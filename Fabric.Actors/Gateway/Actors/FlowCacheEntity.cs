using System.Collections.Immutable;
using Akka.Actor;
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

    private readonly int _bucket;
    private readonly string _node;
    private readonly DateTimeOffset _started = DateTimeOffset.UtcNow;
    private readonly List<Connection> _toConfirm = [];
    private readonly HashSet<uint> _wanted = [];
    private readonly long _incarnation = Random.Shared.NextInt64(1, long.MaxValue);
    private FlowCacheShard? _shard;
    private GatewayPlan? _plan;
    private IActorRef? _gateway;
    private string _gatewayName = "";
    private long _gatewayIncarnation;
    private long _leaseVersion;
    private bool _awaitingRestore = true;
    private long _resolved;
    private long _batches;
    private bool _askedForConfig;
    /// <summary>The deadline the sweep timer is armed for (<see cref="long.MaxValue"/>: not armed).</summary>
    private long _sweepAt = long.MaxValue;

    public IStash Stash { get; set; } = null!;
    public ITimerScheduler Timers { get; set; } = null!;

    public FlowCacheEntity(string entityId)
    {
        _bucket = int.TryParse(entityId.AsSpan(entityId.LastIndexOf(':') + 1), out var b) ? b : 0;
        _node = Cluster.Get(Context.System).SelfAddress.ToString();

        Receive<ConfigureFlowCache>(Configure);
        Receive<ResolveFlows>(Resolve);
        Receive<GrantPortBlocks>(g =>
        {
            if (g.GatewayIncarnation != _gatewayIncarnation) return;
            ApplyLeases(g.LeaseVersion, g.Leases);
            _wanted.Clear();
        });
        Receive<ConnectionsChecked>(Checked);
        Receive<ConnectionsUpdated>(Updated);
        Receive<Sweep>(_ => OnSweep());
        Receive<GetFlowCacheStats>(g => Sender.Tell(Stats(g)));
    }

    /// <summary>Every message may have filed or swept connections: the sweep is armed for the next one due.</summary>
    protected override bool AroundReceive(Receive receive, object message)
    {
        var handled = base.AroundReceive(receive, message);
        ArmSweep();
        return handled;
    }

    /// <summary>
    /// Arms the sweep for when the first connection can be due, or stops it while none is
    /// tracked: an idle bucket never wakes (it used to sweep every sweep-interval regardless).
    /// </summary>
    private void ArmSweep()
    {
        var next = _shard?.Connections.NextDue ?? long.MaxValue;
        if (next == _sweepAt && (next == long.MaxValue || Timers.IsTimerActive(Sweep.Instance))) return;
        _sweepAt = next;
        if (next == long.MaxValue)
        {
            Timers.Cancel(Sweep.Instance);
            return;
        }
        var delay = Math.Max(1, next - Environment.TickCount64);
        Timers.StartSingleTimer(Sweep.Instance, Sweep.Instance, TimeSpan.FromMilliseconds(delay));
    }

    private void Configure(ConfigureFlowCache c)
    {
        _gateway = Sender;
        _gatewayName = c.Gateway;
        if (_gatewayIncarnation != 0 && c.GatewayIncarnation != _gatewayIncarnation)
        {
            // A new gateway actor: its ledger knows none of our leases. Start NAT afresh.
            _shard?.Reset();
            _leaseVersion = 0;
            _awaitingRestore = true;
        }
        _gatewayIncarnation = c.GatewayIncarnation;
        if (_shard is null)
        {
            var settings = c.Settings is { } s ? GatewaySettings.FromMessage(s) : GatewaySettings.Default;
            _shard = new FlowCacheShard(_bucket, MaxFlows, 0, settings, lender: null, lastSeenElsewhere: true);
        }
        if (_plan is null || c.Generation > _plan.Generation)
        {
            // The same builders as the gateway's stage actors, keeping the tables whose part did not change.
            var vnis = c.Vnis.ToDictionary(v => v.Tenant, v => v.Vni);
            var previous = _plan?.Tenants.ToDictionary(t => t.Name, t => t.Tables);
            _plan = GatewayPlan.Assemble(c.Intent, c.Generation, GatewayPlan.Layout(c.Intent, vnis, _shard.Nat.Settings.PortBlockSize),
                l => TenantStageTables.Build(l, previous?.GetValueOrDefault(l.Intent.Tenant)), new MacAddress(c.Mac));
        }
        ApplyLeases(c.LeaseVersion, c.Leases);
        if (c.Restore && _awaitingRestore)
        {
            if (!c.Connections.IsDefaultOrEmpty) _shard.Restore(_plan, c.Connections, Environment.TickCount64);
            _awaitingRestore = false;
        }
        else if (_awaitingRestore)
        {
            Sender.Tell(new FlowCacheNeedsConfig(c.Gateway, _bucket, _plan.Generation, Fresh: true));
            return;
        }
        _askedForConfig = false;
        Stash.UnstashAll();
    }

    private void Resolve(ResolveFlows r)
    {
        if (_plan is null || _shard is null || r.Generation > _plan.Generation || _awaitingRestore)
        {
            Stash.Stash();
            if (!_askedForConfig) Sender.Tell(new FlowCacheNeedsConfig(r.Gateway, r.Bucket, r.Generation, Fresh: _awaitingRestore));
            _askedForConfig = true;
            return;
        }
        _gateway = Sender;
        var now = Environment.TickCount64;
        var answers = ImmutableArray.CreateBuilder<FlowResolution>(r.Misses.Length);
        foreach (var m in r.Misses) answers.Add(FlowResolver.Resolve(_shard, _plan, m, now, r.Trace));
        _resolved += r.Misses.Length;
        _batches++;
        UpdateBlocks(); // before the answer: the gateway learns of returns and needs in order
        Sender.Tell(new FlowsResolved(r.Gateway, r.Bucket, _plan.Generation, r.Sequence, answers.MoveToImmutable()));
    }

    /// <summary>Expires what is due: closed connections past their hold go; idle-looking ones are confirmed with the gateway.</summary>
    private void OnSweep()
    {
        if (_shard is null) return;
        var now = Environment.TickCount64;
        _toConfirm.Clear();
        _shard.Expire(now, _toConfirm);
        if (_toConfirm.Count > 0)
        {
            if (_gateway is null)
            {
                foreach (var c in _toConfirm) _shard.Connections.Confirm(c.Key, -1, c.State, now);
            }
            else
            {
                _gateway.Tell(new CheckConnections(_gatewayName, _bucket, [.. _toConfirm.Select(c => FlowResolver.ToWire(c))]));
            }
        }
        UpdateBlocks();
    }

    private void Checked(ConnectionsChecked m)
    {
        if (_shard is null) return;
        var now = Environment.TickCount64;
        for (var i = 0; i < m.Connections.Length && i < m.IdleMs.Length && i < m.States.Length; i++)
        {
            _shard.Connections.Confirm(FlowResolver.KeyOf(m.Connections[i]), m.IdleMs[i], (ConnectionState)m.States[i], now);
        }
        UpdateBlocks();
    }

    /// <summary>FINs and RSTs the gateway tracked on cached packets: a closed connection starts its hold now.</summary>
    private void Updated(ConnectionsUpdated m)
    {
        if (_shard is null) return;
        var now = Environment.TickCount64;
        foreach (var u in m.Updates)
        {
            if (_shard.Connections.Find(FlowResolver.KeyOf(u.Connection)) is not { } c) continue;
            c.LastSeen = Math.Max(c.LastSeen, now);
            _shard.Connections.Update(c, (ConnectionState)u.State, u.FinFromInside, u.FinFromOutside, now);
        }
    }

    /// <summary>Hands emptied blocks back and asks for spares where they ran low (once until the gateway answers).</summary>
    private void UpdateBlocks()
    {
        if (_shard is null || _gateway is null) return;
        var returned = _shard.Nat.TakeReturned();
        var wanted = _shard.Nat.Deficits().Where(d => _wanted.Add(d.Tenant)).Select(d => new SpareBlocks(d.Tenant, d.Spares, d.Starved)).ToImmutableArray();
        if (returned.Count == 0 && wanted.IsEmpty) return;
        var blocks = returned.GroupBy(r => r.Tenant)
            .Select(g => new PortBlockLeases(g.Key, _shard.Nat.Settings.PortBlockSize, [.. g.Select(r => FlowResolver.ToWire(r.Block))]))
            .ToImmutableArray();
        _gateway.Tell(new UpdatePortBlocks(_gatewayName, _bucket, _gatewayIncarnation, _incarnation, blocks, wanted));
    }

    private void ApplyLeases(long version, ImmutableArray<PortBlockLeases> leases)
    {
        if (_shard is null || leases.IsDefault || version <= _leaseVersion) return;
        _leaseVersion = version;
        foreach (var l in leases)
        {
            _shard.Nat.Reconcile(l.Tenant, l.BlockSize, l.Blocks.Select(FlowResolver.BlockOf).ToHashSet());
        }
    }

    private FlowCacheEntityStats Stats(GetFlowCacheStats g)
    {
        var nat = _shard?.Nat;
        return new FlowCacheEntityStats(
            g.Gateway, g.Bucket, _node, _plan?.Generation ?? 0, nat?.Count ?? 0, _shard?.Connections.Count ?? 0, _resolved, _batches, _started,
            nat?.BlocksInUse ?? 0, nat?.SpareCount ?? 0, nat?.Created ?? 0, nat?.Released ?? 0, nat?.Exhausted ?? 0, _shard?.Connections.Expired ?? 0);
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

    public static FlowResolution Resolve(FlowCacheShard shard, GatewayPlan plan, FlowMiss m, long now, bool trace)
    {
        var key = GatewayDatapath.KeyFrom(m.Key);
        var port = plan.Port(key.IngressPort);
        if (port is null)
        {
            return new FlowResolution((byte)StageVerdict.Drop, (byte)GatewayDrop.UnknownPort, 0, Empty, 0, 0, 0, 0, false, NoConnection, null, null, [], StageTally: []);
        }
        var facts = new PacketFacts { Key = key, TcpFlags = (TcpFlags)m.TcpFlags, Ttl = m.Ttl, Ingress = m.FromUplink ? PortRole.Uplink : PortRole.Downlink };
        var d = shard.Decide(ref facts, plan.Tenants[port.TenantIndex], plan, now);
        var o = d.Outcome;
        var records = shard.LastRecords(o.Stages);
        byte mask = 0;
        var tally = ImmutableArray.CreateBuilder<uint>(records.Length);
        foreach (var rec in records)
        {
            mask |= (byte)(1 << (int)rec.Stage);
            tally.Add(rec.Tally);
        }
        var lines = ImmutableArray<string>.Empty;
        if (trace)
        {
            var b = ImmutableArray.CreateBuilder<string>(records.Length);
            foreach (var rec in records) b.Add(rec.ToString());
            lines = b.MoveToImmutable();
        }
        FlowRewrite? reply = d.HasReply ? GatewayDatapath.ToWire(d.ReplyRewrites, d.ReplyOutPort, d.ReplyStages) : null;
        return new FlowResolution(
            (byte)o.Verdict, (byte)o.Reason, (byte)o.Reject,
            GatewayDatapath.ToWire(o.Rewrites, o.OutPort, o.Stages),
            o.OutPort, o.NextHop.ToUInt32(), (byte)o.Stages, mask, d.Cacheable,
            o.Connection is { } cs ? (byte)cs.State : NoConnection, o.Connection is { } c ? ToWire(c) : null, reply, lines, (ushort)o.Consulted, tally.MoveToImmutable());
    }

    public static FlowConnection ToWire(Connection c) => new(
        c.Key.Tenant, (byte)c.Key.Protocol, c.Key.InsideAddress.ToUInt32(), c.Key.InsidePort, c.Key.RemoteAddress.ToUInt32(), c.Key.RemotePort, c.FromInside,
        c.Binding?.ExternalAddress.ToUInt32() ?? 0, c.Binding?.ExternalPort ?? 0);

    public static ConnectionKey KeyOf(FlowConnection fc) =>
        new(fc.Tenant, (IpProtocol)fc.Protocol, new Ipv4Address(fc.InsideAddress), fc.InsidePort, new Ipv4Address(fc.RemoteAddress), fc.RemotePort);

    /// <summary>A port block on the wire: address in the high bits, first port in the low 16.</summary>
    public static ulong ToWire(PortBlock b) => (ulong)b.Address.ToUInt32() << 16 | b.FirstPort;

    public static PortBlock BlockOf(ulong wire) => new(new Ipv4Address((uint)(wire >> 16)), (ushort)wire);

    private static readonly FlowRewrite Empty = new(0, 0, 0, 0, 0, 0, 0);
}
