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
/// bindings and connections and runs the stages for the misses the gateway sends it in batches
/// (the hits never leave the gateway). Nothing is persisted: when the entity moves, the new one
/// starts empty and rebuilds the same external ports (deterministic NAT, RFC 7422) and picks
/// established connections up loosely, so a connection keeps its port without a journal.
/// A request for a configuration generation it has not seen is stashed until the gateway sends it.
/// </summary>
public sealed class FlowCacheEntity : ReceiveActor, IWithStash
{
    /// <summary>Flows one bucket holds before evicting; idle timeout of its entries (ms).</summary>
    public const int MaxFlows = 16_384;
    public const long IdleTimeoutMs = 60_000;

    private readonly FlowCacheShard _shard;
    private readonly string _node;
    private readonly DateTimeOffset _started = DateTimeOffset.UtcNow;
    private GatewayPlan? _plan;
    private long _resolved;
    private long _batches;
    private bool _askedForConfig;

    public IStash Stash { get; set; } = null!;

    public FlowCacheEntity(string entityId)
    {
        var bucket = int.TryParse(entityId.AsSpan(entityId.LastIndexOf(':') + 1), out var b) ? b : 0;
        _shard = new FlowCacheShard(bucket, MaxFlows, IdleTimeoutMs);
        _node = Cluster.Get(Context.System).SelfAddress.ToString();

        Receive<ConfigureFlowCache>(Configure);
        Receive<ResolveFlows>(Resolve);
        Receive<GetFlowCacheStats>(g => Sender.Tell(new FlowCacheEntityStats(
            g.Gateway, g.Bucket, _node, _plan?.Generation ?? 0, _shard.Nat.Count, _shard.Connections.Count, _resolved, _batches, _started)));
    }

    private void Configure(ConfigureFlowCache c)
    {
        if (_plan is not null && c.Generation <= _plan.Generation) return;
        var vnis = c.Vnis.ToDictionary(v => v.Tenant, v => v.Vni);
        _plan = GatewayPlan.Compile(c.Intent, c.Generation, vnis, new MacAddress(c.Mac));
        _askedForConfig = false;
        Stash.UnstashAll();
    }

    private void Resolve(ResolveFlows r)
    {
        if (_plan is null || r.Generation > _plan.Generation)
        {
            Stash.Stash();
            if (!_askedForConfig) Sender.Tell(new FlowCacheNeedsConfig(r.Gateway, r.Bucket, r.Generation));
            _askedForConfig = true;
            return;
        }
        var now = Environment.TickCount64;
        var answers = ImmutableArray.CreateBuilder<FlowResolution>(r.Misses.Length);
        foreach (var m in r.Misses) answers.Add(FlowResolver.Resolve(_shard, _plan, m, now, r.Trace));
        _resolved += r.Misses.Length;
        _batches++;
        Sender.Tell(new FlowsResolved(r.Gateway, r.Bucket, _plan.Generation, r.Sequence, answers.MoveToImmutable()));
    }
}

/// <summary>The entity half of the sharded miss path, plain C#: run the stages for one miss and say what to cache.</summary>
public static class FlowResolver
{
    private const byte NoConnection = 255;

    public static FlowResolution Resolve(FlowCacheShard shard, GatewayPlan plan, FlowMiss m, long now, bool trace)
    {
        var key = GatewayDatapath.KeyFrom(m.Key);
        var port = plan.Port(key.IngressPort);
        if (port is null)
        {
            return new FlowResolution((byte)StageVerdict.Drop, (byte)GatewayDrop.UnknownPort, 0, Empty, 0, 0, 0, 0, false, NoConnection, null, null, []);
        }
        var facts = new PacketFacts { Key = key, TcpFlags = (TcpFlags)m.TcpFlags, Ttl = m.Ttl, Ingress = m.FromUplink ? PortRole.Uplink : PortRole.Downlink };
        var o = shard.Miss(ref facts, plan.Tenants[port.TenantIndex], plan, AnyNeighbor.Instance, FlowHash.Compute(key), now, out _);
        var records = shard.LastRecords(o.Stages);
        byte mask = 0;
        foreach (var rec in records) mask |= (byte)(1 << (int)rec.Stage);
        var lines = ImmutableArray<string>.Empty;
        if (trace)
        {
            var b = ImmutableArray.CreateBuilder<string>(records.Length);
            foreach (var rec in records) b.Add(rec.ToString());
            lines = b.MoveToImmutable();
        }
        FlowConnection? connection = o.Connection is { } c
            ? new FlowConnection(c.Key.Tenant, (byte)c.Key.Protocol, c.Key.InsideAddress.ToUInt32(), c.Key.InsidePort, c.Key.RemoteAddress.ToUInt32(), c.Key.RemotePort, c.FromInside)
            : null;
        FlowRewrite? reply = shard.LastReply is { } rep
            ? new FlowRewrite((byte)rep.Rewrite, rep.SourceAddress.ToUInt32(), rep.DestinationAddress.ToUInt32(), rep.SourcePort, rep.DestinationPort, rep.OutPort, rep.Stages)
            : null;
        return new FlowResolution(
            (byte)o.Verdict, (byte)o.Reason, (byte)o.Reject,
            GatewayDatapath.ToWire(o.Rewrites, o.OutPort, o.Stages),
            o.OutPort, o.NextHop.ToUInt32(), (byte)o.Stages, mask, shard.LastCacheable,
            o.Connection is { } cs ? (byte)cs.State : NoConnection, connection, reply, lines, (ushort)o.Consulted);
    }

    private static readonly FlowRewrite Empty = new(0, 0, 0, 0, 0, 0, 0);

    /// <summary>The entity does not know the gateway's neighbours: it decides as if resolved; the gateway resolves.</summary>
    private sealed class AnyNeighbor : INeighbors
    {
        public static readonly AnyNeighbor Instance = new();

        public bool TryResolve(ushort port, Ipv4Address address, out MacAddress mac)
        {
            mac = default;
            return true;
        }
    }
}
