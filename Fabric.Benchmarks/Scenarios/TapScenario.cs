using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using static Fabric.Benchmarks.Scenarios.NodeProcesses;

namespace Fabric.Benchmarks.Scenarios;

/// <summary>
/// `scenario tap` (root; iperf3, ping, nftables; optional: openvswitch-switch, gcc): real traffic through
/// real `fabric-node run` processes (this build's configuration) with TAPs in namespaces,
/// beside the peers of ../shared/peers on the same traffic in the same run:
/// <list type="bullet">
/// <item>gateway: one node, a gateway with SNAT; inside namespace (TAP downlink) to an outside
/// namespace (TAP uplink) whose iperf3 server listens on 203.0.113.80;</item>
/// <item>pw: two nodes (underlay 127.0.0.2 / 127.0.0.3), a 4-PW trunk each way, CE namespaces on
/// the PEs' TAPs;</item>
/// <item>veth: two namespaces on one veth pair (the kernel's ceiling);</item>
/// <item>ovs_tso: Open vSwitch, userspace (netdev) datapath with userspace-tso-enable, two tap
/// ports moved into namespaces (baseline C of the peers), when ovs-vswitchd is installed;</item>
/// <item>tapfwd_offload: the peers' C forwarder with IFF_VNET_HDR + TSO (baseline D, -o), when gcc is.</item>
/// <item>tapudp: the PW path's shape without the fabric: two processes of Peers/tapudp.c (C, poll and
/// read/write, 3-4 system calls a frame), each joining a TAP in a namespace to a UDP socket on
/// loopback (127.0.0.8 / 127.0.0.9), frame per datagram, when gcc is installed. A frame costs what it
/// costs the PW path in the kernel (two processes woken per way, a loopback datagram between them)
/// and next to nothing else: what that shape costs on this machine.</item>
/// <item>socat_udp: the same shape made by a program nobody here wrote: two socat processes
/// (<c>TUN,tun-type=tap</c> to <c>UDP-DATAGRAM</c>, 127.0.0.6 / 127.0.0.7), when socat is installed.</item>
/// </list>
/// Each of <c>--reps</c> rounds (default 3) runs, path after path, iperf3 TCP with one stream for
/// <c>--seconds</c> (default 5; receiver rate) and <c>--pings</c> pings 10 ms apart (default 100;
/// average RTT, the median reply as <c>rtt_p50_ms_*</c>, and the 99th percentile reply as
/// <c>rtt_p99_ms_*</c>: the average also carries the rare multi-millisecond stall). While the iperf3 stream runs, pings 20 ms apart measure the path's
/// latency under load (<c>rtt_loaded_p50_ms_*</c>, <c>rtt_loaded_max_ms_*</c>, <c>rtt_loaded_lost_*</c>;
/// <c>--seconds</c> of 3 or more). Prints every run, then one JSON line: per path and metric
/// min/median/max over the rounds (<c>tcp1_gbps_*</c>, <c>rtt_ms_*</c>), the ratios the issue's goals are stated in,
/// the gateway's median reply over the C forwarder's (<c>gateway_rtt_vs_tapfwd</c>) and the PW
/// path's over tapudp's and socat's (<c>pw_rtt_vs_tapudp</c>, <c>pw_rtt_vs_socat_udp</c>); the same
/// two ratios from pings seconds apart (<c>--duel-pairs</c> pairs of <c>--duel-pings</c>-ping bursts,
/// default 10 and 20, alternating: <c>gateway_rtt_vs_tapfwd_interleaved</c>,
/// <c>pw_rtt_vs_tapudp_interleaved</c>, see <see cref="RttDuel"/>); and the machine's memory sampling (<c>machine_damon</c>, <see cref="DamonSampling"/>), which moves the tails.
/// Then, once per round, 64-byte frames up a rate ladder on every path (the gateway: one flow through SNAT)
/// (TapScenario.Udp64.cs), <c>--udp-seconds</c> per rate (default 2; 0 leaves the ladder out):
/// <c>udp64_lossless_kfps_*</c>, <c>udp64_first_loss_*</c>.
/// Keys of the issue that other parts own are null with the reason in <c>not_measured</c>.
/// <c>--hold SECONDS</c> keeps the paths up that long after the warm-up, printing each path's
/// namespaces and devices, for probing by hand (ping, perf, tcpdump); the rounds follow.
/// </summary>
public static partial class TapScenario
{
    private const string GatewayServer = "203.0.113.80";

    internal sealed record TrafficPath(string Name, ScenarioNamespace Client, ScenarioNamespace Server, string ServerAddress)
    {
        /// <summary>The client's and the server's devices and the client's address (the 64-byte ladder writes and counts frames there).</summary>
        public required string ClientDevice { get; init; }

        public required string ServerDevice { get; init; }

        public required string ClientAddress { get; init; }

        /// <summary>The router the client sends through (its MAC is the frames' destination); null: the server is on the client's link.</summary>
        public string? FirstHop { get; init; }

        /// <summary>Management ports of the fabric-node processes on the path (none for a peer).</summary>
        public int[] Nodes { get; init; } = [];
    }

    public static int Run(string[] args)
    {
        var seconds = ScenarioArgs.Option(args, "--seconds", 5);
        var reps = ScenarioArgs.Option(args, "--reps", 3);
        var pings = ScenarioArgs.Option(args, "--pings", 100);
        var udpSeconds = ScenarioArgs.Option(args, "--udp-seconds", 2);
        var only = ScenarioArgs.List(args, "--paths");
        var hold = ScenarioArgs.Option(args, "--hold", 0);
        var duel = new DuelSettings(ScenarioArgs.Option(args, "--duel-pairs", 10), ScenarioArgs.Option(args, "--duel-pings", 20));
        return RunAsync(seconds, reps, pings, udpSeconds, only, hold, duel).GetAwaiter().GetResult();
    }

