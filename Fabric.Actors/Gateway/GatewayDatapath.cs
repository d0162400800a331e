using System.Collections.Concurrent;
using Fabric.Actors.DataPlane.Flow;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Gateway.Pipeline;

namespace Fabric.Actors.Gateway;

/// <summary>Where the datapath sends frames (borrowed span: copy it before returning).</summary>
public interface IFrameSink
{
    void Send(ushort port, ReadOnlySpan<byte> frame);

    /// <summary>As <see cref="Send(ushort, ReadOnlySpan{byte})"/>, saying whether the frame's checksums are known to be right (<see cref="Packet.ChecksumsValid"/>).</summary>
    void Send(ushort port, ReadOnlySpan<byte> frame, bool checksumsValid) => Send(port, frame);

    /// <summary>
    /// A TCP super-frame forwarded whole (<see cref="Packet.GsoSize"/>; checksum partial). A sink
    /// whose port takes super-frames writes it as one; by default it is cut into its segments,
    /// each sent with full checksums.
    /// </summary>
    void SendSuperFrame(ushort port, ReadOnlySpan<byte> frame, ushort gsoSize)
    {
        if (!TcpSegmenter.TryCreate(frame, gsoSize, out var segmenter)) return;
        var segment = System.Buffers.ArrayPool<byte>.Shared.Rent(segmenter.MaxSegmentLength);
        while (segmenter.TryNext(segment, out var length)) Send(port, segment.AsSpan(0, length), checksumsValid: true);
        System.Buffers.ArrayPool<byte>.Shared.Return(segment);
    }
}

/// <summary>
/// A gateway's data path, plain C#: per frame, classify (port → tenant and side), answer what is
/// for the gateway itself (ARP, ping), pick the flow-cache shard from the inside address, look the
/// flow up, and either apply the cached entry (hit: no stage, no allocation) or run the stages,
/// synthesize and install entries (miss). One thread at a time.
/// </summary>
public sealed partial class GatewayDatapath : INeighbors
{
    private readonly Dictionary<(ushort Port, Ipv4Address Address), MacAddress> _neighbors = [];
    private readonly byte[] _scratch = new byte[256];
    private readonly byte[] _tagged = new byte[PacketBatch.DefaultSlotSize + VlanLayout.TagLength];
    private readonly ConcurrentQueue<PacketTrace> _traces = new();
    private int _traceBudget;

    private readonly List<Connection> _toConfirm = [];
    private readonly DueFloor _expiryFloor = new();

    /// <param name="shards">Flow-cache buckets; <paramref name="maxFlowsPerShard"/>, <paramref name="idleTimeoutMs"/>:
    /// each one's cache. Not given: the settings' (<c>fabric.gateway.buckets</c>, <c>cache.flows-per-bucket</c>, <c>cache.idle-timeout</c>).</param>
    public GatewayDatapath(GatewayPlan plan, int? shards = null, int? maxFlowsPerShard = null, long? idleTimeoutMs = null, GatewaySettings? settings = null)
    {
        Plan = plan;
        Settings = settings ?? GatewaySettings.Default;
        var buckets = shards ?? Settings.Buckets;
        var flows = maxFlowsPerShard ?? Settings.CacheFlowsPerBucket;
        var idle = idleTimeoutMs ?? Settings.CacheIdleTimeoutMs;
        Ledger = new PortBlockLedger(buckets);
        Ledger.Configure(plan);
        Shards = [.. Enumerable.Range(0, buckets).Select(i => new FlowCacheShard(i, flows, idle, Settings, Ledger, expiryFloor: _expiryFloor))];
    }

    public GatewayPlan Plan { get; private set; }
    public GatewaySettings Settings { get; }
    /// <summary>Which bucket leases which SNAT port block: routes inbound packets to the bucket holding their binding.</summary>
    public PortBlockLedger Ledger { get; }
    public FlowCacheShard[] Shards { get; }
    public GatewayCounters Counters { get; } = new();
    /// <summary>Cache disabled: every frame runs the stages (for measuring what the cache saves).</summary>
    public bool CacheDisabled { get; set; }

