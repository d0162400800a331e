using Akka.Actor;
using Akka.Cluster;
using Akka.Hosting;
using Fabric.Actors.Cellular;
using Fabric.Actors.Config;
using Fabric.Actors.Guardian;
using Fabric.Actors.Pseudowire;
using Fabric.Actors.Settings;
using Fabric.Actors.Switching;
using Fabric.Messages.Config;
using Fabric.Messages.Node;

namespace Fabric.Node.Management;

/// <summary>
/// <c>GET /metrics</c>: what this node runs, in Prometheus text format, read from the same status
/// the JSON routes show (<c>/trunks</c>, <c>/pws</c>, <c>/gateways</c>, <c>/hosts</c>,
/// <c>/hypervisors</c>, <c>/changes</c>, <c>/cluster/members</c>), so a scrape and a JSON read agree.
/// Counters are the elements' own running totals (they restart with the element). A source that
/// does not answer within <c>fabric.management.scrape-timeout</c> is left out and counted in
/// <c>fabric_scrape_errors</c>, never failing the whole scrape.
/// </summary>
public static class MetricsEndpoints
{
    public static void MapMetricsEndpoints(this WebApplication app)
    {
        app.MapGet("/metrics", async (HttpContext http, ActorSystem system, ActorRegistry registry, PseudowireNode pw,
                SwitchingNode switching, CellularNode cellular, ManagementSettings settings, CancellationToken ct) =>
            {
                var text = await Scrape(system, registry, pw, switching, cellular, settings, ct);
                return Results.Text(text, PrometheusText.ContentType);
            })
            .WithSummary("Prometheus text format: ports, trunks, PWs (BFD), gateways, MFE ports, modems, intent, changes, members");
    }

    public static async Task<string> Scrape(ActorSystem system, ActorRegistry registry, PseudowireNode pw, SwitchingNode switching,
        CellularNode cellular, ManagementSettings settings, CancellationToken ct)
    {
        var m = new PrometheusText();
        var errors = new Dictionary<string, int>();
        Process(m);
        Cluster(m, Akka.Cluster.Cluster.Get(system));
        await Guard("intent", errors, () => Intent(m, registry, settings, ct));
        Pseudowires(m, pw);
        await Guard("gateways", errors, () => Gateways(m, system, registry, ct));
        Switching(m, switching);
        Cellular(m, cellular);
        foreach (var source in new[] { "intent", "gateways" })
            m.Gauge("fabric_scrape_errors", "Sources that did not answer this scrape (1 = left out)", errors.GetValueOrDefault(source), ("source", source));
        return m.ToString();
    }

    private static async Task Guard(string source, Dictionary<string, int> errors, Func<Task> read)
    {
        try
        {
            await read();
        }
        catch (Exception e) when (e is AskTimeoutException or TaskCanceledException or ActorNotFoundException)
        {
            errors[source] = 1;
        }
    }

