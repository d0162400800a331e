using System.Collections.Immutable;
using System.Runtime.InteropServices;
using Fabric.Actors.DataPlane.Flow;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Gateway.Pipeline;
using Fabric.Messages.Gateway;

namespace Fabric.Actors.Gateway;

/// <summary>
/// Where a datapath in sharded mode sends its misses: the frame is copied and waits until the
/// bucket's flow-cache entity answers (see <see cref="GatewayDatapath.CompleteMiss"/>).
/// </summary>
public interface IMissResolver
{
    void Park(int bucket, ReadOnlySpan<byte> frame, in FlowKey key, ulong hash, TcpFlags tcpFlags, byte ttl, PortRole role, bool trace);

    /// <summary>
    /// Decides the miss on this thread when the bucket's entity lets it (on this node, drained):
    /// the entity's answer with no message made, its stage tallies in <paramref name="tally"/>, the
    /// stages' trace lines when <paramref name="trace"/>; false: <see cref="Park"/> it.
    /// </summary>
    bool TryResolveHere(int bucket, in FlowKey key, TcpFlags tcpFlags, byte ttl, PortRole role, bool trace, Span<uint> tally,
        out EntityAnswer answer, out List<string>? traceLines, out uint generation);

    /// <summary>A mirrored connection's state moved on a cached packet (FIN, RST): the entity is told after the batch.</summary>
    void ConnectionChanged(int bucket, Connection connection);
}

/// <summary>
/// What a flow-cache entity decided for one miss, as the gateway acts on it: what a FlowResolution
/// carries, without the message. A gateway deciding under the entity's lock on its node gets it
/// straight from <see cref="Actors.FlowResolver.Decide"/> (no object per miss); one answered by
/// message reads it from the message (<see cref="GatewayDatapath.AnswerOf"/>), so both end the
/// miss in the same routine with the same values.
/// </summary>
public struct EntityAnswer
{
    /// <summary>The decision, without a connection object (the gateway mirrors the connection).</summary>
    public MissDecision Decision;
    /// <summary>The stages that ran (bit per <see cref="GatewayStage"/>).</summary>
    public int StageMask;
    /// <summary>How many stage tallies the caller's buffer holds.</summary>
    public int TallyCount;
    public bool HasConnection;
    public ConnectionState ConnectionState;
    public ConnectionKey ConnectionKey;
    public bool FromInside;
    /// <summary>The connection's SNAT endpoint (0.0.0.0 without SNAT).</summary>
    public Ipv4Address ExternalAddress;
    public ushort ExternalPort;
}

// The gateway half of the sharded miss path: the flow-cache entity (which owns the bucket's NAT
// bindings and connections) ran the stages and answered with a FlowResolution; this side
// synthesizes the local cache entries from it, with the MACs only this side knows (next hop from
// its ARP table, the sender's from the frame), installs them, and acts on the frame.
public sealed partial class GatewayDatapath
{
    /// <summary>Set in sharded mode: misses go to the flow-cache entities instead of running here.</summary>
    public IMissResolver? Resolver { get; set; }

    /// <summary>Entries installed from entity answers (misses resolved remotely).</summary>
    public long RemoteResolved;

    /// <summary>Finishes a parked miss with the entity's answer by message (<see cref="CompleteMiss(Span{byte}, in FlowKey, ulong, ref EntityAnswer, ReadOnlySpan{uint}, List{string}?, uint, long, IFrameSink, bool)"/>).</summary>
    public void CompleteMiss(Span<byte> frame, in FlowKey key, ulong hash, FlowResolution r, uint generation, long now, IFrameSink sink, bool hit = false)
    {
        var answer = AnswerOf(r);
        CompleteMiss(frame, key, hash, ref answer, r.StageTally.IsDefault ? default : r.StageTally.AsSpan(), r.Trace.IsDefaultOrEmpty ? null : [.. r.Trace], generation, now, sink, hit);
    }

