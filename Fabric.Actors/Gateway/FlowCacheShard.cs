using Fabric.Actors.DataPlane.Flow;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Gateway.Pipeline;

namespace Fabric.Actors.Gateway;

/// <summary>A snapshot of one shard's cache statistics (NSX "get dataplane flow-cache stats").</summary>
public readonly record struct FlowCacheStats(int Shard, int Active, long Insertions, long Hits, long Misses, long Evictions, long Collisions, int NatBindings, int Connections)
{
    public double HitRate => Hits + Misses == 0 ? 0 : (double)Hits / (Hits + Misses);
}

/// <summary>
/// One bucket of a gateway's flow cache: the synthesized entries of the flows whose inside
/// address hashes here, and the state the stages created for them (NAT bindings, connections).
/// Because the bucket is chosen from the inside address, both directions of a conversation and
/// the inside address's whole NAT port block live in one shard. Single-threaded.
/// </summary>
public sealed class FlowCacheShard
{
    private readonly StageRecord[] _records = new StageRecord[GatewayPipeline.MaxStages];
    private readonly StageRecord[] _replyRecords = new StageRecord[GatewayPipeline.MaxStages];

    public FlowCacheShard(int index, int maxFlows, long idleTimeoutMs)
    {
        Index = index;
        Cache = new MegaflowCache(maxFlows, idleTimeoutMs);
    }

    public int Index { get; }
    /// <summary>The synthesized entries: exact ones, and megaflows (one table per mask).</summary>
    public MegaflowCache Cache { get; }
    public NatTable Nat { get; } = new();
    public ConnectionTable Connections { get; } = new();

    /// <summary>The records of the last slow-path run (for traces).</summary>
    public ReadOnlySpan<StageRecord> LastRecords(int count) => _records.AsSpan(0, Math.Min(count, _records.Length));

    /// <summary>Whether the last <see cref="Miss"/> installed its entry (false for closing connections and uncacheable drops).</summary>
    public bool LastCacheable { get; private set; }

    /// <summary>The reply direction's entry the last <see cref="Miss"/> installed, if any.</summary>
    public CacheEntry? LastReply { get; private set; }

    public FlowCacheStats Stats
    {
        get
        {
            var c = Cache.Counters;
            return new FlowCacheStats(Index, c.Active, c.Insertions, c.Hits, c.Misses, c.Evictions, c.Collisions, Nat.Count, Connections.Count);
        }
    }

    /// <summary>
    /// The slow path for one packet: runs the stages, synthesizes the entry, installs it (and the
    /// reply direction's) when cacheable. <paramref name="entry"/> is what to apply now.
    /// </summary>
    public PipelineOutcome Miss(ref PacketFacts facts, TenantPlan t, GatewayPlan plan, INeighbors neighbors, ulong hash, long now, out CacheEntry entry, bool install = true)
    {
        var original = facts;
        LastCacheable = false;
        LastReply = null;
        var o = GatewayPipeline.Run(ref facts, t, Nat, Connections, now, _records);
        var cacheable = true;
        if (o.Connection is { } c)
        {
            var fromOriginator = c.FromInside == (original.Ingress == PortRole.Downlink);
            var before = c.State;
            c.State = ConnectionTracking.Next(c, original.Key.IpProtocol, original.TcpFlags, fromOriginator);
            c.LastSeen = now;
            if (c.State is ConnectionState.Closing or ConnectionState.Closed)
            {
                cacheable = false;
                if (before is not (ConnectionState.Closing or ConnectionState.Closed)) ForgetEntries(c);
                if (c.State == ConnectionState.Closed) Connections.Remove(c.Key);
            }
        }
        var nextHopMac = default(MacAddress);
        if (o.Verdict == StageVerdict.Forward && !neighbors.TryResolve(o.OutPort, o.NextHop, out nextHopMac))
        {
            o.Verdict = StageVerdict.Drop;
            o.Reason = GatewayDrop.NeighborUnresolved;
        }
        entry = CacheEntry.Synthesize(o, plan.Mac, nextHopMac, isReply: false);
        if (!cacheable || !IsCacheable(o)) return o;
        LastCacheable = true;
        if (!install) return o;

        Cache.Insert(original.Key, hash, entry, plan.Generation, now);
        if (o.Verdict == StageVerdict.Forward && (o.Created != StateCreated.None || o.Connection is not null || o.Rewrites.Fields != RewriteFields.DecrementTtl))
        {
            InstallReply(original, facts, o, t, plan, nextHopMac, now);
        }
        if (o.Connection is { } conn)
        {
            conn.ForwardKey = original.Key;
            conn.ForwardHash = hash;
        }
        return o;
    }