    /// <summary>The process's own cost, under the names Prometheus' process collector uses, and the GC's split of it.</summary>
    private static void Process(PrometheusText m)
    {
        using var self = System.Diagnostics.Process.GetCurrentProcess();
        m.Counter("process_cpu_seconds_total", "User and system CPU time spent, in seconds", self.TotalProcessorTime.TotalSeconds);
        m.Gauge("process_resident_memory_bytes", "Resident memory (RSS), in bytes", self.WorkingSet64);
        m.Gauge("process_threads", "Operating system threads of the process", self.Threads.Count);
        var gc = GC.GetGCMemoryInfo();
        m.Gauge("dotnet_gc_heap_size_bytes", "Managed heap size after the last collection (live objects and fragmentation), in bytes", gc.HeapSizeBytes);
        m.Gauge("dotnet_gc_committed_bytes", "Memory the GC has committed for the managed heap, in bytes", gc.TotalCommittedBytes);
        m.Gauge("dotnet_gc_pinned_objects", "Pinned objects seen by the last collection", gc.PinnedObjectsCount);
        m.Counter("dotnet_gc_allocated_bytes_total", "Bytes allocated on the managed heap since the process started", GC.GetTotalAllocatedBytes());
        for (var g = 0; g <= GC.MaxGeneration; g++)
            m.Counter("dotnet_gc_collections_total", "Garbage collections of a generation (and the younger ones with it) since the process started", GC.CollectionCount(g), ("generation", $"{g}"));
        m.Counter("dotnet_gc_pause_seconds_total", "Time the GC has paused the process's threads since it started, in seconds", GC.GetTotalPauseDuration().TotalSeconds);
        // The JIT: a node compiles its hot paths again, optimised, during its first seconds of
        // traffic (tiered compilation); until these stop growing it runs below its steady speed.
        m.Counter("dotnet_jit_compiled_methods_total", "Methods the JIT compiled (each tier counted) since the process started", System.Runtime.JitInfo.GetCompiledMethodCount());
        m.Counter("dotnet_jit_compiled_il_bytes_total", "IL bytes the JIT compiled since the process started", System.Runtime.JitInfo.GetCompiledILBytes());
        m.Counter("dotnet_jit_compilation_time_seconds_total", "Time threads spent in the JIT since the process started, in seconds", System.Runtime.JitInfo.GetCompilationTime().TotalSeconds);
        // The I/O loops: which run at real-time priority now (light load), and how often they changed.
        foreach (var loop in Fabric.Actors.DataPlane.Io.IoLoop.Live.OrderBy(l => l.Name, StringComparer.Ordinal))
        {
            m.Gauge("fabric_io_loop_realtime", "1 while the I/O loop thread runs at real-time priority (its load light; fabric.io.realtime-*)", loop.IsRealtime ? 1 : 0, ("loop", loop.Name));
            m.Counter("fabric_io_loop_realtime_demotions_total", "Times the I/O loop went to normal priority because it was busy", loop.RealtimeDemotions, ("loop", loop.Name));
        }
        // The last young-generation collection: what made it as long as it was.
        var young = GC.GetGCMemoryInfo(GCKind.Ephemeral);
        if (young.Index > 0)
        {
            m.Gauge("dotnet_gc_last_ephemeral_pause_seconds", "Pause of the last gen-0/gen-1 collection, in seconds", young.PauseDurations[0].TotalSeconds);
            m.Gauge("dotnet_gc_last_ephemeral_promoted_bytes", "Bytes the last gen-0/gen-1 collection kept alive and moved up a generation", young.PromotedBytes);
            m.Gauge("dotnet_gc_last_ephemeral_generation", "Generation of the last ephemeral collection (0 or 1)", young.Generation);
        }
    }

    private static void Cluster(PrometheusText m, Cluster cluster)
    {
        var state = cluster.State;
        foreach (var status in Enum.GetValues<MemberStatus>())
            m.Gauge("fabric_cluster_members", "Cluster members by status, as this node sees them", state.Members.Count(x => x.Status == status),
                ("status", status.ToString()));
        m.Gauge("fabric_cluster_unreachable_members", "Members this node's failure detectors consider unreachable", state.Unreachable.Count);
        m.Gauge("fabric_cluster_self_up", "1 when this node is an Up member", cluster.SelfMember.Status == MemberStatus.Up ? 1 : 0);
        m.Gauge("fabric_cluster_leader", "1 when this node is the leader", state.Leader == cluster.SelfAddress ? 1 : 0);
    }