    /// <summary>
    /// Finishes a miss with the entity's answer (by message, or decided here under the entity's
    /// lock): mirrors the connection locally (hits refresh it; its state follows the entity's
    /// answers; it is what the entity's idle checks and a moved entity's restore read), then ends
    /// it as an in-process miss ends (<see cref="Finish"/>, stamped with <paramref name="generation"/>,
    /// the configuration the entity decided with).
    /// </summary>
    public void CompleteMiss(Span<byte> frame, in FlowKey key, ulong hash, ref EntityAnswer answer, ReadOnlySpan<uint> tally, List<string>? entityTrace,
        uint generation, long now, IFrameSink sink, bool hit = false)
    {
        _checksumsValid = false; // a parked copy: its port's mark was not kept with it, so a TAP sums it again
        var plan = Plan;
        var port = plan.Port(key.IngressPort);
        if (port is null)
        {
            Drop(GatewayDrop.UnknownPort);
            return;
        }
        var tenant = plan.Tenants[port.TenantIndex];
        var bucket = ShardOf(key, port.Role, tenant);
        if (bucket < 0)
        {
            Drop(GatewayDrop.NoNatBinding);
            return;
        }
        var shard = Shards[bucket];
        RemoteResolved++;
        ref var d = ref answer.Decision;
        if (answer.HasConnection) d.Outcome.Connection = Mirror(shard, answer, now);
        List<string>? trace = null;
        if (entityTrace is not null && (Tracer is not null || Volatile.Read(ref _traceBudget) > 0))
        {
            trace = entityTrace;
            trace.Add("resolved by the flow-cache entity");
        }
        Finish(frame, key, hash, port, tenant, shard, ref d, generation, answer.StageMask, tally, trace, hit, now, sink);
    }

    /// <summary>The local copy of an entity's connection, in the state the entity answered, with its SNAT binding's external endpoint.</summary>
    private static Connection Mirror(FlowCacheShard shard, in EntityAnswer a, long now)
    {
        var mirror = shard.Connections.Find(a.ConnectionKey);
        if (mirror is null || (mirror.State == ConnectionState.Closed && a.ConnectionState != ConnectionState.Closed))
        {
            mirror = shard.Connections.Add(a.ConnectionKey, a.FromInside, pickedUp: false, now);
        }
        // Not a binding: the gateway holds none, it remembers the endpoint for a restore.
        if (!a.ExternalAddress.IsUnspecified) mirror.MirrorExternal(a.ExternalAddress, a.ExternalPort);
        var before = mirror.State;
        mirror.State = a.ConnectionState;
        mirror.LastSeen = now;
        shard.Connections.Transitioned(mirror, before, now);
        return mirror;
    }

    /// <summary>
    /// What a bucket's new entity needs to carry on where the old one stopped (its node left, or
    /// the shard moved): every connection the gateway mirrors for the bucket, with its state, how
    /// long it has been idle here, and its SNAT binding's external endpoint.
    /// </summary>
    public ImmutableArray<RestoredConnection> RestoreOf(int bucket, long now)
    {
        if ((uint)bucket >= (uint)Shards.Length) return [];
        var b = ImmutableArray.CreateBuilder<RestoredConnection>(Shards[bucket].Connections.Count);
        foreach (var c in Shards[bucket].Connections.All)
        {
            var k = c.Key;
            b.Add(new RestoredConnection(
                new FlowConnection(k.Tenant, (byte)k.Protocol, k.InsideAddress.ToUInt32(), k.InsidePort, k.RemoteAddress.ToUInt32(), k.RemotePort, c.FromInside,
                    c.External.Address.ToUInt32(), c.External.Port),
                (byte)c.State, Math.Max(0, now - c.LastSeen)));
        }
        return b.ToImmutable();
    }

