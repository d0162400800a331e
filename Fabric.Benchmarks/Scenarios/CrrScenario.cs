using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using static Fabric.Benchmarks.Scenarios.NodeProcesses;

namespace Fabric.Benchmarks.Scenarios;

/// <summary>
/// `scenario crr` (root; wrk, nginx-light): new TCP connections per second through the gateway's
/// SNAT on real traffic, TCP_CRR style. A real `fabric-node run` process (this build's
/// configuration) hosts a gateway whose TAP downlink is in an inside namespace and whose TAP
/// uplink is in an outside namespace with nginx; `wrk -t1 -cN --latency -H 'Connection: close'`
/// runs in the inside namespace, so every request is a new connection through SNAT. The same
/// wrk ↔ nginx pair over a direct veth between two namespaces is measured in the same run,
/// alternating with the gateway, <c>--reps</c> times each (default 3 × 3 s, after a <c>--warmup</c>
/// of 5 s through the gateway: a node just started is still compiling). Prints each run, then one JSON line:
/// <c>crr_per_s_gateway</c> / <c>crr_per_s_veth</c> (min/median/max), their ratio of medians,
/// <c>crr_errors</c> (wrk socket errors and non-2xx over all gateway runs), wrk's p50/p99 latency
/// (request to response on each fresh connection: the handshake itself is not in it) and the
/// gateway's SNAT drops, and how many misses its flow-cache entity decided on the receive thread.
/// Over the gateway runs, the node's <c>/metrics</c> give what it allocated per connection
/// (process-wide: an upper bound), its gen-0 and gen-2 collections and GC pause per second.
/// The pair also runs, in the same rounds, across the peers (under <c>peers</c>, each with its rate,
/// its ratio to veth, the gateway's ratio to it, errors, p50/p99): the C forwarder of
/// ../shared/peers (tapfwd.c with offloads: two TAPs, L2, no NAT) when gcc is installed, what one
/// userspace TAP hop costs new connections on the machine.
/// </summary>
public static partial class CrrScenario
{
    internal const string Server = "203.0.113.80";

    public static int Run(string[] args)
    {
        var seconds = ScenarioArgs.Option(args, "--seconds", 3);
        var reps = ScenarioArgs.Option(args, "--reps", 3);
        var connections = ScenarioArgs.Option(args, "--connections", 16);
        var warmup = ScenarioArgs.Option(args, "--warmup", 5);
        return RunAsync(seconds, reps, connections, warmup).GetAwaiter().GetResult();
    }