    /// <summary>Installs a new configuration; entries of older generations become misses lazily. NAT bindings and connections are kept.</summary>
    public void Reconfigure(GatewayPlan plan)
    {
        if (plan.Generation <= Plan.Generation) throw new ArgumentException($"generation {plan.Generation} is not newer than {Plan.Generation}");
        Plan = plan;
        Ledger.Configure(plan);
    }

    /// <summary>
    /// Expires connections due by <paramref name="now"/> in every shard (timer wheels: only the
    /// elapsed ticks are looked at) and their cache entries with them; in-process, their NAT
    /// bindings and emptied port blocks are released too. Returns how many went.
    /// </summary>
    public int Sweep(long now)
    {
        var removed = 0;
        foreach (var s in Shards)
        {
            removed += s.Expire(now, _toConfirm);
        }
        _toConfirm.Clear(); // the datapath sees every hit: idle here is idle
        return removed;
    }

    /// <summary>
    /// When <see cref="Sweep"/> can next find a connection due (ms on the sweep's clock), over
    /// every shard; <see cref="long.MaxValue"/> while no connection is tracked. Any thread (a
    /// lower bound: a sweep then may find nothing yet and the value moves on).
    /// </summary>
    public long NextExpiry
    {
        get
        {
            var next = long.MaxValue;
            foreach (var s in Shards) next = Math.Min(next, s.Connections.NextDue);
            return next;
        }
    }

    /// <summary>
    /// A lower bound of <see cref="NextExpiry"/> at the cost of one read (a frame's batch asks it
    /// whether the armed sweep is still early enough): lowered as connections are filed, raised
    /// back to <see cref="NextExpiry"/> by <see cref="SettleExpiryFloor"/>. Any thread.
    /// </summary>
    public long ExpiryFloor => _expiryFloor.Value;

    /// <summary><see cref="NextExpiry"/>, walked over every shard; <see cref="ExpiryFloor"/> is raised to it. Holding the data path.</summary>
    public long SettleExpiryFloor()
    {
        var next = NextExpiry;
        _expiryFloor.Reset(next);
        return next;
    }

    public void AddNeighbor(ushort port, Ipv4Address address, MacAddress mac) => _neighbors[(port, address)] = mac;

    public bool TryResolve(ushort port, Ipv4Address address, out MacAddress mac) => _neighbors.TryGetValue((port, address), out mac);

    public int NeighborCount => _neighbors.Count;

    /// <summary>Distinct megaflow masks in use over all shards (OVS "masks: total").</summary>
    public int MasksInUse => Shards.SelectMany(s => s.Cache.MaskList).Distinct().Count();

    /// <summary>Megaflows off: every entry exact (for comparison and tests).</summary>
    public bool MegaflowsEnabled
    {
        get => Shards.Length == 0 || Shards[0].Cache.MegaflowsEnabled;
        set
        {
            foreach (var s in Shards) s.Cache.MegaflowsEnabled = value;
        }
    }

    /// <summary>Traces the next <paramref name="packets"/> packets (each stage's record); read them with <see cref="DrainTraces"/>.</summary>
    public void TraceNext(int packets) => Volatile.Write(ref _traceBudget, packets);

    /// <summary>The traces kept so far (the newest 256), without removing them.</summary>
    public IReadOnlyList<PacketTrace> Traces() => [.. _traces];

    public IReadOnlyList<PacketTrace> DrainTraces()
    {
        var list = new List<PacketTrace>();
        while (_traces.TryDequeue(out var t)) list.Add(t);
        return list;
    }

    /// <summary>
    /// The shard that owns a flow: from the tenant and the flow's inside address; for a packet to
    /// a SNAT pool address, the bucket leasing the port block of its destination port (-1: none
    /// does, so no binding can exist).
    /// </summary>
    public int ShardOf(in FlowKey key, PortRole role, TenantPlan t)
    {
        if (role == PortRole.Downlink) return ShardFor(t.Vni, key.SourceAddress, Shards.Length);
        var dst = key.DestinationAddress;
        if (t.Snat is { } snat && snat.PoolIndex(dst) >= 0)
        {
            // TCP/UDP destination port, or the ICMP echo identifier: both sit in DestinationPort.
            return Ledger.OwnerOf(t, dst, key.DestinationPort);
        }
        if (dst == t.UplinkAddress)
        {
            foreach (var d in t.Dnat)
            {
                if (d.Protocol == key.IpProtocol && d.ExternalPort == key.DestinationPort) return ShardFor(t.Vni, d.InternalAddress, Shards.Length);
            }
        }
        return ShardFor(t.Vni, dst, Shards.Length);
    }