    private static async Task Intent(PrometheusText m, ActorRegistry registry, ManagementSettings settings, CancellationToken ct)
    {
        if (registry.TryGet<FabricGuardianActor>(out var guardian))
        {
            var applied = await guardian.Ask<AppliedIntent>(GetAppliedIntent.Instance, settings.ScrapeTimeout, ct);
            m.Gauge("fabric_intent_applied_version", "The intent version this node runs", applied.Version);
            foreach (var kind in applied.Elements.GroupBy(e => e.Kind).OrderBy(g => g.Key, StringComparer.Ordinal))
                m.Gauge("fabric_elements", "Elements of the intent this node hosts, by kind", kind.Count(), ("kind", kind.Key));
            m.Gauge("fabric_elements_restarting", "Elements of the intent whose actor failed to start, retried with backoff (GET /intent/applied: restarting)",
                applied.Restarting.Length);
        }
        if (!registry.TryGet<ConfigStoreActor>(out var store)) return;
        var intent = await store.Ask<CurrentIntent>(GetIntent.Instance, settings.ScrapeTimeout, ct);
        m.Gauge("fabric_intent_version", "The committed intent version (config store)", intent.Version);
        var changes = await store.Ask<ChangeList>(new GetChanges(ChangeWindow), settings.ScrapeTimeout, ct);
        foreach (var status in Enum.GetValues<ChangeStatus>())
            m.Gauge("fabric_changes", $"Changes by status, of the newest {ChangeWindow}", changes.Changes.Count(c => c.Status == status),
                ("status", status.ToString().ToLowerInvariant()));
        var verified = changes.Changes.Where(c => c.Verifier is not null).ToList();
        m.Gauge("fabric_ghost_verdicts", $"Ghost verdicts of the newest {ChangeWindow} changes: passed (verified or committed) or failed (rejected by the ghost network)",
            verified.Count(c => c.Status is ChangeStatus.Verified or ChangeStatus.Committed), ("verdict", "passed"));
        m.Gauge("fabric_ghost_verdicts", "", verified.Count(c => c.Status == ChangeStatus.Rejected), ("verdict", "failed"));
        m.Gauge("fabric_ghost_findings", $"Findings in the ghost verdicts of the newest {ChangeWindow} changes", verified.Sum(c => c.Findings.Length));
    }

    /// <summary>How many of the newest changes the change gauges count (the store's list is newest first).</summary>
    public const int ChangeWindow = 500;