    /// <summary>The bucket's mirror of a connection, for its entity's idle check (null: the gateway has none).</summary>
    public Connection? Mirrored(int bucket, in ConnectionKey key) =>
        (uint)bucket < (uint)Shards.Length ? Shards[bucket].Connections.Find(key) : null;

    /// <summary>An entity's answer by message, as the gateway acts on it (its connection is mirrored by the gateway, not taken from here).</summary>
    public static EntityAnswer AnswerOf(FlowResolution r)
    {
        var a = new EntityAnswer
        {
            Decision = DecisionOf(r.Verdict, r.Reason, r.Reject, ToRewrites(r.Rewrite), r.OutPort, r.NextHop, r.Stages, r.Consulted, r.Cacheable,
                r.StageTally.IsDefault ? default : r.StageTally.AsSpan(), r.Reply is { } reply ? ToRewrites(reply) : null, r.Reply?.OutPort ?? 0, r.Reply?.Stages ?? 0),
            StageMask = r.StageMask,
        };
        if (r.Connection is { } fc)
        {
            a.HasConnection = true;
            a.ConnectionState = (ConnectionState)r.ConnectionState;
            a.ConnectionKey = Actors.FlowResolver.KeyOf(fc);
            a.FromInside = fc.FromInside;
            a.ExternalAddress = new Ipv4Address(fc.ExternalAddress);
            a.ExternalPort = fc.ExternalPort;
        }
        return a;
    }

    /// <summary>
    /// The decision an entity's answer carries, from the values its message holds (the one reading
    /// of them, whether the answer came as a message or was made on this node): the firewall rule
    /// from the stage tallies, no connection object, nothing the message does not carry.
    /// </summary>
    public static MissDecision DecisionOf(byte verdict, byte reason, byte reject, Rewrites rewrites, ushort outPort, uint nextHop, byte stages, ushort consulted,
        bool cacheable, ReadOnlySpan<uint> tally, Rewrites? reply, ushort replyOutPort, byte replyStages)
    {
        var d = new MissDecision
        {
            Outcome = new PipelineOutcome
            {
                Verdict = (StageVerdict)verdict,
                Reason = (GatewayDrop)reason,
                Reject = (RejectKind)reject,
                Rewrites = rewrites,
                OutPort = outPort,
                NextHop = new Ipv4Address(nextHop),
                Stages = stages,
                Consulted = (FlowFields)consulted,
            },
            Cacheable = cacheable,
        };
        foreach (var t in tally)
        {
            if (StageTally.Stage(t) == GatewayStage.Firewall && StageTally.Item(t) >= 0) d.Outcome.FirewallRule = StageTally.Item(t) + 1;
        }
        if (reply is { } r)
        {
            d.HasReply = true;
            d.ReplyRewrites = r;
            d.ReplyOutPort = replyOutPort;
            d.ReplyStages = replyStages;
        }
        return d;
    }

    public static Rewrites ToRewrites(FlowRewrite r) =>
        new((RewriteFields)r.Fields, new Ipv4Address(r.SourceAddress), new Ipv4Address(r.DestinationAddress), r.SourcePort, r.DestinationPort);

    public static FlowRewrite ToWire(in Rewrites r, ushort outPort, int stages) =>
        new((byte)r.Fields, r.SourceAddress.ToUInt32(), r.DestinationAddress.ToUInt32(), r.SourcePort, r.DestinationPort, outPort, (byte)stages);

    /// <summary>The key's 48 bytes as they are in memory (both ends run the same FlowKey layout).</summary>
    public static byte[] KeyBytes(in FlowKey key) => MemoryMarshal.AsBytes(new ReadOnlySpan<FlowKey>(in key)).ToArray();

    public static FlowKey KeyFrom(byte[] bytes) =>
        bytes.Length == FlowKey.SizeInBytes ? MemoryMarshal.Read<FlowKey>(bytes) : throw new ArgumentException($"a flow key is {FlowKey.SizeInBytes} bytes, not {bytes.Length}");
}