    public static int ShardFor(uint tenant, Ipv4Address inside, int shards)
    {
        var x = ((ulong)tenant << 32 | inside.ToUInt32()) * 0x9E3779B97F4A7C15UL;
        return FlowHash.Bucket(x ^ (x >> 29), shards);
    }

    /// <summary>Processes every frame of <paramref name="batch"/> (borrowed); output goes to <paramref name="sink"/>.</summary>
    public void Process(PacketBatch batch, long now, IFrameSink sink)
    {
        for (var i = 0; i < batch.Count; i++)
        {
            ref var packet = ref batch[i];
            if (packet.GsoSize != 0) ProcessSuperFrame(batch.Frame(i), packet.IngressPort, now, sink, packet.GsoSize);
            else ProcessFrame(batch.Frame(i), packet.IngressPort, now, sink, packet.ChecksumsValid);
        }
    }

    /// <summary>Whether the frame being processed arrived with checksums known to be right (its forwarded copy keeps the mark).</summary>
    private bool _checksumsValid;

    /// <summary>Ghost gateways only: reports what happened to each probe (null on main: no cost).</summary>
    public IHopTracer? Tracer { get; set; }

    private GatewayDrop _lastDrop;
    private string? _lastDetail;

    public void ProcessFrame(Span<byte> frame, ushort ingress, long now, IFrameSink sink, bool checksumsValid = false)
    {
        _checksumsValid = checksumsValid;
        if (Tracer is not { } tracer)
        {
            ProcessFrameCore(frame, ingress, now, sink);
            return;
        }

        // Ghost: the frame as it arrived (the stages rewrite it in place), then what became of it.
        _lastDrop = GatewayDrop.None;
        _lastDetail = null;
        var forwarded = Counters.Forwarded;
        var arrived = frame.ToArray();
        var element = $"gateway {Plan.Name} port {Plan.Port(ingress)?.Ref.Name ?? ingress.ToString()}";
        ProcessFrameCore(frame, ingress, now, sink);
        if (_lastDrop != GatewayDrop.None)
            tracer.Drop(arrived, element, GatewayCounters.Name(_lastDrop) + (_lastDetail is null ? "" : $" ({_lastDetail})"));
        else
            tracer.Hop(arrived, element, _lastDetail ?? (Counters.Forwarded > forwarded ? "forwarded (flow-cache hit)" : "answered by the gateway"));
    }

