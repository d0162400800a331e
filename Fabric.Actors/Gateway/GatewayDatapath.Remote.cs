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

    /// <summary>Decides the miss on this thread when the bucket's entity lets it (on this node, drained); false: <see cref="Park"/> it.</summary>
    bool TryResolveHere(int bucket, in FlowKey key, TcpFlags tcpFlags, byte ttl, PortRole role, bool trace, out FlowResolution resolution, out uint generation);

    /// <summary>A mirrored connection's state moved on a cached packet (FIN, RST): the entity is told after the batch.</summary>
    void ConnectionChanged(int bucket, Connection connection);
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

    /// <summary>
    /// Finishes a parked miss with the entity's answer: mirrors the connection locally (hits
    /// refresh it; its state follows the entity's answers; it is what the entity's idle checks and
    /// a moved entity's restore read), then ends it as an in-process miss ends (<see cref="Finish"/>,
    /// stamped with <paramref name="generation"/>, the configuration the entity decided with).
    /// </summary>
    public void CompleteMiss(Span<byte> frame, in FlowKey key, ulong hash, FlowResolution r, uint generation, long now, IFrameSink sink, bool hit = false)
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
        var d = DecisionOf(r);
        if (r.Connection is { } fc) d.Outcome.Connection = Mirror(shard, fc, (ConnectionState)r.ConnectionState, now);
        var trace = !r.Trace.IsDefaultOrEmpty && (Tracer is not null || Volatile.Read(ref _traceBudget) > 0) ? new List<string>([.. r.Trace, "resolved by the flow-cache entity"]) : null;
        Finish(frame, key, hash, port, tenant, shard, ref d, generation, r.StageMask, r.StageTally.IsDefault ? default : r.StageTally.AsSpan(), trace, hit, now, sink);
    }

    /// <summary>The local copy of an entity's connection, in the state the entity answered, with its SNAT binding's external endpoint.</summary>
    private static Connection Mirror(FlowCacheShard shard, FlowConnection fc, ConnectionState state, long now)
    {
        var ck = new ConnectionKey(fc.Tenant, (IpProtocol)fc.Protocol, new Ipv4Address(fc.InsideAddress), fc.InsidePort, new Ipv4Address(fc.RemoteAddress), fc.RemotePort);
        var mirror = shard.Connections.Find(ck);
        if (mirror is null || (mirror.State == ConnectionState.Closed && state != ConnectionState.Closed))
        {
            mirror = shard.Connections.Add(ck, fc.FromInside, pickedUp: false, now);
        }
        // Not a binding: the gateway holds none, it remembers the endpoint for a restore.
        if (fc.ExternalAddress != 0) mirror.MirrorExternal(new Ipv4Address(fc.ExternalAddress), fc.ExternalPort);
        var before = mirror.State;
        mirror.State = state;
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

    /// <summary>The decision an entity's answer carries (its connection is mirrored by the gateway, not taken from here).</summary>
    public static MissDecision DecisionOf(FlowResolution r)
    {
        var d = new MissDecision
        {
            Outcome = new PipelineOutcome
            {
                Verdict = (StageVerdict)r.Verdict,
                Reason = (GatewayDrop)r.Reason,
                Reject = (RejectKind)r.Reject,
                Rewrites = ToRewrites(r.Rewrite),
                OutPort = r.OutPort,
                NextHop = new Ipv4Address(r.NextHop),
                Stages = r.Stages,
                Consulted = (FlowFields)r.Consulted,
            },
            Cacheable = r.Cacheable,
        };
        if (!r.StageTally.IsDefault)
        {
            foreach (var t in r.StageTally)
            {
                if (StageTally.Stage(t) == GatewayStage.Firewall && StageTally.Item(t) >= 0) d.Outcome.FirewallRule = StageTally.Item(t) + 1;
            }
        }
        if (r.Reply is { } reply)
        {
            d.HasReply = true;
            d.ReplyRewrites = ToRewrites(reply);
            d.ReplyOutPort = reply.OutPort;
            d.ReplyStages = reply.Stages;
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
