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
/// What the slow path decided for one packet, before anything is installed: the folded stage
/// outcome, whether its entries may be cached, and the reply direction's rewrites (probed with
/// the first packet). Made by <see cref="FlowCacheShard.Decide"/> in the gateway's data path or
/// in a flow-cache entity (then carried back as a FlowResolution, read by
/// <see cref="GatewayDatapath.DecisionOf"/>), installed by <see cref="FlowCacheShard.Install"/>
/// from GatewayDatapath.Finish, the one routine that ends a miss either way.
/// </summary>
public struct MissDecision
{
    public PipelineOutcome Outcome;
    /// <summary>The stages' result may be cached (a forward, or a drop whose cause only a configuration change removes; not a closed connection).</summary>
    public bool Cacheable;
    public bool HasReply;
    public Rewrites ReplyRewrites;
    public ushort ReplyOutPort;
    public byte ReplyStages;
}

/// <summary>
/// One bucket of a gateway's flow cache: the synthesized entries of the flows whose inside
/// address hashes here, and the state the stages created for them (NAT bindings, connections).
/// Because the bucket is chosen from the inside address (and, from outside, from the port
/// block's lease), both directions of a conversation and the inside host's port blocks live in
/// one shard. Single-threaded.
/// </summary>
public sealed class FlowCacheShard
{
    private readonly StageRecord[] _records = new StageRecord[GatewayPipeline.MaxStages];
    private readonly StageRecord[] _replyRecords = new StageRecord[GatewayPipeline.MaxStages];
    private readonly List<Connection> _removed = [];

    public FlowCacheShard(int index, int maxFlows, long idleTimeoutMs, GatewaySettings? settings = null, IPortBlockLender? lender = null, bool lastSeenElsewhere = false, DueFloor? expiryFloor = null)
    {
        settings ??= GatewaySettings.Default;
        Index = index;
        Cache = new MegaflowCache(maxFlows, idleTimeoutMs, settings.CacheMaxMasks);
        Nat = new NatTable(settings.Nat, index, lender);
        Connections = new ConnectionTable(settings.Conntrack, Nat, lastSeenElsewhere, settings.SweepIntervalMs, expiryFloor);
    }

    public int Index { get; }
    /// <summary>The synthesized entries: exact ones, and megaflows (one table per mask).</summary>
    public MegaflowCache Cache { get; }
    public NatTable Nat { get; }
    public ConnectionTable Connections { get; }

    /// <summary>The records of the last slow-path run (for traces).</summary>
    public ReadOnlySpan<StageRecord> LastRecords(int count) => _records.AsSpan(0, Math.Min(count, _records.Length));

    public FlowCacheStats Stats
    {
        get
        {
            var c = Cache.Counters;
            return new FlowCacheStats(Index, c.Active, c.Insertions, c.Hits, c.Misses, c.Evictions, c.Collisions, Nat.Count, Connections.Count);
        }
    }

    /// <summary>
    /// Runs the stages for one packet (creating NAT bindings and connections), moves its
    /// connection's state on, and probes the reply direction (unless nothing will be installed).
    /// Installs nothing.
    /// </summary>
    public MissDecision Decide(ref PacketFacts facts, TenantPlan t, GatewayPlan plan, long now, bool probeReply = true)
    {
        var original = facts;
        var o = GatewayPipeline.Run(ref facts, t, Nat, Connections, now, _records);
        if (o.Connection is { } c)
        {
            var fromOriginator = c.FromInside == (original.Ingress == PortRole.Downlink);
            var before = c.State;
            c.State = ConnectionTracking.Next(c, original.Key.IpProtocol, original.TcpFlags, fromOriginator);
            c.LastSeen = now;
            Connections.Transitioned(c, before, now);
        }
        var d = new MissDecision { Outcome = o, Cacheable = IsCacheable(o) && o.Connection is not { State: ConnectionState.Closed } };
        if (probeReply && d.Cacheable && o.Verdict == StageVerdict.Forward
            && (o.Created != StateCreated.None || o.Connection is not null || o.Rewrites.Fields != RewriteFields.DecrementTtl))
        {
            ProbeReply(original, facts, o, t, plan, now, ref d);
        }
        return d;
    }