    private void ProcessFrameCore(Span<byte> frame, ushort ingress, long now, IFrameSink sink)
    {
        var plan = Plan;
        Counters.Frames++;
        var port = plan.Port(ingress);
        if (port is null)
        {
            Drop(GatewayDrop.UnknownPort);
            return;
        }
        if (port.Vlan != 0 && !TryUntag(ref frame, port.Vlan))
        {
            Drop(GatewayDrop.WrongVlan);
            return;
        }
        var tenant = plan.Tenants[port.TenantIndex];
        if (!FlowKeyExtractor.TryExtract(frame, ingress, tenant.Vni, out var key, out _))
        {
            Drop(GatewayDrop.Malformed);
            return;
        }
        if ((key.Flags & FlowKeyFlags.Arp) != 0)
        {
            HandleArp(frame, port, tenant, sink);
            return;
        }
        if ((key.Flags & FlowKeyFlags.Ipv4) == 0 || (key.Flags & FlowKeyFlags.Vlan) != 0)
        {
            Drop(GatewayDrop.NotIpv4);
            return;
        }
        if (key.Destination != plan.Mac)
        {
            Drop(GatewayDrop.NotForGatewayMac);
            return;
        }
        if (key.IsFragment)
        {
            Drop(GatewayDrop.Fragment);
            return;
        }
        if (IsLocal(key, port.Role, tenant))
        {
            HandleLocal(frame, key, port, tenant, sink);
            return;
        }

        var bucket = ShardOf(key, port.Role, tenant);
        if (bucket < 0)
        {
            Drop(GatewayDrop.NoNatBinding); // to a pool port no bucket leases: nothing was ever bound there
            return;
        }
        var shard = Shards[bucket];
        var hash = FlowHash.Compute(key);
        var tracing = Volatile.Read(ref _traceBudget) > 0;
        var cache = shard.Cache;
        var megaflow = false;
        if (!CacheDisabled && !tracing
            && (cache.Exact.TryGetValue(key, hash, plan.Generation, now, out var entry) || (megaflow = cache.TryMegaflow(key, plan.Generation, now, out entry))))
        {
            Counters.Hits++;
            if (megaflow) Counters.MegaflowHits++;
            if ((entry.RequiresNoConnection && !StillUnconnected(frame, key, port.Role, shard, now)) || entry.ConnectionGone)
            {
                // The drop was judged for a flow with no connection; this one has one (or a RST
                // that conntrack refuses before the rules). Or the entry's connection is gone
                // (removed without its entries): the stages decide.
                SlowPath(frame, key, hash, port, tenant, shard, now, sink, hit: true);
                return;
            }
            // The rule that judged the flow counts its packets (the entry's generation is the plan's: same table).
            if (entry.FirewallRule != 0) tenant.FirewallCounters.Hit(entry.FirewallRule - 1);
            if (entry.Connection is { } c)
            {
                if (key.IpProtocol == IpProtocol.Tcp)
                {
                    var flags = TcpView.FlagsOfFrame(frame);
                    if ((flags & (TcpFlags.Fin | TcpFlags.Rst)) != 0)
                    {
                        // The connection moves towards its end; the packet goes on with this entry
                        // (its NAT and rules do not change). The entries stay until the closed hold ends.
                        Track(c, key.IpProtocol, flags, port.Role, shard, bucket, now);
                    }
                    else if (c.State == ConnectionState.Closed && ConnectionTracking.IsOpening(flags))
                    {
                        // The same endpoints open again within the closed hold: the stages reopen it.
                        SlowPath(frame, key, hash, port, tenant, shard, now, sink, hit: true);
                        return;
                    }
                }
                Seen(c, entry, now);
            }
            if (entry.Action == EntryAction.Drop)
            {
                Drop(entry.Reason);
                return;
            }
            if (frame.Length - Eth > plan.MtuOf(entry.OutPort) && TooBig(frame, key, port, tenant, entry, now, sink)) return;
            if (!EntryActions.TryApply(entry, frame))
            {
                SlowPath(frame, key, hash, port, tenant, shard, now, sink, hit: true);
                return;
            }
            Counters.Forwarded++;
            Emit(sink, entry.OutPort, frame);
            return;
        }
        Counters.Misses++;
        SlowPath(frame, key, hash, port, tenant, shard, now, sink, hit: false);
    }

    /// <summary>A cached packet of a tracked connection: not idle now, and established once its reply direction is seen.</summary>
    private static void Seen(Connection c, in CacheEntry entry, long now)
    {
        c.LastSeen = now;
        if (entry.IsReply && c.State == ConnectionState.New) c.State = ConnectionState.Established;
    }

    /// <summary>
    /// Conntrack for a cached TCP packet with FIN or RST: the state machine runs here, on the
    /// connection the entry carries (in process the connection itself, sharded the gateway's
    /// mirror, whose entity hears of the change after the batch). A connection that closes is
    /// held, with its entries, for the closed hold, then removed by the sweep.
    /// </summary>
    private void Track(Connection c, IpProtocol protocol, TcpFlags flags, PortRole role, FlowCacheShard shard, int bucket, long now)
    {
        var before = c.State;
        var fins = (c.FinFromInside, c.FinFromOutside);
        c.State = ConnectionTracking.Next(c, protocol, flags, fromOriginator: c.FromInside == (role == PortRole.Downlink));
        c.LastSeen = now;
        shard.Connections.Transitioned(c, before, now);
        if (Resolver is { } resolver && (c.State != before || fins != (c.FinFromInside, c.FinFromOutside))) resolver.ConnectionChanged(bucket, c);
    }