    private static async Task<int> RunAsync(int seconds, int reps, int connections, int warmup)
    {
        var pid = Environment.ProcessId;
        var tag = $"snatc{pid % 100000}";
        var root = Path.Combine(Path.GetTempPath(), "fabric-bench-crr-" + pid);
        Directory.CreateDirectory(root);
        var wrk = Tool("wrk");
        var nginx = Tool("nginx");
        Process? node = null;
        var servers = new List<Process>();
        var cleanup = new ScenarioCleanup();
        var veth = $"snatv{pid % 100000}";
        cleanup.DeleteLinks($"{veth}a", $"{tag}d", $"{tag}u"); // last: after the node has stopped
        try
        {
            using var inside = new ScenarioNamespace("snat-crr-in");
            using var outside = new ScenarioNamespace("snat-crr-out");
            using var client = new ScenarioNamespace("snat-crr-vc");
            using var server = new ScenarioNamespace("snat-crr-vs");

            // The gateway in a real node process.
            var intent = Path.Combine(root, "intent.yaml");
            await File.WriteAllTextAsync(intent, Intent(tag + "d", tag + "u"));
            var management = FreePort();
            node = Start(NodeDll(), "--name", "node-1", "--port", $"{FreePort()}", "--management", $"127.0.0.1:{management}", "--data", Path.Combine(root, "node"), "--intent", intent);
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            await Until(async () => await Get(http, management, "/gateways/gw-c") is not null, "gateway gw-c running");
            await Until(() => Task.FromResult(ScenarioNamespace.Run("ip", $"link show {tag}u", check: false).Length > 0 && ScenarioNamespace.Run("ip", $"link show {tag}d", check: false).Length > 0), "TAPs opened");
            inside.Attach(tag + "d", "10.0.0.10/24", "10.0.0.1");
            outside.Attach(tag + "u", "192.0.2.1/24", null);
            outside.Ip($"addr add {Server}/32 dev lo");
            await Until(async () => (await Get(http, management, "/gateways/gw-c"))?["status"]?["neighbors"]?.GetValue<int>() >= 1, "upstream router resolved");

            // The same pair over a direct veth, addressed alike.
            ScenarioNamespace.Run("ip", $"link add {veth}a type veth peer name {veth}b");
            ScenarioNamespace.Run("ip", $"link set {veth}a netns {client.Name}");
            ScenarioNamespace.Run("ip", $"link set {veth}b netns {server.Name}");
            client.Address(veth + "a", "10.0.0.10/24", "10.0.0.1");
            server.Address(veth + "b", "10.0.0.1/24", null);
            server.Ip($"addr add {Server}/32 dev lo");

            // The same pair across the peers, nginx on the served address behind each: the C
            // forwarder (two TAPs, L2, no NAT): what a TAP hop in userspace costs new connections
            // on this machine.
            var peers = new List<TapScenario.TrafficPath>();
            var notMeasured = new Dictionary<string, string>();
            if (TapScenario.TryTool("gcc") is null || !File.Exists(TapScenario.PeerFile("tapfwd.c"))) notMeasured["peers.tapfwd_offload"] = "gcc or ../shared/peers/tapfwd.c is missing";
            else peers.Add(TapScenario.StartTapfwd(root, $"{pid % 100000}", cleanup));
            foreach (var peer in peers)
            {
                peer.Server.Ip($"addr add {Server}/32 dev lo");
                peer.Client.Ip($"route add {Server}/32 via {peer.ServerAddress}");
            }

            servers.Add(StartNginx(nginx, outside, Path.Combine(root, "nginx-out")));
            servers.Add(StartNginx(nginx, server, Path.Combine(root, "nginx-veth")));
            foreach (var peer in peers) servers.Add(StartNginx(nginx, peer.Server, Path.Combine(root, "nginx-" + peer.Name)));
            await Until(() => Task.FromResult(new[] { outside, server }.Concat(peers.Select(p => p.Server)).All(ns => ns.Exec("ss", "-ltn").Contains($"{Server}:8080"))), "nginx listening");

            // Warm up both paths (the node's tiered JIT settles only after some seconds of traffic;
            // ARP; first port blocks), then alternate.
            Console.WriteLine($"warm-up gateway: {Wrk(wrk, inside, connections, warmup)}");
            Console.WriteLine($"warm-up veth:    {Wrk(wrk, client, connections, 1)}");
            foreach (var peer in peers) Console.WriteLine($"warm-up {peer.Name}: {Wrk(wrk, peer.Client, connections, 1)}");
            var gateway = new List<WrkResult>();
            var direct = new List<WrkResult>();
            var byPeer = peers.ToDictionary(p => p.Name, _ => new List<WrkResult>());
            // The node's allocations and collections over the gateway runs only (process-wide: its
            // idle background is in them too, so per connection this is an upper bound).
            double allocated = 0, gen0 = 0, gen2 = 0, pause = 0;
            async Task<(double Allocated, double Gen0, double Gen2, double Pause)> Gc()
            {
                var text = await http.GetStringAsync($"http://127.0.0.1:{management}/metrics");
                return (Metric(text, "dotnet_gc_allocated_bytes_total"), Metric(text, "dotnet_gc_collections_total{generation=\"0\"}"),
                    Metric(text, "dotnet_gc_collections_total{generation=\"2\"}"), Metric(text, "dotnet_gc_pause_seconds_total"));
            }

            // SYNs the clients' kernels sent again (TcpExtTCPSynRetrans): a SYN lost on the way, or
            // one a server in TIME_WAIT answered with the old connection's ACK (a reset, then a retry).
            long SynRetransmits(ScenarioNamespace ns) =>
                ns.Exec("nstat", "-asz TcpExtTCPSynRetrans").Split('\n').Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                    .Where(f => f.Length >= 2 && f[0] == "TcpExtTCPSynRetrans").Select(f => long.Parse(f[1])).FirstOrDefault();
            long synGateway = SynRetransmits(inside), synVeth = SynRetransmits(client);
            for (var r = 0; r < reps; r++)
            {
                var gc0 = await Gc();
                gateway.Add(Wrk(wrk, inside, connections, seconds));
                var gc1 = await Gc();
                allocated += gc1.Allocated - gc0.Allocated;
                gen0 += gc1.Gen0 - gc0.Gen0;
                gen2 += gc1.Gen2 - gc0.Gen2;
                pause += gc1.Pause - gc0.Pause;
                Console.WriteLine($"gateway run {r + 1}: {gateway[^1]}");
                direct.Add(Wrk(wrk, client, connections, seconds));
                Console.WriteLine($"veth    run {r + 1}: {direct[^1]}");
                foreach (var peer in peers)
                {
                    byPeer[peer.Name].Add(Wrk(wrk, peer.Client, connections, seconds));
                    Console.WriteLine($"{peer.Name} run {r + 1}: {byPeer[peer.Name][^1]}");
                }
            }

            synGateway = SynRetransmits(inside) - synGateway;
            synVeth = SynRetransmits(client) - synVeth;
            var view = await Get(http, management, "/gateways/gw-c");
            var status = view?["status"];
            long EntitySum(string name) => view?["entities"]?.AsArray().Sum(e => e?[name]?.GetValue<long?>() ?? 0) ?? -1;
            var drops = status?["drops"]?.AsObject();
            long Drop(string name) => drops?[name]?.GetValue<long>() ?? -1;
            long Counter(string name) => status?["counters"]?[name]?.GetValue<long>() ?? -1;
            var gw = Stats.Of([.. gateway.Select(g => g.PerSecond)]);
            var ve = Stats.Of([.. direct.Select(g => g.PerSecond)]);
            Console.WriteLine($"drops: {drops?.ToJsonString()}");
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                scenario = "crr",
                seconds,
                reps,
                connections,
                crr_per_s_gateway = gw,
                crr_per_s_veth = ve,
                crr_ratio = ve.Median > 0 ? Math.Round(gw.Median / ve.Median, 3) : 0,
                crr_errors = gateway.Sum(g => g.Errors),
                crr_errors_veth = direct.Sum(g => g.Errors),
                p50_ms_gateway = Stats.Of([.. gateway.Select(g => g.P50Ms)]),
                p99_ms_gateway = Stats.Of([.. gateway.Select(g => g.P99Ms)]),
                p50_ms_veth = Stats.Of([.. direct.Select(g => g.P50Ms)]),
                p99_ms_veth = Stats.Of([.. direct.Select(g => g.P99Ms)]),
                peers = byPeer.ToDictionary(p => p.Key, p =>
                {
                    var rate = Stats.Of([.. p.Value.Select(g => g.PerSecond)]);
                    return new
                    {
                        crr_per_s = rate,
                        ratio_to_veth = ve.Median > 0 ? Math.Round(rate.Median / ve.Median, 3) : 0,
                        gateway_ratio_to_it = rate.Median > 0 ? Math.Round(gw.Median / rate.Median, 3) : 0,
                        errors = p.Value.Sum(g => g.Errors),
                        p50_ms = Stats.Of([.. p.Value.Select(g => g.P50Ms)]),
                        p99_ms = Stats.Of([.. p.Value.Select(g => g.P99Ms)]),
                    };
                }),
                not_measured = notMeasured.Count == 0 ? null : notMeasured,
                alloc_bytes_per_connection = gateway.Sum(g => g.Requests) > 0 ? Math.Round(allocated / gateway.Sum(g => g.Requests)) : 0,
                gc_gen0_collections = gen0,
                gc_gen2_collections = gen2,
                gc_pause_ms_per_s = Math.Round(pause * 1000 / Math.Max(1, gateway.Sum(g => g.Seconds)), 2),
                snat_ports_exhausted = Drop("snat-ports-exhausted"),
                resolver_timeouts = Drop("resolver-timeout"),
                resolver_backlog = Drop("resolver-backlog"),
                // Misses the flow-cache entities decided, and how many of them on the receive thread (direct mode).
                resolved_by_entity = Counter("resolved-by-entity"),
                resolved_on_receive_thread = Counter("resolved-on-receive-thread"),
                // Over the warm-up and the runs: SYNs the client sent again through the gateway and over veth.
                syn_retransmits_gateway = synGateway,
                syn_retransmits_veth = synVeth,
                nat_mappings_revived = EntitySum("mappingsRevived"),
                nat_mappings_reclaimed = EntitySum("mappingsReclaimed"),
            }, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));
            return 0;
        }
        finally
        {
            foreach (var s in servers) Stop(s);
            if (node is not null) Terminate(node);
            cleanup.Dispose();
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    internal static string Intent(string down, string up) => $$"""
        version: 1
        nodes:
          - name: node-1
            roles: [fabric, ghost-shadow]
        tenants:
          - name: blue
            vni: 3001
        gateways:
          - name: gw-c
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
        """;

    /// <summary>nginx on its own configuration in <paramref name="dir"/> (daemon off; pid, logs and temp paths there), one worker, a short 200 for everything.</summary>
    private static Process StartNginx(string nginx, ScenarioNamespace ns, string dir)
    {
        Directory.CreateDirectory(dir);
        var conf = Path.Combine(dir, "nginx.conf");
        File.WriteAllText(conf, $$"""
            daemon off;
            worker_processes 1;
            pid {{dir}}/nginx.pid;
            error_log {{dir}}/error.log warn;
            events { worker_connections 4096; }
            http {
                access_log off;
                client_body_temp_path {{dir}}/body;
                proxy_temp_path {{dir}}/proxy;
                fastcgi_temp_path {{dir}}/fastcgi;
                uwsgi_temp_path {{dir}}/uwsgi;
                scgi_temp_path {{dir}}/scgi;
                server {
                    listen {{Server}}:8080 backlog=4096;
                    location / { return 200 "ok\n"; }
                }
            }
            """);
        var info = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "netns", "exec", ns.Name, nginx, "-p", dir, "-c", conf, "-e", Path.Combine(dir, "error.log") }) info.ArgumentList.Add(a);
        var p = Process.Start(info)!;
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    private static void Stop(Process p)
    {
        if (!p.HasExited) p.Kill(entireProcessTree: true); // `ip netns exec` execs nginx: this PID is its master
        p.WaitForExit(5000);
    }

    internal static string Tool(string name) =>
        new[] { "/usr/sbin", "/usr/bin", "/sbin", "/bin" }.Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists)
        ?? throw new InvalidOperationException($"{name} is missing (apt-get install -y {(name == "nginx" ? "nginx-light" : name)})");

    private static WrkResult Wrk(string wrk, ScenarioNamespace ns, int connections, int seconds) =>
        WrkResult.Parse(ns.Exec(wrk, $"-t1 -c{connections} -d{seconds}s --latency -H \"Connection: close\" http://{Server}:8080/", timeoutMs: (seconds + 30) * 1000));

    /// <summary>What a wrk report says: requests and duration, socket errors (absent line = 0), non-2xx, --latency percentiles.</summary>
    private sealed partial record WrkResult(long Requests, double Seconds, long Errors, double P50Ms, double P99Ms)
    {
        public double PerSecond => Seconds > 0 ? Requests / Seconds : 0;

        public static WrkResult Parse(string output)
        {
            var done = Done().Match(output);
            var errors = SocketErrors().Match(output);
            var non2xx = Non2xx().Match(output);
            long n = 0;
            if (errors.Success) for (var g = 1; g <= 4; g++) n += long.Parse(errors.Groups[g].Value, CultureInfo.InvariantCulture);
            if (non2xx.Success) n += long.Parse(non2xx.Groups[1].Value, CultureInfo.InvariantCulture);
            return new WrkResult(
                done.Success ? long.Parse(done.Groups[1].Value, CultureInfo.InvariantCulture) : 0,
                done.Success ? Ms(done.Groups[2].Value) / 1000 : 0,
                n,
                Percentile(output, "50%"),
                Percentile(output, "99%"));
        }

        public override string ToString() => $"{Requests} connections in {Seconds:0.00} s = {PerSecond:0}/s, errors {Errors}, p50 {P50Ms:0.###} ms, p99 {P99Ms:0.###} ms";

        private static double Percentile(string output, string which)
        {
            var m = Regex.Match(output, @"^\s+" + Regex.Escape(which) + @"\s+(\S+)\s*$", RegexOptions.Multiline);
            return m.Success ? Ms(m.Groups[1].Value) : double.NaN;
        }

        private static double Ms(string text)
        {
            var m = Value().Match(text);
            if (!m.Success) return double.NaN;
            var v = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            return m.Groups[2].Value switch { "us" => v / 1000, "ms" => v, "s" => v * 1000, "m" => v * 60_000, _ => double.NaN };
        }

        [GeneratedRegex(@"(\d+) requests in ([\d.]+\w+),")]
        private static partial Regex Done();

        [GeneratedRegex(@"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")]
        private static partial Regex SocketErrors();

        [GeneratedRegex(@"Non-2xx or 3xx responses: (\d+)")]
        private static partial Regex Non2xx();

        [GeneratedRegex(@"^([\d.]+)(us|ms|s|m)$")]
        private static partial Regex Value();
    }
}