    /// <summary>The interleaved RTT comparison's shape: <see cref="Pairs"/> pairs of bursts of <see cref="Pings"/> pings each (0 pairs: none).</summary>
    private sealed record DuelSettings(int Pairs, int Pings);

    private static async Task<int> RunAsync(int seconds, int reps, int pings, int udpSeconds, HashSet<string>? only, int hold, DuelSettings duel)
    {
        var pid = Environment.ProcessId;
        var tag = $"{pid % 100000}";
        var root = Path.Combine(Path.GetTempPath(), "fabric-bench-tap-" + pid);
        Directory.CreateDirectory(root);
        var iperf = Tool("iperf3", "iperf3");
        var cleanup = new ScenarioCleanup();
        var servers = new List<Process>();
        var paths = new List<TrafficPath>();
        var skipped = new Dictionary<string, string>();
        var succeeded = false;
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            bool Wanted(string name) => only is null || only.Contains(name);
            if (Wanted("gateway")) paths.Add(await StartGateway(root, tag, http, cleanup));
            if (Wanted("pw")) paths.Add(await StartPw(root, tag, http, cleanup));
            if (Wanted("veth")) paths.Add(StartVeth(tag, cleanup));
            if (!Wanted("ovs_tso")) skipped["ovs_tso"] = "left out (--paths)";
            else if (TryTool("ovs-vswitchd") is null) skipped["ovs_tso"] = "ovs-vswitchd is not installed (apt-get install -y openvswitch-switch)";
            else paths.Add(StartOvs(root, tag, cleanup));
            if (!Wanted("tapfwd_offload")) skipped["tapfwd_offload"] = "left out (--paths)";
            else if (TryTool("gcc") is null || !File.Exists(PeerFile("tapfwd.c"))) skipped["tapfwd_offload"] = "gcc or ../shared/peers/tapfwd.c is missing";
            else paths.Add(StartTapfwd(root, tag, cleanup, PeerLifetime(hold)));
            if (!Wanted("tapudp")) skipped["tapudp"] = "left out (--paths)";
            else if (TryTool("gcc") is null) skipped["tapudp"] = "gcc is not installed";
            else paths.Add(StartTapudp(root, cleanup, PeerLifetime(hold)));
            if (!Wanted("socat_udp")) skipped["socat_udp"] = "left out (--paths)";
            else if (TryTool("socat") is null) skipped["socat_udp"] = "socat is not installed (apt-get install -y socat)";
            else paths.Add(StartSocatUdp(tag, cleanup));

            foreach (var p in paths)
            {
                servers.Add(StartIperfServer(iperf, p));
                WaitReachable(p);
            }

            // Warm-up: ARP, the gateway's first flows, the nodes' tiered JIT.
            foreach (var p in paths)
            {
                await WarmUp(http, p.Nodes, p.Name, () => $"{Iperf(iperf, p, WarmUpSeconds):0.00} Gbit/s");
            }

            if (hold > 0)
            {
                foreach (var p in paths)
                {
                    Console.WriteLine($"hold {p.Name}: client netns {p.Client.Name} dev {p.ClientDevice} ({p.ClientAddress}), server netns {p.Server.Name} dev {p.ServerDevice} ({p.ServerAddress})");
                }

                await Task.Delay(TimeSpan.FromSeconds(hold));
            }

            var gbps = paths.ToDictionary(p => p.Name, _ => new List<double>());
            var rtt = paths.ToDictionary(p => p.Name, _ => new List<double>());
            var rttP50 = paths.ToDictionary(p => p.Name, _ => new List<double>());
            var rttP99 = paths.ToDictionary(p => p.Name, _ => new List<double>());
            var loadedP50 = paths.ToDictionary(p => p.Name, _ => new List<double>());
            var loadedMax = paths.ToDictionary(p => p.Name, _ => new List<double>());
            var loadedLost = paths.ToDictionary(p => p.Name, _ => 0);
            for (var r = 0; r < reps; r++)
            {
                foreach (var p in paths)
                {
                    var underLoad = Task.Run(() => LoadedPing(p, seconds));
                    gbps[p.Name].Add(Iperf(iperf, p, seconds));
                    var loaded = underLoad.Result;
                    loadedP50[p.Name].Add(loaded.Median);
                    loadedMax[p.Name].Add(loaded.Max);
                    loadedLost[p.Name] += loaded.Lost;
                    var (average, p50, p99) = Ping(p, pings);
                    rtt[p.Name].Add(average);
                    rttP50[p.Name].Add(p50);
                    rttP99[p.Name].Add(p99);
                    Console.WriteLine($"round {r + 1} {p.Name,-15} tcp1 {gbps[p.Name][^1],6:0.00} Gbit/s   rtt avg {average:0.000} ms, p50 {p50:0.000} ms, p99 {p99:0.000} ms" +
                        (double.IsNaN(loaded.Median)
                            ? "   under load: not measured (--seconds 3 or more)"
                            : $"   under load p50 {loaded.Median:0.000} ms, max {loaded.Max:0.000} ms, lost {loaded.Lost}"));
                }
            }

            // Each fabric path against its shape without a fabric, in alternating bursts seconds apart:
            // its result, or why it was not measured.
            (DuelResult? Result, string? Why) Duel(string ours, string theirs) =>
                duel.Pairs <= 0 ? (null, "left out (--duel-pairs 0)")
                : paths.FirstOrDefault(p => p.Name == ours) is { } a && paths.FirstOrDefault(p => p.Name == theirs) is { } b ? (RttDuel(a, b, duel), null)
                : (null, $"needs both the {ours} and the {theirs} path");

            var duels = new[]
            {
                (Key: "gateway_rtt_vs_tapfwd_interleaved", Outcome: Duel("gateway", "tapfwd_offload")),
                (Key: "pw_rtt_vs_tapudp_interleaved", Outcome: Duel("pw", "tapudp")),
            };

            // 64-byte frames up the ladder on every path, one ladder per round.
            var nft = TryTool("nft");
            var udp64 = new Dictionary<string, List<Udp64Result>>();
            if (nft is null) skipped["udp64"] = "nft is not installed (apt-get install -y nftables)";
            else if (udpSeconds <= 0) skipped["udp64"] = "left out (--udp-seconds 0)";
            else
            {
                for (var r = 0; r < reps; r++)
                {
                    foreach (var p in paths)
                    {
                        (udp64.TryGetValue(p.Name, out var l) ? l : udp64[p.Name] = []).Add(Udp64Ladder(nft, p, udpSeconds));
                    }
                }
            }

            var result = new JsonObject
            {
                ["scenario"] = "tap",
                ["seconds"] = seconds,
                ["reps"] = reps,
                ["pings"] = pings,
            };
            foreach (var p in paths)
            {
                result[$"tcp1_gbps_{p.Name}"] = Spread(gbps[p.Name], 2);
                result[$"rtt_ms_{p.Name}"] = Spread(rtt[p.Name], 3);
                result[$"rtt_p50_ms_{p.Name}"] = Spread(rttP50[p.Name], 3);
                result[$"rtt_p99_ms_{p.Name}"] = Spread(rttP99[p.Name], 3);
                result[$"rtt_loaded_p50_ms_{p.Name}"] = Spread(loadedP50[p.Name], 3);
                result[$"rtt_loaded_max_ms_{p.Name}"] = Spread(loadedMax[p.Name], 3);
                result[$"rtt_loaded_lost_{p.Name}"] = loadedLost[p.Name];
            }

            result["rtt_ms_ovs"] = result["rtt_ms_ovs_tso"]?.DeepClone();
            double Median(Dictionary<string, List<double>> d, string k) => d.TryGetValue(k, out var v) ? Stats(v).Median : double.NaN;
            JsonNode? Ratio(Dictionary<string, List<double>> d, string of, string to) => Median(d, of) / Median(d, to) is var v && !double.IsNaN(v) ? Math.Round(v, 3) : null;
            result["gateway_vs_ovs_tso"] = Ratio(gbps, "gateway", "ovs_tso");
            result["pw_vs_ovs_tso"] = Ratio(gbps, "pw", "ovs_tso");
            result["gateway_vs_veth"] = Ratio(gbps, "gateway", "veth");
            // The gateway's median reply over the C forwarder's, same rounds: the RTT goal's absolute
            // 0.10 ms moves with the machine (the C forwarder itself 0.07-0.15 ms), this ratio less;
            // less again the interleaved one below (pings seconds apart, not minutes).
            result["gateway_rtt_vs_tapfwd"] = Ratio(rttP50, "gateway", "tapfwd_offload");
            // The PW path's over the same shape's without a fabric in it: two processes woken per way
            // and a loopback datagram between them, as the PW's two PEs (the PW RTT goal's absolute
            // 0.25 ms is about what that shape alone costs here).
            result["pw_rtt_vs_tapudp"] = Ratio(rttP50, "pw", "tapudp");
            result["pw_rtt_vs_socat_udp"] = Ratio(rttP50, "pw", "socat_udp");
            foreach (var (key, outcome) in duels)
            {
                result[key] = outcome.Result?.ToJson();
            }

            result["machine_damon"] = DamonSampling();
            result["udp64_ladder_kfps"] = new JsonArray(Udp64LadderKfps.Select(k => (JsonNode)k).ToArray());
            foreach (var (name, ladders) in udp64)
            {
                // 0: lost frames already at the ladder's first rate.
                result[$"udp64_lossless_kfps_{name}"] = Spread(ladders.Select(l => (double)(l.LosslessKfps ?? 0)).ToList(), 0);
                // Where a ladder stopped on loss: how much the first lossy rate lost.
                var lossy = ladders.SelectMany(l => l.Steps.Where(s => s.Offered > 0 && s.Received < s.Offered).Take(1)).ToList();
                result[$"udp64_first_loss_{name}"] = lossy.Count == 0 ? null : new JsonObject
                {
                    ["kfps"] = Spread(lossy.Select(s => (double)s.Kfps).ToList(), 0),
                    ["lost_pct"] = Spread(lossy.Select(s => 100.0 * (s.Offered - s.Received) / s.Offered).ToList(), 3),
                };
            }

            foreach (var key in new[] { "crr_per_s_gateway", "crr_per_s_veth", "crr_errors", "rss_growth_mb_overload", "pw_min_byte_share_p8" })
            {
                result[key] = null;
            }

            var notMeasured = new JsonObject
            {
                ["crr_per_s_gateway"] = "issue #10 part 3: scenario crr",
                ["crr_per_s_veth"] = "issue #10 part 3: scenario crr",
                ["crr_errors"] = "issue #10 part 3: scenario crr",
                ["rss_growth_mb_overload"] = "issue #10 part 4: scenario overload",
                ["pw_min_byte_share_p8"] = "issue #10 part 5: scenario pw-share",
            };
            foreach (var (k, why) in skipped) notMeasured[k == "udp64" ? "udp64_lossless_kfps_*" : $"tcp1_gbps_{k}"] = why;
            foreach (var (key, outcome) in duels.Where(d => d.Outcome.Why is not null)) notMeasured[key] = outcome.Why;
            result["not_measured"] = notMeasured;
            Console.WriteLine(result.ToJsonString());
            succeeded = true;
            return 0;
        }
        finally
        {
            foreach (var s in servers)
            {
                if (!s.HasExited) s.Kill(entireProcessTree: true);
                s.WaitForExit(5000);
            }

            cleanup.Dispose();

            if (succeeded && Directory.Exists(root)) Directory.Delete(root, recursive: true);
            else Console.Error.WriteLine($"tap: failed; node logs kept in {root}");
        }
    }

    /// <summary>One node with a gateway (SNAT), TAP downlink in an inside namespace, TAP uplink in an outside one.</summary>
    private static async Task<TrafficPath> StartGateway(string root, string tag, HttpClient http, ScenarioCleanup cleanup)
    {
        string down = $"tg{tag}d", up = $"tg{tag}u";
        var inside = Namespace("tap-gw-in", cleanup);
        var outside = Namespace("tap-gw-out", cleanup);
        var intent = Path.Combine(root, "gateway.yaml");
        await File.WriteAllTextAsync(intent, $$"""
            version: 1
            nodes:
              - name: node-1
                roles: [fabric, ghost-shadow]
            tenants:
              - name: blue
                vni: 3001
            gateways:
              - name: gw-t
                node: node-1
                tenants:
                  - tenant: blue
                    networks: [10.0.0.1/24]
                    downlink: { kind: tap, name: {{down}} }
                    uplink:
                      port: { kind: tap, name: {{up}} }
                      address: 192.0.2.2/24
                    routes:
                      - prefix: 0.0.0.0/0
                        nextHop: 192.0.2.1
                    snatPool: [192.0.2.10]
                    firewall:
                      defaultPolicy: allow
            """);
        var management = FreePort();
        // Undone last first: the TAPs go once the node has stopped (deleted under a running node, its
        // gateway opened them again, in the host's namespace, and they outlived the run).
        cleanup.DeleteLinks(down, up);
        var node = StartLogged(root, "gw-node", "--name", "node-1", "--port", $"{FreePort()}", "--management", $"127.0.0.1:{management}", "--data", Path.Combine(root, "gw-node"), "--intent", intent);
        cleanup.Push(() => Terminate(node));
        await Until(async () => await Get(http, management, "/gateways/gw-t") is not null, "gateway gw-t running", 240);
        await Until(() => Task.FromResult(LinkExists(down) && LinkExists(up)), "gateway TAPs opened", 240);
        inside.Attach(down, "10.0.0.10/24", "10.0.0.1");
        outside.Attach(up, "192.0.2.1/24", null);
        outside.Ip($"addr add {GatewayServer}/32 dev lo");
        await Until(async () => (await Get(http, management, "/gateways/gw-t"))?["status"]?["neighbors"]?.GetValue<int>() >= 1, "upstream router resolved");
        return new TrafficPath("gateway", inside, outside, GatewayServer) { ClientDevice = down, ServerDevice = up, ClientAddress = "10.0.0.10", FirstHop = "10.0.0.1", Nodes = [management] };
    }

    /// <summary>Two nodes, PE1 and PE2 joined by a 4-PW trunk each way, CE namespaces on their TAPs.</summary>
    private static async Task<TrafficPath> StartPw(string root, string tag, HttpClient http, ScenarioCleanup cleanup)
    {
        string tap1 = $"tp{tag}a", tap2 = $"tp{tag}b";
        var ce1 = Namespace("tap-pw-ce1", cleanup);
        var ce2 = Namespace("tap-pw-ce2", cleanup);
        var pws = string.Concat(Enumerable.Range(1, 4).Select(i =>
            $"  - {{ name: pw1-{i}, pe: pe1, remotePe: pe2, localLabel: {1000 + i}, remoteLabel: {2000 + i}, flowLabel: true }}\n" +
            $"  - {{ name: pw2-{i}, pe: pe2, remotePe: pe1, localLabel: {2000 + i}, remoteLabel: {1000 + i}, flowLabel: true }}\n"));
        var intent = Path.Combine(root, "pw.yaml");
        await File.WriteAllTextAsync(intent, $$"""
            version: 1
            nodes:
              - { name: node-1, address: 127.0.0.2, roles: [fabric, ghost-shadow] }
              - { name: node-2, address: 127.0.0.3, roles: [fabric, ghost-shadow] }
            pes:
              - name: pe1
                node: node-1
                routerId: 10.255.0.1
                attachmentCircuits: [ { name: ce1, port: { kind: tap, name: {{tap1}} } } ]
              - name: pe2
                node: node-2
                routerId: 10.255.0.2
                attachmentCircuits: [ { name: ce2, port: { kind: tap, name: {{tap2}} } } ]
            pws:
            {{pws}}trunks:
              - { name: t1, pe: pe1, attachmentCircuit: ce1, members: [pw1-1, pw1-2, pw1-3, pw1-4], minActive: 2 }
              - { name: t2, pe: pe2, attachmentCircuit: ce2, members: [pw2-1, pw2-2, pw2-3, pw2-4], minActive: 2 }
            """);
        int port1 = FreePort(), port2 = FreePort(), m1 = FreePort(), m2 = FreePort();
        // The intent goes in once both nodes are members: proposed earlier, its ghost verification
        // could run before node-2 joined and reject the PWs towards it.
        cleanup.DeleteLinks(tap1, tap2); // after the nodes have stopped (undone last first)
        var n1 = StartLogged(root, "pw-node1", "--name", "node-1", "--host", "127.0.0.1", "--port", $"{port1}", "--seed", $"127.0.0.1:{port1}", "--management", $"127.0.0.1:{m1}", "--data", Path.Combine(root, "pw-node1"));
        cleanup.Push(() => Terminate(n1));
        var n2 = StartLogged(root, "pw-node2", "--name", "node-2", "--host", "127.0.0.1", "--port", $"{port2}", "--seed", $"127.0.0.1:{port1}", "--management", $"127.0.0.1:{m2}", "--data", Path.Combine(root, "pw-node2"));
        cleanup.Push(() => Terminate(n2));
        await Until(async () => (await Get(http, m1, "/cluster/members"))?["members"]?.AsArray()
            .Count(m => string.Equals(m?["status"]?.ToString(), "up", StringComparison.OrdinalIgnoreCase)) == 2, "both PW nodes up", 240);
        var propose = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { NodeDll(), "change", "propose", intent, "--management", $"127.0.0.1:{m1}", "--data", Path.Combine(root, "pw-node1"), "--wait" }) propose.ArgumentList.Add(a);
        using (var cli = Process.Start(propose)!)
        {
            var said = cli.StandardOutput.ReadToEndAsync();
            var err = cli.StandardError.ReadToEndAsync();
            if (!cli.WaitForExit(180_000) || cli.ExitCode != 0) throw new InvalidOperationException($"change propose failed: {said.Result}{err.Result}");
        }

        await Until(() => Task.FromResult(LinkExists(tap1) && LinkExists(tap2)), "PE TAPs opened", 240);
        await Until(async () => (await Get(http, m1, "/trunks/t1"))?["state"]?.ToString() == "up" && (await Get(http, m2, "/trunks/t2"))?["state"]?.ToString() == "up", "both trunks up", 240);
        ce1.Attach(tap1, "10.77.0.1/24", null);
        ce2.Attach(tap2, "10.77.0.2/24", null);
        return new TrafficPath("pw", ce1, ce2, "10.77.0.2") { ClientDevice = tap1, ServerDevice = tap2, ClientAddress = "10.77.0.1", Nodes = [m1, m2] };
    }

    private static TrafficPath StartVeth(string tag, ScenarioCleanup cleanup)
    {
        var a = Namespace("tap-veth-a", cleanup);
        var b = Namespace("tap-veth-b", cleanup);
        ScenarioNamespace.Run("ip", $"link add tv{tag}a netns {a.Name} type veth peer name tv{tag}b netns {b.Name}");
        a.Address($"tv{tag}a", "10.98.0.1/24", null);
        b.Address($"tv{tag}b", "10.98.0.2/24", null);
        return new TrafficPath("veth", a, b, "10.98.0.2") { ClientDevice = $"tv{tag}a", ServerDevice = $"tv{tag}b", ClientAddress = "10.98.0.1" };
    }

    /// <summary>Open vSwitch with the userspace datapath and userspace TSO, daemons on a private run directory (as baseline C of the peers).</summary>
    private static TrafficPath StartOvs(string root, string tag, ScenarioCleanup cleanup)
    {
        var dir = Path.Combine(root, "ovs");
        Directory.CreateDirectory(dir);
        var env = new Dictionary<string, string> { ["OVS_RUNDIR"] = dir, ["OVS_DBDIR"] = dir, ["OVS_LOGDIR"] = dir, ["OVS_SYSCONFDIR"] = dir };
        var db = $"unix:{dir}/db.sock";
        RunEnv("ovsdb-tool", $"create {dir}/conf.db /usr/share/openvswitch/vswitch.ovsschema", env);
        RunEnv("ovsdb-server", $"{dir}/conf.db --remote=punix:{dir}/db.sock --pidfile={dir}/ovsdb-server.pid --detach --no-chdir -vconsole:off --log-file={dir}/ovsdb-server.log", env);
        cleanup.Push(() => KillPidFile(Path.Combine(dir, "ovsdb-server.pid")));
        RunEnv("ovs-vsctl", $"--db={db} --timeout=10 --no-wait init", env);
        RunEnv("ovs-vsctl", $"--db={db} --timeout=10 --no-wait set Open_vSwitch . other_config:userspace-tso-enable=true", env);
        RunEnv("ovs-vswitchd", $"{db} --pidfile={dir}/ovs-vswitchd.pid --detach --no-chdir -vconsole:off --log-file={dir}/ovs-vswitchd.log", env);
        cleanup.Push(() => KillPidFile(Path.Combine(dir, "ovs-vswitchd.pid")));
        var bridge = $"ob{tag}";
        RunEnv("ovs-vsctl", $"--db={db} --timeout=20 add-br {bridge} -- set bridge {bridge} datapath_type=netdev", env);
        cleanup.Push(() => RunEnv("ovs-vsctl", $"--db={db} --timeout=10 --if-exists del-br {bridge}", env, check: false));
        var a = Namespace("tap-ovs-a", cleanup);
        var b = Namespace("tap-ovs-b", cleanup);
        foreach (var (side, ns, address) in new[] { ("a", a, "10.97.0.1/24"), ("b", b, "10.97.0.2/24") })
        {
            var name = $"ot{tag}{side}";
            RunEnv("ovs-vsctl", $"--db={db} --timeout=20 add-port {bridge} {name} -- set interface {name} type=tap", env);
            ScenarioNamespace.Run("ip", $"link set {name} netns {ns.Name}");
            ns.Address(name, address, null);
        }

        if (!File.ReadAllText(Path.Combine(dir, "ovs-vswitchd.log")).Contains("Segmentation Offloading support enabled", StringComparison.Ordinal))
        {
            Console.WriteLine("note: OVS did not log 'userspace TSO enabled'");
        }

        return new TrafficPath("ovs_tso", a, b, "10.97.0.2") { ClientDevice = $"ot{tag}a", ServerDevice = $"ot{tag}b", ClientAddress = "10.97.0.1" };
    }

    /// <summary>The peers' C forwarder, poll mode with offloads (-o), between two taps it creates in the namespaces.</summary>
    internal static TrafficPath StartTapfwd(string root, string tag, ScenarioCleanup cleanup, int lifetimeSeconds = 900)
    {
        var binary = Path.Combine(root, "tapfwd");
        ScenarioNamespace.Run("gcc", $"-O2 -Wall -pthread -o {binary} {PeerFile("tapfwd.c")}");
        var a = Namespace("tap-fwd-a", cleanup);
        var b = Namespace("tap-fwd-b", cleanup);
        StartReadyPeer(binary, cleanup, "-m", "poll", "-o", "-t", $"{lifetimeSeconds}", $"/var/run/netns/{a.Name}", "eth0", $"/var/run/netns/{b.Name}", "eth0");
        a.Address("eth0", "10.96.0.1/24", null);
        b.Address("eth0", "10.96.0.2/24", null);
        return new TrafficPath("tapfwd_offload", a, b, "10.96.0.2") { ClientDevice = "eth0", ServerDevice = "eth0", ClientAddress = "10.96.0.1" };
    }

    /// <summary>Starts a C peer that prints "ready" once its TAPs exist (tapfwd, tapudp), killed at cleanup.</summary>
    private static void StartReadyPeer(string binary, ScenarioCleanup cleanup, params string[] args)
    {
        var info = new ProcessStartInfo(binary) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        var peer = KilledAtCleanup(Process.Start(info)!, cleanup);
        var ready = peer.StandardOutput.ReadLineAsync();
        if (!ready.Wait(10_000) || ready.Result != "ready") throw new InvalidOperationException($"{Path.GetFileName(binary)} did not start: {peer.StandardError.ReadToEnd()}");
        peer.ErrorDataReceived += (_, _) => { };
        peer.BeginErrorReadLine();
    }

    /// <summary>
    /// <paramref name="process"/>, killed when the scenario is undone: before its namespaces, pushed
    /// earlier, go (undone last first), so a TAP it made, not persistent, goes with it.
    /// </summary>
    private static Process KilledAtCleanup(Process process, ScenarioCleanup cleanup)
    {
        cleanup.Push(() =>
        {
            if (!process.HasExited) process.Kill();
            process.WaitForExit(5000);
        });
        return process;
    }

    /// <summary>How long a C peer may run before it exits by itself (every run is bounded): the rounds' 15 minutes, and a hold's time on top.</summary>
    private static int PeerLifetime(int hold) => 900 + Math.Max(0, hold);

    /// <summary>Two tapudp processes (Peers/tapudp.c, compiled here), each with its TAP in its namespace, joined over loopback UDP.</summary>
    private static TrafficPath StartTapudp(string root, ScenarioCleanup cleanup, int lifetimeSeconds)
    {
        var source = Path.Combine(root, "tapudp.c");
        using (var resource = typeof(TapScenario).Assembly.GetManifestResourceStream("tapudp.c")!)
        using (var file = File.Create(source))
        {
            resource.CopyTo(file);
        }

        var binary = Path.Combine(root, "tapudp");
        ScenarioNamespace.Run("gcc", $"-O2 -Wall -o {binary} {source}");
        var a = Namespace("tap-udp-a", cleanup);
        var b = Namespace("tap-udp-b", cleanup);
        int portA = FreePorts.Udp(), portB = FreePorts.Udp();
        StartReadyPeer(binary, cleanup, "-t", $"{lifetimeSeconds}", $"/var/run/netns/{a.Name}", "eth0", "127.0.0.8", $"{portA}", "127.0.0.9", $"{portB}");
        StartReadyPeer(binary, cleanup, "-t", $"{lifetimeSeconds}", $"/var/run/netns/{b.Name}", "eth0", "127.0.0.9", $"{portB}", "127.0.0.8", $"{portA}");
        a.Address("eth0", "10.94.0.1/24", null);
        b.Address("eth0", "10.94.0.2/24", null);
        return new TrafficPath("tapudp", a, b, "10.94.0.2") { ClientDevice = "eth0", ServerDevice = "eth0", ClientAddress = "10.94.0.1" };
    }

    /// <summary>
    /// Two socat processes, <c>TUN,tun-type=tap</c> to <c>UDP-DATAGRAM</c> on loopback: each makes its
    /// TAP in the host's namespace (socat cannot make it elsewhere), which is then moved into its
    /// namespace. IPv6 is off in both namespaces (nothing is sent on a link coming up) and the devices
    /// come up only once both processes run: socat gives up on the first failed write (a datagram for
    /// a TAP still down) or refused send.
    /// </summary>
    private static TrafficPath StartSocatUdp(string tag, ScenarioCleanup cleanup)
    {
        var a = Namespace("tap-socat-a", cleanup);
        var b = Namespace("tap-socat-b", cleanup);
        string tapA = $"ts{tag}a", tapB = $"ts{tag}b";
        int portA = FreePorts.Udp(), portB = FreePorts.Udp();
        void Start(string tap, string local, string remote)
        {
            var info = new ProcessStartInfo(Tool("socat", "socat")) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var arg in new[] { "-b", "65536", $"TUN,tun-type=tap,tun-name={tap}", $"UDP-DATAGRAM:{remote},bind={local}" }) info.ArgumentList.Add(arg);
            var socat = KilledAtCleanup(Process.Start(info)!, cleanup);
            var said = new System.Text.StringBuilder();
            socat.OutputDataReceived += (_, _) => { };
            socat.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (said) said.AppendLine(e.Data); };
            socat.BeginOutputReadLine();
            socat.BeginErrorReadLine();
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (!LinkExists(tap))
            {
                if (socat.HasExited || DateTime.UtcNow > deadline)
                {
                    lock (said) throw new InvalidOperationException($"socat did not make {tap}: {said}");
                }

                Thread.Sleep(20);
            }
        }

        foreach (var ns in new[] { a, b }) ns.Exec("sysctl", "-qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1");
        Start(tapA, $"127.0.0.6:{portA}", $"127.0.0.7:{portB}");
        Start(tapB, $"127.0.0.7:{portB}", $"127.0.0.6:{portA}");
        a.Attach(tapA, "10.95.0.1/24", null);
        b.Attach(tapB, "10.95.0.2/24", null);
        return new TrafficPath("socat_udp", a, b, "10.95.0.2") { ClientDevice = tapA, ServerDevice = tapB, ClientAddress = "10.95.0.1" };
    }

    /// <summary>A node whose output goes to <c>ROOT/NAME.log</c> (kept when the scenario fails).</summary>
    private static Process StartLogged(string root, string name, params string[] args)
    {
        var log = new StreamWriter(Path.Combine(root, name + ".log")) { AutoFlush = true };
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(NodeDll());
        info.ArgumentList.Add("run");
        foreach (var a in args) info.ArgumentList.Add(a);
        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.Exited += (_, _) => { lock (log) log.Flush(); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static ScenarioNamespace Namespace(string prefix, ScenarioCleanup cleanup)
    {
        var ns = new ScenarioNamespace(prefix);
        cleanup.Push(ns.Dispose);
        return ns;
    }

    private static bool LinkExists(string name) => ScenarioNamespace.Run("ip", $"link show {name}", check: false).Length > 0;

    private static void WaitReachable(TrafficPath p)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!p.Client.Exec("ping", $"-c 1 -W 1 -q {p.ServerAddress}", check: false).Contains(" 0% packet loss", StringComparison.Ordinal))
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{p.Name}: {p.ServerAddress} unreachable");
        }
    }

    private static Process StartIperfServer(string iperf, TrafficPath p)
    {
        var info = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "netns", "exec", p.Server.Name, iperf, "-s", "-B", p.ServerAddress }) info.ArgumentList.Add(a);
        var server = Process.Start(info)!;
        server.OutputDataReceived += (_, _) => { };
        server.ErrorDataReceived += (_, _) => { };
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!p.Server.Exec("ss", "-ltn").Contains($"{p.ServerAddress}:5201", StringComparison.Ordinal))
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{p.Name}: iperf3 server did not listen");
            Thread.Sleep(50);
        }

        return server;
    }

    /// <summary>iperf3 TCP, one stream, receiver Gbit/s (0 when the run failed: printed).</summary>
    private static double Iperf(string iperf, TrafficPath p, int seconds)
    {
        var output = p.Client.Exec(iperf, $"-c {p.ServerAddress} -t {seconds} -J --connect-timeout 3000", timeoutMs: (seconds + 30) * 1000, check: false);
        try
        {
            return JsonNode.Parse(output)!["end"]!["sum_received"]!["bits_per_second"]!.GetValue<double>() / 1e9;
        }
        catch (Exception e) when (e is JsonException or NullReferenceException or InvalidOperationException)
        {
            Console.WriteLine($"{p.Name}: iperf3 failed: {output[..Math.Min(output.Length, 400)]}");
            return 0;
        }
    }

    /// <summary>Average, median and 99th percentile RTT of <paramref name="count"/> pings 10 ms apart (NaN when none came back).</summary>
    private static (double Average, double Median, double P99) Ping(TrafficPath p, int count)
    {
        var (times, output) = Replies(p, count);
        var m = RttLine().Match(output);
        return (m.Success ? double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture) : double.NaN, Stats(times).Median, Percentiles.NearestRank(times, 0.99));
    }

    /// <summary>The reply times (ms) of <paramref name="count"/> pings <paramref name="interval"/> seconds apart, and ping's output.</summary>
    private static (List<double> Times, string Output) Replies(TrafficPath p, int count, string interval = "0.01")
    {
        var output = p.Client.Exec("ping", $"-c {count} -i {interval} -W 1 {p.ServerAddress}", timeoutMs: count * 100 + 30_000, check: false);
        return (ReplyTime().Matches(output).Select(t => double.Parse(t.Groups[1].Value, CultureInfo.InvariantCulture)).ToList(), output);
    }

    /// <summary>
    /// A fabric path's median reply over its same-shape peer's, from pings taken seconds apart: the
    /// rounds ping each path minutes after the other, and this machine's RTT moves 2x in a minute
    /// (tapudp alone: 0.096 and 0.234 ms a minute apart), so their ratio (<c>gateway_rtt_vs_tapfwd</c>)
    /// carries that. Here <see cref="DuelSettings.Pairs"/> pairs of bursts of
    /// <see cref="DuelSettings.Pings"/> pings alternate between the two, which side goes first
    /// swapping from pair to pair; the ratio is the one of all replies' medians, with the spread of
    /// the per-pair ratios beside it.
    /// </summary>
    private static DuelResult RttDuel(TrafficPath ours, TrafficPath theirs, DuelSettings settings)
    {
        List<double> allOurs = [], allTheirs = [], perPair = [];
        for (var i = 0; i < settings.Pairs; i++)
        {
            List<double> o, t;
            if (i % 2 == 0)
            {
                o = Replies(ours, settings.Pings).Times;
                t = Replies(theirs, settings.Pings).Times;
            }
            else
            {
                t = Replies(theirs, settings.Pings).Times;
                o = Replies(ours, settings.Pings).Times;
            }

            allOurs.AddRange(o);
            allTheirs.AddRange(t);
            double mo = Stats(o).Median, mt = Stats(t).Median;
            perPair.Add(mo / mt);
            Console.WriteLine($"duel {ours.Name}/{theirs.Name} pair {i + 1}: median {mo:0.000} / {mt:0.000} ms ({mo / mt:0.000})");
        }

        return new DuelResult(Stats(allOurs).Median / Stats(allTheirs).Median, perPair, allOurs.Count, allTheirs.Count);
    }

    private sealed record DuelResult(double Ratio, List<double> PerPair, int OurReplies, int TheirReplies)
    {
        public JsonObject ToJson() => new()
        {
            ["ratio"] = double.IsNaN(Ratio) ? null : Math.Round(Ratio, 3),
            ["per_pair"] = Spread(PerPair, 3),
            ["pairs"] = PerPair.Count,
            ["replies"] = new JsonArray(OurReplies, TheirReplies),
        };
    }

    /// <summary>
    /// The machine's DAMON monitors that run (<c>/sys/kernel/mm/damon/admin/kdamonds</c>): each
    /// one's operations set and sampling interval, or null when none runs. On this project's VM a
    /// kdamond samples physical memory every 500 ms, and the gateway's loop then spends 200-300 µs
    /// more between two system calls of one turn: 2-3 % of its pings, on a 512 ms grid, came back 2.5 times
    /// slower than the median, and none on that grid with the kdamond stopped. The C forwarder, a
    /// process of under 2 MB resident, showed no such period in the same minutes. Read
    /// <c>rtt_p99_ms_*</c> with this.
    /// </summary>
    private static JsonNode? DamonSampling()
    {
        const string root = "/sys/kernel/mm/damon/admin/kdamonds";
        if (!Directory.Exists(root)) return null;
        var running = new JsonArray();
        foreach (var kdamond in Directory.GetDirectories(root).Order())
        {
            if (ReadTrimmed(Path.Combine(kdamond, "state")) != "on") continue;
            var contexts = Path.Combine(kdamond, "contexts");
            if (!Directory.Exists(contexts)) continue;
            foreach (var context in Directory.GetDirectories(contexts).Order())
            {
                var sampleUs = ReadTrimmed(Path.Combine(context, "monitoring_attrs", "intervals", "sample_us"));
                running.Add(new JsonObject
                {
                    ["operations"] = ReadTrimmed(Path.Combine(context, "operations")),
                    ["sample_ms"] = long.TryParse(sampleUs, out var us) ? us / 1000.0 : null,
                });
            }
        }

        return running.Count == 0 ? null : running;
    }

    private static string? ReadTrimmed(string path)
    {
        try
        {
            return File.ReadAllText(path).Trim();
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// Pings 20 ms apart while the round's iperf3 stream fills the path, from its second second to
    /// one second before its end: the median and largest reply and the pings lost (a path that
    /// queues behind a full TAP ring or socket buffer shows it here, not in the idle pings).
    /// </summary>
    private static (double Median, double Max, int Lost) LoadedPing(TrafficPath p, int seconds)
    {
        var count = (seconds - 2) * 50;
        if (count <= 0) return (double.NaN, double.NaN, 0);
        Thread.Sleep(1000);
        var (times, _) = Replies(p, count, "0.02");
        var s = Stats(times);
        return (s.Median, s.Max, count - times.Count);
    }

    [GeneratedRegex(@"rtt min/avg/max/mdev = ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) ms")]
    private static partial Regex RttLine();

    [GeneratedRegex(@"time=([\d.]+) ms")]
    private static partial Regex ReplyTime();

    private sealed record Spreads(double Min, double Median, double Max);

    private static Spreads Stats(List<double> values)
    {
        var sorted = values.Where(v => !double.IsNaN(v)).Order().ToArray();
        if (sorted.Length == 0) return new Spreads(double.NaN, double.NaN, double.NaN);
        var median = sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
        return new Spreads(sorted[0], median, sorted[^1]);
    }

    private static JsonObject Spread(List<double> values, int digits)
    {
        var s = Stats(values);
        JsonNode? R(double v) => double.IsNaN(v) ? null : Math.Round(v, digits);
        return new JsonObject { ["min"] = R(s.Min), ["median"] = R(s.Median), ["max"] = R(s.Max) };
    }

    internal static string PeerFile(string name)
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !Directory.Exists(Path.Combine(dir.FullName, "shared", "peers"))) dir = dir.Parent;
        return dir is null ? Path.Combine("/work/shared/peers", name) : Path.Combine(dir.FullName, "shared", "peers", name);
    }

    internal static string? TryTool(string name) =>
        new[] { "/usr/sbin", "/usr/bin", "/sbin", "/bin" }.Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

    private static string Tool(string name, string package) =>
        TryTool(name) ?? throw new InvalidOperationException($"{name} is missing (apt-get install -y {package})");

    private static void RunEnv(string file, string arguments, Dictionary<string, string> env, bool check = true)
    {
        var psi = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(60_000))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {arguments}");
        }

        if (check && p.ExitCode != 0) throw new InvalidOperationException($"{file} {arguments} failed ({p.ExitCode}): {stderr.Result}");
    }

    private static void KillPidFile(string file)
    {
        if (!File.Exists(file) || !int.TryParse(File.ReadAllText(file).Trim(), out var pid)) return;
        try
        {
            using var p = Process.GetProcessById(pid);
            p.Kill();
            p.WaitForExit(5000);
        }
        catch (ArgumentException)
        {
            // already gone
        }
    }
}