    /// <summary>Whether a flow-cache drop judged for an unconnected packet still applies: no tracked connection, and no TCP RST.</summary>
    private static bool StillUnconnected(ReadOnlySpan<byte> frame, in FlowKey key, PortRole role, FlowCacheShard shard, long now)
    {
        if (key.IpProtocol == IpProtocol.Tcp && (TcpView.FlagsOfFrame(frame) & TcpFlags.Rst) != 0) return false;
        if (shard.Connections.Count == 0) return true;
        var facts = new PacketFacts { Key = key, Ingress = role };
        return shard.Connections.Find(facts.Connection(key.Tenant)) is null;
    }

    private void SlowPath(Span<byte> frame, in FlowKey key, ulong hash, GatewayPort port, TenantPlan tenant, FlowCacheShard shard, long now, IFrameSink sink, bool hit)
    {
        Counters.SlowPath++;
        var ip = ParseIpv4(frame);
        var facts = new PacketFacts { Key = key, TcpFlags = key.IpProtocol == IpProtocol.Tcp ? TcpView.FlagsOfFrame(frame) : TcpFlags.None, Ttl = ip, Ingress = port.Role };
        if (port.Role == PortRole.Downlink) AddNeighbor(port.Id, key.SourceAddress, key.Source);
        if (Resolver is { } resolver)
        {
            // Sharded mode: the bucket's flow-cache entity decides, here when it runs on this node
            // and lets us (direct mode), else by message while the frame waits for its answer.
            var trace = Volatile.Read(ref _traceBudget) > 0;
            Span<uint> entityTally = stackalloc uint[GatewayPipeline.MaxStages];
            if (resolver.TryResolveHere(shard.Index, key, facts.TcpFlags, facts.Ttl, port.Role, trace || Tracer is not null, entityTally, out var answer, out var entityLines, out var generation))
            {
                CompleteMiss(frame, key, hash, ref answer, entityTally[..answer.TallyCount], entityLines, generation, now, sink, hit);
                return;
            }
            resolver.Park(shard.Index, frame, key, hash, facts.TcpFlags, facts.Ttl, port.Role, trace);
            return;
        }
        var d = shard.Decide(ref facts, tenant, Plan, now, probeReply: !CacheDisabled);
        var records = shard.LastRecords(d.Outcome.Stages);
        var stageMask = 0;
        Span<uint> tally = stackalloc uint[GatewayPipeline.MaxStages];
        for (var i = 0; i < records.Length; i++)
        {
            stageMask |= 1 << (int)records[i].Stage;
            tally[i] = records[i].Tally;
        }
        List<string>? lines = null;
        if (Tracer is not null || Volatile.Read(ref _traceBudget) > 0)
        {
            lines = new List<string>(records.Length);
            foreach (var r in records) lines.Add(r.ToString());
        }
        Finish(frame, key, hash, port, tenant, shard, ref d, Plan.Generation, stageMask, tally[..records.Length], lines, hit, now, sink);
    }

    /// <summary>
    /// How every miss ends, whoever decided it (the stages here, or the bucket's flow-cache entity,
    /// see <see cref="CompleteMiss"/>): counts the stages that ran, installs through
    /// <see cref="FlowCacheShard.Install"/> (stamped with the configuration <paramref name="generation"/>
    /// the decision was made with), counts each stage run into its tenant's stage table (by
    /// <paramref name="tally"/>: verdict and the item that decided) and records the trace when
    /// asked, and forwards, answers or drops the frame.
    /// </summary>
    private void Finish(Span<byte> frame, in FlowKey key, ulong hash, GatewayPort port, TenantPlan tenant, FlowCacheShard shard, ref MissDecision d, uint generation,
        int stageMask, ReadOnlySpan<uint> tally, List<string>? trace, bool hit, long now, IFrameSink sink)
    {
        for (var s = 0; s < Counters.StageRuns.Length; s++)
        {
            if ((stageMask & (1 << s)) != 0) Counters.StageRuns[s]++;
        }
        // An answer decided with another configuration names items of other tables: not counted.
        if (generation == Plan.Generation) CountStages(key, tenant, tally, trace);
        var entry = shard.Install(key, hash, ref d, Plan, generation, this, now, install: !CacheDisabled);
        if (trace is not null)
        {
            if (Tracer is not null) _lastDetail = $"tenant {tenant.Name}: {string.Join("; ", trace)} => {Result(d.Outcome)}";
            if (Volatile.Read(ref _traceBudget) > 0) Trace(key, hit, trace, d.Outcome);
        }
        Act(frame, key, port, tenant, d.Outcome, entry, now, sink);
    }