    /// <summary>
    /// The one install routine, for a decision made here or by a flow-cache entity: resolves the
    /// next hop (a drop that asks ARP when unknown), synthesizes the forward entry, installs it and
    /// the reply's (both exact, tied to the connection), and takes a closed connection's entries
    /// out. Returns the entry to apply to the packet at hand.
    /// </summary>
    public CacheEntry Install(in FlowKey key, ulong hash, ref MissDecision d, GatewayPlan plan, uint generation, INeighbors neighbors, long now, bool install)
    {
        ref var o = ref d.Outcome;
        var cacheable = d.Cacheable;
        if (o.Connection is { State: ConnectionState.Closed } closed)
        {
            ForgetEntries(closed);
            cacheable = false;
        }
        var nextHopMac = default(MacAddress);
        if (o.Verdict == StageVerdict.Forward && !neighbors.TryResolve(o.OutPort, o.NextHop, out nextHopMac))
        {
            o.Verdict = StageVerdict.Drop;
            o.Reason = GatewayDrop.NeighborUnresolved;
            cacheable = false;
        }
        var entry = CacheEntry.Synthesize(o, plan.Mac, nextHopMac, isReply: false);
        if (!cacheable || !install) return entry;

        Cache.Insert(key, hash, entry, generation, now);
        if (o.Connection is { } c)
        {
            c.ForwardKey = key;
            c.ForwardHash = hash;
        }
        if (o.Verdict == StageVerdict.Forward && d.HasReply)
        {
            var facts = new PacketFacts { Key = key };
            GatewayPipeline.Apply(ref facts, o.Rewrites);
            var replyKey = ReplyKey(facts.Key, o.OutPort, nextHopMac, plan.Mac);
            var r = d.ReplyRewrites;
            var reply = new CacheEntry
            {
                Action = EntryAction.Forward,
                Rewrite = r.Fields,
                SourceAddress = r.SourceAddress,
                DestinationAddress = r.DestinationAddress,
                SourcePort = r.SourcePort,
                DestinationPort = r.DestinationPort,
                OutPort = d.ReplyOutPort,
                SourceMac = plan.Mac,
                DestinationMac = key.Source,
                Connection = o.Connection,
                ConnectionGeneration = o.Connection?.Generation ?? 0,
                IsReply = true,
                Mask = FlowFields.Exact,
                Stages = d.ReplyStages,
                FirewallRule = o.FirewallRule, // a reply belongs to the flow the rule let through
            };
            var replyHash = FlowHash.Compute(replyKey);
            Cache.Insert(replyKey, replyHash, reply, generation, now);
            if (o.Connection is { } rc)
            {
                rc.ReplyKey = replyKey;
                rc.ReplyHash = replyHash;
            }
        }
        return entry;
    }

    /// <summary>
    /// Expires connections due by <paramref name="now"/> (timer wheel): their cache entries go with
    /// them; with the last-seen times elsewhere, idle-looking ones are added to <paramref name="toConfirm"/>.
    /// Returns how many were removed. With <paramref name="max"/>, looks at that many at most and
    /// says in <paramref name="more"/> whether due ones are left for the next call.
    /// </summary>
    public int Expire(long now, List<Connection> toConfirm) => Expire(now, toConfirm, out _);

    public int Expire(long now, List<Connection> toConfirm, out bool more, int max = int.MaxValue)
    {
        _removed.Clear();
        more = Connections.Expire(now, _removed, toConfirm, max);
        foreach (var c in _removed) ForgetEntries(c);
        return _removed.Count;
    }

    /// <summary>
    /// Takes up connections known elsewhere (what the gateway mirrors, after this bucket's entity
    /// moved): each with its state and idle time, and its SNAT binding on the same external port.
    /// </summary>
    public void Restore(GatewayPlan plan, IEnumerable<Fabric.Messages.Gateway.RestoredConnection> connections, long now)
    {
        foreach (var rc in connections)
        {
            var fc = rc.Connection;
            var key = new ConnectionKey(fc.Tenant, (IpProtocol)fc.Protocol, new Ipv4Address(fc.InsideAddress), fc.InsidePort, new Ipv4Address(fc.RemoteAddress), fc.RemotePort);
            NatBinding? binding = null;
            if (fc.ExternalAddress != 0 && plan.Tenants.FirstOrDefault(t => t.Vni == key.Tenant)?.Snat is { } snat)
            {
                binding = Nat.Restore(snat, key.Tenant, key.Protocol, key.InsideAddress, key.InsidePort, new Ipv4Address(fc.ExternalAddress), fc.ExternalPort);
            }
            var c = Connections.Find(key) ?? Connections.Add(key, fc.FromInside, pickedUp: true, now);
            c.State = (ConnectionState)rc.State;
            c.LastSeen = now - rc.IdleMs;
            Connections.Rearm(c, now);
            if (binding is not null) ConnectionTable.Attach(c, binding);
        }
    }

    /// <summary>Drops whose cause can change without a configuration change are not cached.</summary>
    private static bool IsCacheable(in PipelineOutcome o) =>
        o.Verdict == StageVerdict.Forward
        || (o.Verdict == StageVerdict.Drop && o.Reason is GatewayDrop.FirewallDenied or GatewayDrop.SnatPoolTooSmall);

    /// <summary>
    /// The reply direction's rewrites, found with the first packet: the reply's key is the forward
    /// packet after its rewrites, turned around; the stages run on it as a probe (no state change).
    /// The MACs do not matter to the stages, so the probe runs without the next hop's.
    /// </summary>
    private void ProbeReply(in PacketFacts original, in PacketFacts rewritten, in PipelineOutcome forward, TenantPlan t, GatewayPlan plan, long now, ref MissDecision d)
    {
        var reply = new PacketFacts
        {
            Key = ReplyKey(rewritten.Key, forward.OutPort, default, plan.Mac),
            TcpFlags = TcpFlags.Ack,
            Ttl = 64,
            Ingress = plan.Port(forward.OutPort)?.Role ?? PortRole.Uplink,
            Probe = true,
        };
        var ro = GatewayPipeline.Run(ref reply, t, Nat, Connections, now, _replyRecords);
        if (ro.Verdict != StageVerdict.Forward || ro.OutPort != original.Key.IngressPort) return;
        d.HasReply = true;
        d.ReplyRewrites = ro.Rewrites;
        d.ReplyOutPort = ro.OutPort;
        d.ReplyStages = (byte)ro.Stages;
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
            k.SourcePort = rewritten.IcmpType == Icmpv4Type.EchoRequest ? FlowKey.IcmpTypeCode(Icmpv4Type.EchoReply) : rewritten.SourcePort;
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
        c.ForwardHash = c.ReplyHash = 0;
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