    /// <summary>Drops whose cause can change without a configuration change are not cached.</summary>
    private static bool IsCacheable(in PipelineOutcome o) =>
        o.Verdict == StageVerdict.Forward
        || (o.Verdict == StageVerdict.Drop && o.Reason is GatewayDrop.FirewallDenied or GatewayDrop.SnatPoolTooSmall);

    /// <summary>
    /// The reply direction's entry, made with the first packet: the reply's key is the forward
    /// packet after its rewrites, turned around; the stages run on it as a probe (no state change).
    /// </summary>
    private void InstallReply(in PacketFacts original, in PacketFacts rewritten, in PipelineOutcome forward, TenantPlan t, GatewayPlan plan, MacAddress nextHopMac, long now)
    {
        var reply = new PacketFacts
        {
            Key = ReplyKey(rewritten.Key, forward.OutPort, nextHopMac, plan.Mac),
            TcpFlags = TcpFlags.Ack,
            Ttl = 64,
            Ingress = plan.Port(forward.OutPort)?.Role ?? PortRole.Uplink,
            Probe = true,
        };
        var replyKey = reply.Key;
        var ro = GatewayPipeline.Run(ref reply, t, Nat, Connections, now, _replyRecords);
        if (ro.Verdict != StageVerdict.Forward || ro.OutPort != original.Key.IngressPort) return;
        var entry = CacheEntry.Synthesize(ro, plan.Mac, original.Key.Source, isReply: true);
        LastReply = entry;
        var hash = FlowHash.Compute(replyKey);
        Cache.Insert(replyKey, hash, entry, plan.Generation, now);
        if (forward.Connection is { } c)
        {
            c.ReplyKey = replyKey;
            c.ReplyHash = hash;
        }
    }

    /// <summary>The key the reply to a forwarded packet will have when it arrives on <paramref name="outPort"/>.</summary>
    public static FlowKey ReplyKey(in FlowKey rewritten, ushort outPort, MacAddress nextHopMac, MacAddress gatewayMac)
    {
        var k = rewritten;
        k.IngressPort = outPort;
        k.Source = nextHopMac;
        k.Destination = gatewayMac;
        (k.SourceAddress, k.DestinationAddress) = (rewritten.DestinationAddress, rewritten.SourceAddress);
        if (k.IpProtocol == IpProtocol.Icmp)
        {
            // Echo request (8/0) is answered by echo reply (0/0) with the same identifier.
            k.SourcePort = (ushort)((rewritten.SourcePort >> 8) == (byte)Icmpv4Type.EchoRequest ? (byte)Icmpv4Type.EchoReply << 8 : rewritten.SourcePort);
        }
        else
        {
            (k.SourcePort, k.DestinationPort) = (rewritten.DestinationPort, rewritten.SourcePort);
        }
        return k;
    }

    private void ForgetEntries(Connection c)
    {
        if (c.ForwardHash != 0) Cache.Remove(c.ForwardKey, c.ForwardHash);
        if (c.ReplyHash != 0) Cache.Remove(c.ReplyKey, c.ReplyHash);
    }

    /// <summary>Forgets every entry and all state (a shard handed to another owner starts like this).</summary>
    public void Reset()
    {
        Cache.Clear();
        Nat.Clear();
        Connections.Clear();
    }
}

/// <summary>Next-hop MAC resolution (ARP) as the flow cache needs it.</summary>
public interface INeighbors
{
    bool TryResolve(ushort port, Ipv4Address address, out MacAddress mac);
}