    /// <summary>Does what a slow-path decision says: forward with the entry, answer a reject, or drop (asking ARP when the next hop is unknown).</summary>
    private void Act(Span<byte> frame, in FlowKey key, GatewayPort port, TenantPlan tenant, in PipelineOutcome o, in CacheEntry entry, long now, IFrameSink sink)
    {
        switch (o.Verdict)
        {
            case StageVerdict.Forward:
                if (frame.Length - Eth > Plan.MtuOf(entry.OutPort) && TooBig(frame, key, port, tenant, entry, now, sink)) return;
                if (!EntryActions.TryApply(entry, frame))
                {
                    Drop(GatewayDrop.TtlExceeded);
                    SendIcmpError(frame, key, port, tenant, Icmpv4Type.TimeExceeded, (byte)Icmpv4TimeExceededCode.TtlExceededInTransit, now, sink);
                    return;
                }
                Counters.Forwarded++;
                Emit(sink, entry.OutPort, frame);
                return;
            case StageVerdict.Reject:
                Drop(o.Reason);
                if (o.Reject == RejectKind.TcpReset) SendTcpReset(frame, key, port, sink);
                else SendIcmpError(frame, key, port, tenant, Icmpv4Type.DestinationUnreachable,
                    (byte)(o.Reject == RejectKind.AdminProhibited ? Icmpv4UnreachableCode.CommunicationProhibited : Icmpv4UnreachableCode.NetUnreachable), now, sink);
                return;
            default:
                Drop(o.Reason);
                if (o.Reason == GatewayDrop.NeighborUnresolved) AskForNeighbor(o.OutPort, o.NextHop, tenant, sink);
                return;
        }
    }

    /// <summary>Each stage run counted by the table that decided it, and, for a traced packet, its record kept in that stage's trace log.</summary>
    private static void CountStages(in FlowKey key, TenantPlan tenant, ReadOnlySpan<uint> tally, List<string>? trace)
    {
        for (var i = 0; i < tally.Length; i++)
        {
            var table = tenant.Tables[StageTally.Stage(tally[i])];
            table.Counters.Decided(StageTally.Verdict(tally[i]), StageTally.Item(tally[i]));
            if (trace is not null && i < trace.Count) table.Traces.Add($"{key}: {trace[i]}");
        }
    }

    private void Trace(in FlowKey key, bool hit, List<string> list, in PipelineOutcome o)
    {
        if (Interlocked.Decrement(ref _traceBudget) < 0) return;
        _traces.Enqueue(new PacketTrace(key.ToString(), hit, list, Result(o)));
        while (_traces.Count > 256) _traces.TryDequeue(out _);
    }

    /// <summary>A tagged port's frame must carry its 802.1Q tag (IEEE 802.1Q §9.3); the tag is removed in place, so the rest of the path sees an untagged frame.</summary>
    private static bool TryUntag(ref Span<byte> frame, ushort vlan) => VlanTagging.TryUntagInPlace(ref frame, new VlanId(vlan));

    /// <summary>Sends through <paramref name="sink"/>, adding the port's 802.1Q tag when it has one (copied into a scratch buffer).</summary>
    private void Emit(IFrameSink sink, ushort port, ReadOnlySpan<byte> frame)
    {
        var vlan = Plan.Port(port)?.Vlan ?? 0;
        if (vlan != 0 && VlanTagging.TryCopyTagged(frame, new VlanId(vlan), _tagged, out var length)) sink.Send(port, _tagged.AsSpan(0, length), _checksumsValid);
        else sink.Send(port, frame, _checksumsValid);
    }

    private void Drop(GatewayDrop reason)
    {
        Counters.Drop(reason);
        _lastDrop = reason;
    }

    private static string Result(in PipelineOutcome o) =>
        o.Verdict == StageVerdict.Forward ? $"forward out={o.OutPort} via={o.NextHop} rewrite={o.Rewrites}" : $"{o.Verdict}({GatewayCounters.Name(o.Reason)})";

    private static byte ParseIpv4(ReadOnlySpan<byte> frame) =>
        Ipv4View.TryParse(frame[EthernetLayout.HeaderLength..], out var ip, out _) ? ip.Ttl : (byte)0;
}
