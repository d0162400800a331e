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
    /// Finishes a parked miss with the entity's answer: installs the forward entry (stamped with
    /// <paramref name="generation"/>, the configuration the entity decided with) and the reply's,
    /// mirrors the connection locally (hits refresh it, FIN/RST leave the cache), then forwards,
    /// answers or drops the frame.
    /// </summary>
    public void CompleteMiss(Span<byte> frame, in FlowKey key, ulong hash, FlowResolution r, uint generation, long now, IFrameSink sink)
    {
        var plan = Plan;
        var port = plan.Port(key.IngressPort);
        if (port is null)
        {
            Drop(GatewayDrop.UnknownPort);
            return;
        }
        var tenant = plan.Tenants[port.TenantIndex];
        var shard = Shards[ShardOf(key, port.Role, tenant)];
        RemoteResolved++;
        for (var s = 0; s < Counters.StageRuns.Length; s++)
        {
            if ((r.StageMask & (1 << s)) != 0) Counters.StageRuns[s]++;
        }

        var o = new PipelineOutcome
        {
            Verdict = (StageVerdict)r.Verdict,
            Reason = (GatewayDrop)r.Reason,
            Reject = (RejectKind)r.Reject,
            Rewrites = ToRewrites(r.Rewrite),
            OutPort = r.OutPort,
            NextHop = new Ipv4Address(r.NextHop),
            Stages = r.Stages,
            Consulted = (FlowFields)r.Consulted,
        };
        var cacheable = r.Cacheable;
        if (r.Connection is { } fc)
        {
            var ck = new ConnectionKey(fc.Tenant, (IpProtocol)fc.Protocol, new Ipv4Address(fc.InsideAddress), fc.InsidePort, new Ipv4Address(fc.RemoteAddress), fc.RemotePort);
            var mirror = shard.Connections.Find(ck, now) ?? shard.Connections.Add(ck, fc.FromInside, pickedUp: false, now);
            mirror.State = (ConnectionState)r.ConnectionState;
            mirror.LastSeen = now;
            if (mirror.State is ConnectionState.Closing or ConnectionState.Closed)
            {
                if (mirror.ForwardHash != 0) shard.Cache.Remove(mirror.ForwardKey, mirror.ForwardHash);
                if (mirror.ReplyHash != 0) shard.Cache.Remove(mirror.ReplyKey, mirror.ReplyHash);
                mirror.ForwardHash = mirror.ReplyHash = 0;
                if (mirror.State == ConnectionState.Closed) shard.Connections.Remove(ck);
                cacheable = false;
            }
            o.Connection = mirror;
        }

        var nextHopMac = default(MacAddress);
        if (o.Verdict == StageVerdict.Forward && !TryResolve(o.OutPort, o.NextHop, out nextHopMac))
        {
            o.Verdict = StageVerdict.Drop;
            o.Reason = GatewayDrop.NeighborUnresolved;
            cacheable = false;
        }
        var entry = CacheEntry.Synthesize(o, plan.Mac, nextHopMac, isReply: false);
        if (cacheable && !CacheDisabled)
        {
            shard.Cache.Insert(key, hash, entry, generation, now);
            if (o.Connection is { } c)
            {
                c.ForwardKey = key;
                c.ForwardHash = hash;
            }
            if (o.Verdict == StageVerdict.Forward && r.Reply is { } reply)
            {
                var facts = new PacketFacts { Key = key };
                GatewayPipeline.Apply(ref facts, o.Rewrites);
                var replyKey = FlowCacheShard.ReplyKey(facts.Key, o.OutPort, nextHopMac, plan.Mac);
                var replyEntry = new CacheEntry
                {
                    Action = EntryAction.Forward,
                    Rewrite = (RewriteFields)reply.Fields,
                    SourceAddress = new Ipv4Address(reply.SourceAddress),
                    DestinationAddress = new Ipv4Address(reply.DestinationAddress),
                    SourcePort = reply.SourcePort,
                    DestinationPort = reply.DestinationPort,
                    OutPort = reply.OutPort,
                    SourceMac = plan.Mac,
                    DestinationMac = key.Source,
                    Connection = o.Connection,
                    IsReply = true,
                    Mask = FlowFields.Exact,
                    Stages = reply.Stages,
                };
                var replyHash = FlowHash.Compute(replyKey);
                shard.Cache.Insert(replyKey, replyHash, replyEntry, generation, now);
                if (o.Connection is { } rc)
                {
                    rc.ReplyKey = replyKey;
                    rc.ReplyHash = replyHash;
                }
            }
        }
        if (!r.Trace.IsDefaultOrEmpty && Volatile.Read(ref _traceBudget) > 0) Trace(key, false, [.. r.Trace, "resolved by the flow-cache entity"], o);
        Act(frame, key, port, tenant, o, entry, sink);
    }

    /// <summary>Forgets a bucket's local entries and mirrored connections (its entity moved: the next packets ask the new one).</summary>
    public void ResetBucket(int bucket)
    {
        if ((uint)bucket < (uint)Shards.Length) Shards[bucket].Reset();
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