    private static void Pseudowires(PrometheusText m, PseudowireNode pw)
    {
        foreach (var name in pw.Pes.Keys.Order(StringComparer.Ordinal))
        {
            if (pw.PeStatus(name) is not { } pe) continue;
            foreach (var ac in pe.AttachmentCircuits)
            {
                (string, string)[] port = [("kind", "attachment-circuit"), ("element", pe.Name), ("port", ac.Name)];
                PortCounters(m, port, ac.PortState, ac.RxFrames, ac.TxFrames);
                m.Counter("fabric_port_drops_total", "Frames a port dropped, by reason", ac.PortDrops, [.. port, ("reason", "port")]);
                m.Counter("fabric_port_drops_total", "", ac.NoTrunkDrops, [.. port, ("reason", "no-trunk")]);
            }
            foreach (var trunkName in pe.Trunks)
            {
                if (pw.TrunkStatus(trunkName) is not { } t) continue;
                (string, string)[] trunk = [("trunk", t.Name), ("pe", t.Pe)];
                m.Gauge("fabric_trunk_up", "1 while the trunk has at least minActive members up", t.State == "up" ? 1 : 0, trunk);
                m.Gauge("fabric_trunk_active_members", "Trunk members carrying traffic", t.Active, trunk);
                m.Gauge("fabric_trunk_min_active", "Members the trunk needs up (minActive)", t.MinActive, trunk);
                m.Counter("fabric_trunk_transitions_total", "Trunk up/down transitions", t.Transitions, trunk);
                m.Counter("fabric_trunk_member_transitions_total", "Transitions of the trunk's members", t.MemberTransitions, trunk);
                m.Counter("fabric_trunk_down_drops_total", "CE frames dropped while the trunk was down", t.TrunkDownDrops, trunk);
                foreach (var member in t.Members)
                {
                    (string, string)[] labels = [.. trunk, ("member", member.Pw)];
                    m.Gauge("fabric_trunk_member_up", "1 when the member PW's liveness (BFD) is up", member.State == "up" ? 1 : 0, labels);
                    m.Gauge("fabric_trunk_member_active", "1 when the member carries a share of the trunk", member.Active ? 1 : 0, labels);
                    m.Gauge("fabric_trunk_member_weight", "The member's configured weight", member.Weight, labels);
                    m.Counter("fabric_trunk_member_transitions_total", "Liveness (BFD) transitions of the member", member.Transitions, labels);
                    m.Counter("fabric_trunk_member_tx_frames_total", "Frames the trunk sent on the member", member.TxFrames, labels);
                    m.Counter("fabric_trunk_member_tx_bytes_total", "Bytes the trunk sent on the member", member.TxBytes, labels);
                    m.Gauge("fabric_trunk_member_frame_share", "The member's share of the trunk's frames (as /trunks shows it)", member.FrameShare, labels);
                    m.Gauge("fabric_trunk_member_byte_share", "The member's share of the trunk's bytes (as /trunks shows it)", member.ByteShare, labels);
                }
            }
        }
        foreach (var p in pw.PwStatuses())
        {
            (string, string)[] labels = [("pw", p.Name), ("pe", p.Pe), ("trunk", p.Trunk ?? "")];
            m.Gauge("fabric_pw_up", "1 when the PW's liveness (BFD, RFC 5885) is up", p.State.StartsWith("up", StringComparison.Ordinal) ? 1 : 0, labels);
            m.Counter("fabric_pw_bfd_transitions_total", "BFD state transitions of the PW", p.Transitions, labels);
            m.Counter("fabric_pw_bfd_hellos_sent_total", "BFD control packets sent", p.HellosSent, labels);
            m.Counter("fabric_pw_bfd_hellos_received_total", "BFD control packets received", p.HellosReceived, labels);
            m.Counter("fabric_pw_tx_frames_total", "Frames sent on the PW", p.TxFrames, labels);
            m.Counter("fabric_pw_rx_frames_total", "Frames received on the PW", p.RxFrames, labels);
            m.Counter("fabric_pw_rx_reordered_total", "Frames received out of sequence (control word)", p.RxReordered, labels);
            m.Counter("fabric_pw_rx_lost_total", "Sequence gaps (frames lost) on the PW", p.RxLost, labels);
            m.Counter("fabric_pw_rx_malformed_total", "Malformed datagrams for the PW", p.RxMalformed, labels);
            m.Counter("fabric_pw_fault_drops_total", "Frames dropped while the PW was down", p.FaultDrops, labels);
        }
        if (pw.Underlay is { } underlay)
        {
            // The node's one PW underlay socket (port 6635): what reached it, and what it dropped (rx-queue-delay among them).
            (string, string)[] port = [("kind", "underlay"), ("element", "pw"), ("port", "underlay")];
            var u = underlay.Port;
            PortCounters(m, port, u.State.ToString(), u.Counters.RxFrames, u.Counters.TxFrames);
            foreach (var (reason, count) in u.Counters.DropsByName().OrderBy(x => x.Key, StringComparer.Ordinal))
                m.Counter("fabric_port_drops_total", "", count, [.. port, ("reason", reason)]);
        }
    }

