using System.Diagnostics;
using System.Text.Json;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Gateway;
using Fabric.Messages.Intent;

namespace Fabric.Benchmarks.Scenarios;

/// <summary>
/// `scenario gateway [--seconds S]`: two tenants (same inside /24), SNAT pool + stateful firewall
/// each, 10,000 UDP flows of 64 B frames from simulated-port templates, through one
/// <see cref="GatewayDatapath"/> on one thread. Measures cached frames/s, frames/s with the cache
/// off (stages per packet), new flows/s through the miss path, bytes allocated per cached frame,
/// how long a shard's flows take to resume on a new owner restored from the gateway's mirror of
/// its connections (in process: shard_rebuild_pass_ms), and the gap a TCP connection sees when the
/// node owning its flow-cache entity leaves a real three-system cluster (shard_move_resume_ms,
/// see <see cref="GatewayShardMove"/>).
/// </summary>
public static class GatewayScenario
{
    private const int Flows = 10_000;
    /// <summary>Firewall rules per tenant in the large pass.</summary>
    private const int LargeRules = 1_000;
    /// <summary>Routes per tenant in the large pass (one /24 each, plus the default route).</summary>
    private const int LargeRoutes = 10_000;

    public static int Run(string[] args)
    {
        var seconds = args.Length > 1 && args[0] == "--seconds" && double.TryParse(args[1], out var s) ? s : 2.0;
        var plan = GatewayPlan.Compile(Intent(), 1);
        var frames = BuildFrames(plan);

        // New flows through the miss path: fresh datapaths, every frame a first packet.
        var newFlowRates = new List<double>();
        for (var rep = 0; rep < 3; rep++)
        {
            var fresh = Datapath(plan);
            var sw = Stopwatch.StartNew();
            Pass(fresh, frames, now: 0, new CountingSink());
            newFlowRates.Add(Flows / sw.Elapsed.TotalSeconds);
        }

        var dp = Datapath(plan);
        var sink = new CountingSink();
        Pass(dp, frames, 0, sink);
        Pass(dp, frames, 1, sink); // warm
        var (cachedFps, allocPerFrame) = Measure(dp, frames, seconds, sink);
        var hitRate = (double)dp.Counters.Hits / (dp.Counters.Hits + dp.Counters.Misses);

        var uncached = Datapath(plan);
        uncached.CacheDisabled = true;
        var (uncachedFps, _) = Measure(uncached, frames, seconds / 2, new CountingSink());

        // At a realistic size: 1,000 firewall rules and 10,000 routes per tenant, with SNAT; each
        // flow's destination matches one of the routes and its packets pass every rule but the
        // last. The cache must keep the hit path as fast as with 3 rules; what it saves per packet
        // is the stage cost it skips.
        var largePlan = GatewayPlan.Compile(Intent(large: true), 1);
        var largeFrames = BuildFrames(largePlan, spreadOverRoutes: true);
        var large = Datapath(largePlan);
        var largeSink = new CountingSink();
        var largeFirst = Stopwatch.StartNew();
        Pass(large, largeFrames, 0, largeSink);
        var largeNewFlows = Flows / largeFirst.Elapsed.TotalSeconds;
        Pass(large, largeFrames, 1, largeSink);
        var largeUncached = Datapath(largePlan);
        largeUncached.CacheDisabled = true;
        // Interleaved rounds, small then large, so both see the same machine load; ratios per round.
        var cachedRatios = new List<double>();
        var largeCachedRuns = new List<double>();
        var largeUncachedRuns = new List<double>();
        var largeAlloc = 0.0;
        for (var round = 0; round < 5; round++)
        {
            var small = Measure(dp, frames, seconds / 5, sink).Fps;
            var (fps, alloc) = Measure(large, largeFrames, seconds / 5, largeSink);
            cachedRatios.Add(fps / small);
            largeCachedRuns.Add(fps);
            largeAlloc = Math.Max(largeAlloc, alloc);
            if (round < 3) largeUncachedRuns.Add(Measure(largeUncached, largeFrames, seconds / 10, new CountingSink()).Fps);
        }
        var largeCachedFps = Median(largeCachedRuns);
        var largeUncachedFps = Median(largeUncachedRuns);
        var largeVsSmall = Median(cachedRatios);
        var largeStageNs = 1e9 / largeUncachedFps - 1e9 / largeCachedFps;
        var largeForwarded = largeSink.Frames;

        // Megaflows: the same 10,000 flows through tenants that only route (no SNAT, no firewall):
        // one masked entry per destination instead of one exact entry per flow.
        var routedPlan = GatewayPlan.Compile(Intent(routedOnly: true), 1);
        var routedFrames = BuildFrames(routedPlan);
        var routed = new Dictionary<bool, (double Fps, double Alloc, int Entries, long MegaflowHits, int Masks, double NewFlows)>();
        foreach (var megaflows in new[] { true, false })
        {
            var r = Datapath(routedPlan);
            r.MegaflowsEnabled = megaflows;
            var rs = new CountingSink();
            var first = Stopwatch.StartNew();
            Pass(r, routedFrames, 0, rs); // every frame a new flow: with megaflows most of them hit
            var newFlows = Flows / first.Elapsed.TotalSeconds;
            Pass(r, routedFrames, 1, rs);
            var (fps, alloc) = Measure(r, routedFrames, seconds / 2, rs);
            routed[megaflows] = (fps, alloc, r.Shards.Sum(x => x.Cache.Count), r.Counters.MegaflowHits, r.MasksInUse, newFlows);
        }

        // A shard moves: its new owner starts with nothing but what the gateway mirrors (connections
        // with their external ports, as a moved entity is restored); time until all flows forward again.
        var moved = dp.Shards[0];
        var before = moved.Nat.Bindings.ToDictionary(b => (b.Tenant, b.InsideAddress, b.InsidePort), b => b.ExternalPort);
        var mirrored = dp.RestoreOf(0, 3);
        moved.Reset();
        var resume = Stopwatch.StartNew();
        moved.Restore(plan, mirrored, 3);
        Pass(dp, frames, 3, sink);
        var resumeMs = resume.Elapsed.TotalMilliseconds;
        var same = moved.Nat.Bindings.Count(b => before.TryGetValue((b.Tenant, b.InsideAddress, b.InsidePort), out var p) && p == b.ExternalPort);

        // A real shard move: three ActorSystems, the owner of a connection's entity leaves.
        var move = GatewayShardMove.MeasureAsync().GetAwaiter().GetResult();

        Console.WriteLine($"flows={Flows} shards={dp.Shards.Length} forwarded={sink.Frames} drops={dp.Counters.DroppedTotal}");
        Console.WriteLine($"cached: {cachedFps / 1e6:F2} M frames/s on one core, {allocPerFrame:F3} B allocated per frame, hit rate {hitRate:P2}");
        Console.WriteLine($"cache hits: exact {dp.Counters.ExactHits}, megaflow {dp.Counters.MegaflowHits}, masks {dp.MasksInUse} (SNAT + conntrack flows stay exact)");
        Console.WriteLine($"routed only (no NAT, no firewall), {Flows} flows: megaflow {routed[true].Fps / 1e6:F2} M frames/s, {routed[true].Entries} entries, {routed[true].Masks} masks, {routed[true].Alloc:F3} B/frame, new flows {routed[true].NewFlows:F0}/s; exact only {routed[false].Fps / 1e6:F2} M frames/s, {routed[false].Entries} entries, new flows {routed[false].NewFlows:F0}/s");
        Console.WriteLine($"uncached (stages per packet): {uncachedFps / 1e6:F3} M frames/s; speedup {cachedFps / uncachedFps:F1}x");
        Console.WriteLine($"large (1,000 firewall rules, 10,000 routes, SNAT per tenant): cached {largeCachedFps / 1e6:F2} M frames/s ({largeVsSmall:P1} of the small case, median of 5 interleaved rounds: {string.Join(", ", cachedRatios.Select(r => r.ToString("F2")))}), {largeAlloc:F3} B/frame, forwarded {largeForwarded}, drops {large.Counters.DroppedTotal}; uncached {largeUncachedFps / 1e3:F1} k frames/s; speedup {largeCachedFps / largeUncachedFps:F0}x; stage cost saved {largeStageNs:F0} ns per packet; new flows {largeNewFlows:F0}/s");
        Console.WriteLine($"new flows/s (miss path, forward + reply entries): {newFlowRates.Max():F0} (runs: {string.Join(", ", newFlowRates.Select(r => r.ToString("F0")))})");
        Console.WriteLine($"shard rebuild (in process): {before.Count} bindings in shard 0; all flows resumed in {resumeMs:F1} ms (one pass over all {Flows} flows); same external port for {same}/{before.Count}");
        Console.WriteLine($"shard move (3 ActorSystems, owner leaves, 5 ms probes): resume {move.ResumeMs:F0} ms; {move.Detail}");
        Console.WriteLine($"through the gateway actor (Ask per 256-frame batch): cached {move.CachedFps / 1e3:F0} k frames/s, cache off (every frame resolved by the sharded entities) {move.UncachedFps / 1e3:F1} k frames/s; speedup {move.CachedFps / move.UncachedFps:F1}x");
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            scenario = "gateway",
            flows = Flows,
            frame_bytes = 64,
            cached_fps_per_core = Math.Round(cachedFps),
            uncached_fps = Math.Round(uncachedFps),
            cache_speedup = Math.Round(cachedFps / uncachedFps, 1),
            actor_cached_fps = Math.Round(move.CachedFps),
            actor_uncached_sharded_fps = Math.Round(move.UncachedFps),
            actor_cache_speedup = Math.Round(move.CachedFps / move.UncachedFps, 1),
            alloc_bytes_per_cached_frame = Math.Round(allocPerFrame, 3),
            new_flows_per_s = Math.Round(newFlowRates.Max()),
            large_firewall_rules = LargeRules,
            large_routes = LargeRoutes,
            large_cached_fps_per_core = Math.Round(largeCachedFps),
            large_cached_vs_small = Math.Round(largeVsSmall, 3),
            large_uncached_fps = Math.Round(largeUncachedFps),
            large_cache_speedup = Math.Round(largeCachedFps / largeUncachedFps, 1),
            large_stage_ns_saved_per_packet = Math.Round(largeStageNs),
            large_alloc_bytes_per_cached_frame = Math.Round(largeAlloc, 3),
            large_new_flows_per_s = Math.Round(largeNewFlows),
            hit_rate = Math.Round(hitRate, 4),
            exact_hits = dp.Counters.ExactHits,
            megaflow_hits = dp.Counters.MegaflowHits,
            megaflow_masks = dp.MasksInUse,
            routed_megaflow_fps = Math.Round(routed[true].Fps),
            routed_megaflow_entries = routed[true].Entries,
            routed_megaflow_masks = routed[true].Masks,
            routed_megaflow_alloc_bytes_per_frame = Math.Round(routed[true].Alloc, 3),
            routed_exact_fps = Math.Round(routed[false].Fps),
            routed_exact_entries = routed[false].Entries,
            routed_megaflow_new_flows_per_s = Math.Round(routed[true].NewFlows),
            routed_exact_new_flows_per_s = Math.Round(routed[false].NewFlows),
            shard_move_resume_ms = Math.Round(move.ResumeMs, 1),
            shard_move_same_port = move.SamePort,
            shard_rebuild_pass_ms = Math.Round(resumeMs, 2),
            shard_rebuild_same_port = $"{same}/{before.Count}",
        }));
        return 0;
    }

    private static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    private static GatewayDatapath Datapath(GatewayPlan plan)
    {
        var dp = new GatewayDatapath(plan, shards: 16, maxFlowsPerShard: 4096);
        foreach (var t in plan.Tenants) dp.AddNeighbor(t.UplinkPort, Ipv4Address.Parse("198.51.100.1"), MacAddress.Parse("02:00:00:00:01:01"));
        return dp;
    }

    /// <summary>Runs whole passes over the flows for about <paramref name="seconds"/>; frames/s and bytes allocated per frame.</summary>
    private static (double Fps, double AllocPerFrame) Measure(GatewayDatapath dp, PacketBatch[] frames, double seconds, CountingSink sink)
    {
        long count = 0;
        var pass = 10L;
        var alloc = GC.GetAllocatedBytesForCurrentThread();
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed.TotalSeconds < seconds)
        {
            count += Pass(dp, frames, pass++, sink);
        }
        var elapsed = sw.Elapsed.TotalSeconds;
        return (count / elapsed, (double)(GC.GetAllocatedBytesForCurrentThread() - alloc) / count);
    }

    /// <summary>One frame per flow, batch by batch; TTLs are restored so every pass sees fresh frames.</summary>
    private static long Pass(GatewayDatapath dp, PacketBatch[] batches, long now, CountingSink sink)
    {
        long n = 0;
        foreach (var batch in batches)
        {
            for (var i = 0; i < batch.Count; i++) batch.Frame(i)[14 + 8] = 64;
            dp.Process(batch, now, sink);
            n += batch.Count;
            // Undo the rewrites so the next pass presents the original packets again.
            var originals = CountingSink.OriginalsOf(batch);
            for (var i = 0; i < batch.Count; i++) originals[i].CopyTo(batch.Frame(i));
        }
        return n;
    }

    /// <summary>The destination of flow <paramref name="f"/> in the large pass: inside the /24 of route f mod <see cref="LargeRoutes"/>.</summary>
    private static Ipv4Address LargeDestination(int f) => new(0x14000050u + ((uint)(f % LargeRoutes) << 8)); // 20.0.0.80 + route << 8

    private static PacketBatch[] BuildFrames(GatewayPlan plan, bool spreadOverRoutes = false)
    {
        var pool = new PacketBatchPool(maxRetained: 64, batchCapacity: 256);
        var batches = new List<PacketBatch>();
        var batch = pool.Rent();
        for (var f = 0; f < Flows; f++)
        {
            var tenant = plan.Tenants[f % 2];
            var host = (uint)(f / 2 % 250) + 2;
            var profile = new TrafficProfile
            {
                SourceAddress = new Ipv4Address(0x0A000000u + host),
                DestinationAddress = spreadOverRoutes ? LargeDestination(f) : Ipv4Address.Parse("203.0.113.80"),
                SourcePort = (ushort)(10_000 + f / 500),
                DestinationPort = 53,
                SourceMac = MacAddress.Parse("02:00:00:00:00:0a"),
                DestinationMac = plan.Mac,
            };
            var frame = SimulatedPort.BuildUdpFrame(profile, 0, EthernetLayout.MinimumFrameLength);
            if (!batch.TryAppend(frame, tenant.DownlinkPort))
            {
                batches.Add(batch);
                batch = pool.Rent();
                batch.TryAppend(frame, tenant.DownlinkPort);
            }
        }
        batches.Add(batch);
        foreach (var b in batches) CountingSink.Remember(b);
        return [.. batches];
    }

    private static GatewayIntent Intent(bool routedOnly = false, bool large = false)
    {
        GatewayTenantIntent Tenant(string name, int n) => routedOnly ? Full(name, n) with { SnatPool = [], Firewall = null } : large ? Large(Full(name, n)) : Full(name, n);
        static GatewayTenantIntent Full(string name, int n) => new(
            name,
            [Cidr("10.0.0.1/24")],
            [new RouteIntent(Cidr("0.0.0.0/0"), Ipv4.TryParse("198.51.100.1", out var hop) ? hop : default)],
            new UplinkIntent(new PortRef(PortKind.Simulated, $"{name}-up"), Cidr($"198.51.100.{1 + n}/24")),
            [Cidr($"198.51.{100 + n}.0/24")],
            [],
            new FirewallIntent(FirewallPolicy.Allow, [
                new FirewallRuleIntent("no-telnet", FirewallAction.Deny, RuleProtocol.Tcp, default, default, new PortRange(23, 23)),
                new FirewallRuleIntent("dns", FirewallAction.Allow, RuleProtocol.Udp, default, default, new PortRange(53, 53)),
            ]),
            new PortRef(PortKind.Simulated, $"{name}-down"));
        return new GatewayIntent("gw-bench", "node-1", [Tenant("blue", 1), Tenant("red", 2)]);
    }

    /// <summary>
    /// <paramref name="t"/> with <see cref="LargeRoutes"/> /24 routes (20.0.0.0/24 upwards, via the
    /// upstream router) before its default route, and <see cref="LargeRules"/> firewall rules: 999
    /// that UDP/53 to those networks passes by (TCP ports, other sources, other destinations, other
    /// UDP ports, in turn) and then the rule that allows it.
    /// </summary>
    private static GatewayTenantIntent Large(GatewayTenantIntent t)
    {
        var hop = t.Routes[0].NextHop;
        var routes = Enumerable.Range(0, LargeRoutes)
            .Select(i => new RouteIntent(Cidr($"20.{i >> 8 & 0xff}.{i & 0xff}.0/24"), hop))
            .Concat(t.Routes);
        var rules = Enumerable.Range(0, LargeRules - 1).Select(i => (i % 4) switch
        {
            0 => new FirewallRuleIntent($"tcp-{i}", FirewallAction.Deny, RuleProtocol.Tcp, default, default, new PortRange((ushort)(1000 + i), (ushort)(1000 + i))),
            1 => new FirewallRuleIntent($"src-{i}", FirewallAction.Deny, RuleProtocol.Any, Cidr($"172.{16 + i % 16}.{i >> 4 & 0xff}.0/24"), default),
            2 => new FirewallRuleIntent($"dst-{i}", FirewallAction.Reject, RuleProtocol.Any, default, Cidr($"192.0.{i & 0xff}.{i >> 8 << 4}/28")),
            _ => new FirewallRuleIntent($"udp-{i}", FirewallAction.Deny, RuleProtocol.Udp, default, default, new PortRange((ushort)(2000 + i), (ushort)(2000 + i))),
        }).Append(new FirewallRuleIntent("dns", FirewallAction.Allow, RuleProtocol.Udp, default, default, new PortRange(53, 53)));
        return t with { Routes = [.. routes], Firewall = new FirewallIntent(FirewallPolicy.Deny, [.. rules]) };
    }

    private static Ipv4Cidr Cidr(string text) => Ipv4Cidr.TryParse(text, out var c) ? c : throw new ArgumentException(text);

    /// <summary>Counts frames sent; keeps each batch's original bytes so passes can be replayed.</summary>
    private sealed class CountingSink : IFrameSink
    {
        private static readonly Dictionary<PacketBatch, byte[][]> Originals = [];

        public long Frames;

        public void Send(ushort port, ReadOnlySpan<byte> frame) => Frames++;

        public static void Remember(PacketBatch batch) =>
            Originals[batch] = [.. Enumerable.Range(0, batch.Count).Select(i => batch.Frame(i).ToArray())];

        public static byte[][] OriginalsOf(PacketBatch batch) => Originals[batch];
    }
}