    private static async Task Gateways(PrometheusText m, ActorSystem system, ActorRegistry registry, CancellationToken ct)
    {
        foreach (var g in await GatewayEndpoints.Statuses(system, registry, ct))
        {
            (string, string)[] gw = [("gateway", g.Name)];
            m.Gauge("fabric_gateway_cache_entries", "Flow-cache entries in use", g.Cache.Active, gw);
            m.Counter("fabric_gateway_cache_hits_total", "Flow-cache hits", g.Cache.Hits, gw);
            m.Counter("fabric_gateway_cache_misses_total", "Flow-cache misses (the stages ran)", g.Cache.Misses, gw);
            m.Counter("fabric_gateway_cache_evictions_total", "Flow-cache evictions", g.Cache.Evictions, gw);
            m.Counter("fabric_gateway_cache_insertions_total", "Flow-cache insertions", g.Cache.Insertions, gw);
            m.Gauge("fabric_gateway_cache_hit_ratio", "Hits / (hits + misses), as /gateways shows it", g.Cache.HitRate, gw);
            m.Gauge("fabric_gateway_pending_misses", "Missed frames waiting for their flow-cache entity", g.PendingMisses, gw);
            m.Gauge("fabric_gateway_generation", "The gateway's plan generation", g.Generation, gw);
            foreach (var (reason, count) in g.Drops.OrderBy(d => d.Key, StringComparer.Ordinal))
                m.Counter("fabric_gateway_drops_total", "Frames the gateway's stages dropped, by reason", count, [.. gw, ("reason", reason)]);
            foreach (var (stage, runs) in g.StageRuns.OrderBy(d => d.Key, StringComparer.Ordinal))
                m.Counter("fabric_gateway_stage_runs_total", "Times each stage ran (misses only: hits run no stage)", runs, [.. gw, ("stage", stage)]);
            foreach (var t in g.Stages ?? [])
            {
                (string, string)[] stage = [.. gw, ("tenant", t.Tenant), ("stage", t.Stage)];
                foreach (var (verdict, count) in t.Verdicts.OrderBy(v => v.Key, StringComparer.Ordinal))
                    m.Counter("fabric_gateway_stage_verdicts_total", "Slow-path decisions of a tenant's stage, by verdict", count, [.. stage, ("verdict", verdict)]);
                if (t.Stage != "firewall") continue; // routes can be thousands: per-item counts are in GET /gateways/{name}
                foreach (var rule in t.Items)
                {
                    (string, string)[] r = [.. gw, ("tenant", t.Tenant), ("rule", rule.Item.Split(':')[0]), ("index", rule.Index.ToString(System.Globalization.CultureInfo.InvariantCulture))];
                    m.Counter("fabric_gateway_firewall_rule_flows_total", "Flows a firewall rule (or the default policy) judged", rule.Flows, r);
                    m.Counter("fabric_gateway_firewall_rule_packets_total", "Packets of the flows a firewall rule judged, cached hits included", rule.Packets, r);
                }
            }
            foreach (var p in g.Ports)
            {
                // A gateway may have one port name per tenant (each tenant's "uplink"): the tenant tells them apart.
                (string, string)[] port = [("kind", "gateway"), ("element", g.Name), ("port", p.Name), ("tenant", p.Tenant)];
                PortCounters(m, port, p.State, p.RxFrames, p.TxFrames);
                m.Counter("fabric_port_drops_total", "", p.Drops, [.. port, ("reason", "port")]);
            }
        }
    }

    private static void Switching(PrometheusText m, SwitchingNode switching)
    {
        foreach (var summary in switching.Summaries())
        {
            if (switching.Status(summary.Name) is not { } host) continue;
            foreach (var d in host.Dcns)
            {
                (string, string)[] port = [("kind", "dcn"), ("element", host.Name), ("port", d.Name)];
                PortCounters(m, port, d.PortState, d.RxFrames, d.TxFrames);
                m.Counter("fabric_port_drops_total", "", d.PortDrops, [.. port, ("reason", "port")]);
                foreach (var (reason, count) in d.Drops.OrderBy(x => x.Key, StringComparer.Ordinal))
                    m.Counter("fabric_port_drops_total", "", count, [.. port, ("reason", reason)]);
            }
            foreach (var p in host.Ports)
            {
                (string, string)[] port = [("kind", "mfe"), ("element", host.Name), ("port", p.Name)];
                PortCounters(m, port, p.State, p.RxFrames, p.TxFrames);
                m.Counter("fabric_port_rx_bytes_total", "Bytes a port received", p.RxBytes, port);
                m.Counter("fabric_port_tx_bytes_total", "Bytes a port sent", p.TxBytes, port);
                foreach (var (reason, count) in p.Drops.OrderBy(x => x.Key, StringComparer.Ordinal))
                    m.Counter("fabric_port_drops_total", "", count, [.. port, ("reason", reason)]);
            }
            if (host.Overlay is { } o)
            {
                (string, string)[] h = [("host", host.Name)];
                m.Counter("fabric_mfe_overlay_rx_frames_total", "Geneve frames the host's overlay received", o.RxFrames, h);
                m.Counter("fabric_mfe_overlay_tx_frames_total", "Geneve frames the host's overlay sent", o.TxFrames, h);
                foreach (var (reason, count) in o.Drops.OrderBy(x => x.Key, StringComparer.Ordinal))
                    m.Counter("fabric_mfe_overlay_drops_total", "Overlay datagrams dropped, by reason", count, [.. h, ("reason", reason)]);
            }
        }
    }

    private static void Cellular(PrometheusText m, CellularNode cellular)
    {
        foreach (var name in cellular.Hypervisors.Keys.Order(StringComparer.Ordinal))
        {
            if (cellular.Status(name) is not { } hv) continue;
            foreach (var modem in hv.Modems)
            {
                (string, string)[] labels = [("hypervisor", hv.Name), ("modem", modem.Name)];
                m.Gauge("fabric_modem_phase", "1 for the phase the modem's dialogue is in", 1, [.. labels, ("phase", modem.Phase)]);
                m.Gauge("fabric_modem_bearer_up", "1 while the modem's data bearer is up", modem.Bearer == "up" ? 1 : 0, labels);
                if (modem.SignalDbm is { } dbm) m.Gauge("fabric_modem_signal_dbm", "Signal strength (AT+CSQ) in dBm", dbm, labels);
                var c = modem.Counters;
                m.Counter("fabric_modem_dials_total", "Bearer activations attempted", c.Dials, labels);
                m.Counter("fabric_modem_bearer_drops_total", "Bearers the network or modem dropped", c.BearerDrops, labels);
                m.Counter("fabric_modem_address_changes_total", "Cellular address changes seen", c.AddressChanges, labels);
                m.Counter("fabric_modem_timeouts_total", "AT commands left unanswered", c.Timeouts, labels);
                m.Counter("fabric_modem_reopens_total", "Times the modem's serial link was re-opened", c.Reopens, labels);
                m.Counter("fabric_modem_reboots_total", "Modem reboots seen", c.Reboots, labels);
                m.Counter("fabric_modem_data_tx_packets_total", "Packets sent to the cellular network", modem.Data.TxPackets, labels);
                m.Counter("fabric_modem_data_rx_packets_total", "Packets received from the cellular network", modem.Data.RxPackets, labels);
                m.Counter("fabric_modem_data_drops_total", "Packets the modem's data interface dropped", modem.Data.Drops, labels);
            }
            foreach (var vm in hv.Vms)
            {
                (string, string)[] port = [("kind", "vm"), ("element", hv.Name), ("port", vm.Name)];
                PortCounters(m, port, vm.PortState, vm.ToModem, vm.ToVm);
                foreach (var (reason, count) in vm.Drops)
                    m.Counter("fabric_port_drops_total", "", count, [.. port, ("reason", reason)]);
            }
        }
    }

    private static void PortCounters(PrometheusText m, (string, string)[] port, string state, long rx, long tx)
    {
        m.Gauge("fabric_port_up", "1 when the port is up", state.StartsWith("up", StringComparison.OrdinalIgnoreCase) ? 1 : 0, port);
        m.Counter("fabric_port_rx_frames_total", "Frames a port received", rx, port);
        m.Counter("fabric_port_tx_frames_total", "Frames a port sent", tx, port);
    }
}
