using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

using static Fabric.Benchmarks.Scenarios.NodeProcesses;

namespace Fabric.Benchmarks.Scenarios;

/// <summary>
/// `scenario scale` (issue 13, and issue 15's liveness under contention): real `fabric-node run`
/// processes (Release build), one node each, simulated ports, no generated traffic. CPU is read
/// from /proc/PID/stat (utime + stime) over a window, RSS and threads from /proc/PID/status.
/// <list type="number">
/// <item>empty: a node with no intent: <c>empty_idle_cpu_pct</c>, <c>empty_rss_mb</c>.</item>
/// <item>sample: the sample intent (its node address moved to a free loopback address, so
/// nothing else on the box shares its underlay): <c>sample_idle_cpu_pct</c>, <c>sample_rss_mb</c>,
/// <c>sample_threads</c>; then 2x CPU oversubscription (4 busy loops per 2 cores, one per core
/// twice over) for <c>--oversub-seconds</c>: <c>oversub_trunk_flaps</c> and PW flaps; then the
/// whole node frozen (SIGSTOP) for 300 ms five times, as a GC pause or a VM steal would:
/// <c>freeze_trunk_flaps</c>.</item>
/// <item>scale: an empty node given, with one POST /changes, 500 PE pairs (1,000 PEs, 2,000
/// PWs, 1,000 trunks) and 20 gateways x 10 tenants: <c>apply_s</c> (POST to applied),
/// <c>all_pws_up_s</c> (POST to every PW up), then <c>idle_cpu_pct</c> over
/// <c>--idle-seconds</c>, <c>rss_mb</c>, <c>threads</c>, <c>trunk_flaps_60s</c> (trunk
/// transitions in that window); then one PW's weight changed: <c>one_change_touched</c>
/// (elements the node's reconciler started, changed or stopped, from its log) and
/// <c>one_change_pws_restarted</c> (PWs whose session restarted).</item>
/// </list>
/// Options: <c>--pairs N --gateways N --tenants N --idle-seconds S --empty-seconds S
/// --oversub-seconds S --settle-seconds S (wait before the empty node's and the sample's idle windows, default 60: the issue reads idle 60 s after all is up) --skip-sample --skip-scale
/// --log FILE</c> (the scale node's log, default /tmp/fabric-scale-node.log). Also reported:
/// <c>post_s</c> (POST to its 202: parsed, normalized, journaled), <c>verify_s</c> and <c>probes</c>
/// (the ghost verification of the first intent), <c>one_change_verify_s</c> and
/// <c>one_change_probes</c> (of the one-element change).
/// </summary>
public static class ScaleScenario
{
    private static readonly long ClockTicks = 100; // USER_HZ

    public static int Run(string[] args)
    {
        var o = new Options(args);
        return RunAsync(o).GetAwaiter().GetResult();
    }

    private sealed class Options(string[] args)
    {
        private int Int(string name, int fallback) => ScenarioArgs.Option(args, name, fallback);

        public int Pairs => Int("--pairs", 500);
        public int Gateways => Int("--gateways", 20);
        public int Tenants => Int("--tenants", 10);
        public int IdleSeconds => Int("--idle-seconds", 60);
        public int EmptySeconds => Int("--empty-seconds", 30);
        public int OversubSeconds => Int("--oversub-seconds", 60);
        public int SettleSeconds => Int("--settle-seconds", 60);
        public bool SkipSample => args.Contains("--skip-sample");
        public bool SkipScale => args.Contains("--skip-scale");
        public bool SkipEmpty => args.Contains("--skip-empty");

        /// <summary>Where the scale node's log is written (<c>--log FILE</c>; default /tmp/fabric-scale-node.log).</summary>
        public string? LogPath => Array.IndexOf(args, "--log") is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    private static async Task<int> RunAsync(Options o)
    {
        var dll = NodeDll();
        var root = Path.Combine(Path.GetTempPath(), "fabric-bench-scale-" + Environment.ProcessId);
        var result = new Dictionary<string, object?> { ["scenario"] = "scale", ["cores"] = Environment.ProcessorCount };
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(120) };
        try
        {
            if (!o.SkipEmpty)
            {
                await using var empty = await Node.StartAsync(dll, root, "empty", "none");
                // Settle: JIT and tiered re-compilation (tier-1 rejits of code that timers run once a
                // second or less come in for minutes), cluster join, first gossip. The issue reads
                // idle 60 s after all is up; the steady state is lower still.
                await Task.Delay(TimeSpan.FromSeconds(o.SettleSeconds));
                var idle = await empty.IdleCpu(o.EmptySeconds);
                result["empty_idle_cpu_pct"] = Math.Round(idle, 2);
                result["empty_rss_mb"] = empty.RssMb();
                result["empty_threads"] = empty.Threads();
                Console.WriteLine($"empty: idle {idle:F2} % of a core over {o.EmptySeconds} s, RSS {empty.RssMb()} MB, {empty.Threads()} threads");
            }

            if (!o.SkipSample)
            {
                await Sample(dll, root, http, o, result);
            }

            if (!o.SkipScale)
            {
                await Scale(dll, root, http, o, result);
            }
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }

        Console.WriteLine(JsonSerializer.Serialize(result));
        return 0;
    }

    private static async Task Sample(string dll, string root, HttpClient http, Options o, Dictionary<string, object?> result)
    {
        string address = FreeLoopback();
        var samplePath = Path.Combine(Path.GetDirectoryName(dll)!, "samples", "sample-intent.yaml");
        Directory.CreateDirectory(root);
        var intentFile = Path.Combine(root, "sample.yaml");
        // The issue's figure is the sample "with generated traffic switched off": its ports' `traffic: N` go.
        var sample = System.Text.RegularExpressions.Regex.Replace(await File.ReadAllTextAsync(samplePath), @",\s*traffic:\s*[0-9]+", "");
        await File.WriteAllTextAsync(intentFile, sample.Replace("address: 127.0.0.1", $"address: {address}"));
        await using var node = await Node.StartAsync(dll, root, "sample", intentFile);
        var clock = Stopwatch.StartNew();
        await UntilLong(async () => await TrunkUp(http, node.Management, "trunk-a") && await TrunkUp(http, node.Management, "trunk-b"), "sample trunks up", 120);
        Console.WriteLine($"sample: trunks up {clock.Elapsed.TotalSeconds:F1} s after start (underlay {address})");
        await Task.Delay(TimeSpan.FromSeconds(o.SettleSeconds));
        var idle = await node.IdleCpu(o.IdleSeconds / 2);
        result["sample_idle_cpu_pct"] = Math.Round(idle, 2);
        result["sample_rss_mb"] = node.RssMb();
        result["sample_threads"] = node.Threads();
        Console.WriteLine($"sample: idle {idle:F2} % of a core over {o.IdleSeconds / 2} s, RSS {node.RssMb()} MB, {node.Threads()} threads");

        // 2x oversubscription: two busy loops per core.
        long trunksBefore = await TrunkTransitions(http, node.Management, ["trunk-a", "trunk-b"]);
        long pwsBefore = await PwTransitions(http, node.Management);
        var hogs = Enumerable.Range(0, 2 * Environment.ProcessorCount).Select(_ => Process.Start(new ProcessStartInfo("sh", "-c \"while :; do :; done\""))!).ToList();
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(o.OversubSeconds));
        }
        finally
        {
            foreach (var hog in hogs)
            {
                try { hog.Kill(); } catch (InvalidOperationException) { }
                hog.WaitForExit(5000);
                hog.Dispose();
            }
        }

        long trunkFlaps = await TrunkTransitions(http, node.Management, ["trunk-a", "trunk-b"]) - trunksBefore;
        long pwFlaps = await PwTransitions(http, node.Management) - pwsBefore;
        result["oversub_seconds"] = o.OversubSeconds;
        result["oversub_busy_loops"] = hogs.Count;
        result["oversub_trunk_flaps"] = trunkFlaps;
        result["oversub_pw_transitions"] = pwFlaps;
        Console.WriteLine($"sample: {hogs.Count} busy loops for {o.OversubSeconds} s: {trunkFlaps} trunk transitions, {pwFlaps} PW transitions");

        // Freeze the whole process (GC pause, VM steal) 5 x 300 ms.
        trunksBefore = await TrunkTransitions(http, node.Management, ["trunk-a", "trunk-b"]);
        pwsBefore = await PwTransitions(http, node.Management);
        for (int i = 0; i < 5; i++)
        {
            NodeProcesses.Signal(node.Pid, 19); // SIGSTOP
            await Task.Delay(300);
            NodeProcesses.Signal(node.Pid, 18); // SIGCONT
            await Task.Delay(2000);
        }

        result["freeze_trunk_flaps"] = await TrunkTransitions(http, node.Management, ["trunk-a", "trunk-b"]) - trunksBefore;
        result["freeze_pw_transitions"] = await PwTransitions(http, node.Management) - pwsBefore;
        Console.WriteLine($"sample: 5 x 300 ms SIGSTOP: {result["freeze_trunk_flaps"]} trunk transitions, {result["freeze_pw_transitions"]} PW transitions");
        result["sample_liveness_threads"] = node.LivenessScheduling();
    }

    private static async Task Scale(string dll, string root, HttpClient http, Options o, Dictionary<string, object?> result)
    {
        string address = FreeLoopback();
        // The 500-pair intent's canonical form is ~1.1 MB, over the default fabric.intent.max-bytes
        // (1 MiB, sized so base + proposed fit one 4 MiB remoting frame); 2 MiB still fits.
        Directory.CreateDirectory(root);
        var hocon = Path.Combine(root, "scale.conf");
        await File.WriteAllTextAsync(hocon, "fabric.intent.max-bytes = 2MiB\n");
        await using var node = await Node.StartAsync(dll, root, "scale", "none", "--hocon", hocon);
        await Task.Delay(3000);
        try
        {
            await ScaleOn(node, address, http, o, result);
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException or HttpRequestException or TaskCanceledException)
        {
            Console.WriteLine($"scale: FAILED: {e.GetType().Name}: {e.Message}; the node's last lines:");
            foreach (var line in node.Log.TakeLast(30)) Console.WriteLine("  " + line);
            result["scale_error"] = e.Message;
        }
        finally
        {
            var log = o.LogPath ?? Path.Combine(Path.GetTempPath(), "fabric-scale-node.log");
            await File.WriteAllLinesAsync(log, node.Log);
            Console.WriteLine($"scale: the node's log is in {log}");
        }
    }

    /// <summary>The "in N s" of the node's last "Ghost verification of change ... verdict" line, or null.</summary>
    private static double? VerificationSeconds(IEnumerable<string> log) =>
        log.Where(l => l.Contains("Ghost verification of change", StringComparison.Ordinal) && l.Contains("verdict", StringComparison.Ordinal))
            .Select(l => System.Text.RegularExpressions.Regex.Match(l, @" in ([0-9.]+) s"))
            .Where(m => m.Success).Select(m => (double?)double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).LastOrDefault();

    /// <summary>The N of the last "probes sent: N on the proposal" line (probes the ghost verifier ran on the proposal), or null.</summary>
    private static int? ProbesSent(IEnumerable<string> log) =>
        log.Select(l => System.Text.RegularExpressions.Regex.Match(l, @"probes sent: ([0-9]+) on the proposal"))
            .Where(m => m.Success).Select(m => (int?)int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).LastOrDefault();

    private static async Task ScaleOn(Node node, string address, HttpClient http, Options o, Dictionary<string, object?> result)
    {
        var document = ScaleIntent(address, o.Pairs, o.Gateways, o.Tenants, changedWeight: false);
        var clock = Stopwatch.StartNew();
        var change = await node.Propose(http, document);
        double posted = clock.Elapsed.TotalSeconds;
        await UntilApplied(http, node, change, 1, "scale intent applied", 600);
        double apply = clock.Elapsed.TotalSeconds;
        result["post_s"] = Math.Round(posted, 2);
        Console.WriteLine($"scale: POST answered (parsed, normalized, journaled) {posted:F2} s after it was sent");
        Console.WriteLine($"scale: applied {apply:F1} s after POST ({o.Pairs * 2} PEs, {o.Pairs * 4} PWs, {o.Pairs * 2} trunks, {o.Gateways} x {o.Tenants} gateway tenants)");
        await UntilLong(async () => await PwsUp(http, node.Management) >= o.Pairs * 4, "all PWs up", 600);
        double allUp = clock.Elapsed.TotalSeconds;
        Console.WriteLine($"scale: all {o.Pairs * 4} PWs up {allUp:F1} s after POST");
        result["pes"] = o.Pairs * 2;
        result["pws"] = o.Pairs * 4;
        result["trunks"] = o.Pairs * 2;
        result["gateway_tenants"] = o.Gateways * o.Tenants;
        result["apply_s"] = Math.Round(apply, 2);
        result["all_pws_up_s"] = Math.Round(allUp, 2);

        await Task.Delay(5000);
        var trunks = Enumerable.Range(0, o.Pairs).SelectMany(i => new[] { $"ta{i}", $"tb{i}" }).ToArray();
        long before = await TrunkTransitions(http, node.Management, trunks);
        var idle = await node.IdleCpu(o.IdleSeconds);
        long flaps = await TrunkTransitions(http, node.Management, trunks) - before;
        result["idle_cpu_pct"] = Math.Round(idle, 2);
        result["rss_mb"] = node.RssMb();
        result["threads"] = node.Threads();
        result["trunk_flaps_60s"] = flaps;
        result["idle_window_s"] = o.IdleSeconds;
        Console.WriteLine($"scale: idle {idle:F2} % of a core over {o.IdleSeconds} s, RSS {node.RssMb()} MB, {node.Threads()} threads, {flaps} trunk transitions");
        result["verify_s"] = VerificationSeconds(node.Log);
        result["probes"] = ProbesSent(node.Log);
        var metrics = await http.GetStringAsync($"http://127.0.0.1:{node.Management}/metrics");
        result["gc_heap_mb"] = Math.Round(Metric(metrics, "dotnet_gc_heap_size_bytes") / (1 << 20));
        result["gc_committed_mb"] = Math.Round(Metric(metrics, "dotnet_gc_committed_bytes") / (1 << 20));
        Console.WriteLine($"scale: ghost verification took {result["verify_s"]} s; managed heap {result["gc_heap_mb"]} MB, GC committed {result["gc_committed_mb"]} MB");

        // One element changed: pw a0-1's weight.
        var pwsBefore = await PwTransitionsByName(http, node.Management);
        int logMark = node.Log.Count;
        clock.Restart();
        change = await node.Propose(http, ScaleIntent(address, o.Pairs, o.Gateways, o.Tenants, changedWeight: true));
        result["one_change_post_s"] = Math.Round(clock.Elapsed.TotalSeconds, 2);
        await UntilApplied(http, node, change, 2, "one change applied", 300);
        result["one_change_apply_s"] = Math.Round(clock.Elapsed.TotalSeconds, 2);
        var changeLog = node.Log.Skip(logMark).ToList();
        result["one_change_verify_s"] = VerificationSeconds(changeLog);
        result["one_change_probes"] = ProbesSent(changeLog);
        await Task.Delay(2000);
        var touched = node.Log.Skip(logMark).Where(l => l.Contains("Started element", StringComparison.Ordinal)
            || l.Contains("Changed element", StringComparison.Ordinal) || l.Contains("Stopped element", StringComparison.Ordinal)).ToList();
        var pwsAfter = await PwTransitionsByName(http, node.Management);
        int restarted = pwsAfter.Count(p => !pwsBefore.TryGetValue(p.Key, out var t) || t != p.Value);
        result["one_change_touched"] = touched.Count;
        result["one_change_pws_restarted"] = restarted;
        Console.WriteLine($"scale: one PW's weight changed: applied in {result["one_change_apply_s"]} s; reconciler touched {touched.Count}: {string.Join(" | ", touched.Select(t => t[(t.IndexOf("element", StringComparison.Ordinal))..]))}; {restarted} PW sessions restarted");
    }

    /// <summary>The scale intent: PE pairs joined by 2 PWs each way in one trunk per PE, and gateways with tenants, all on node-1.</summary>
    internal static string ScaleIntent(string address, int pairs, int gateways, int tenants, bool changedWeight)
    {
        var b = new StringBuilder();
        b.Append(CultureInfo.InvariantCulture, $"nodes:\n  - {{ name: node-1, address: {address}, roles: [fabric, ghost-shadow] }}\ntenants:\n");
        for (int t = 0; t < Math.Max(1, tenants); t++) b.Append(CultureInfo.InvariantCulture, $"  - {{ name: t{t}, vni: {1000 + t} }}\n");
        b.Append("pes:\n");
        for (int i = 0; i < pairs; i++)
        {
            foreach (var side in new[] { "a", "b" })
            {
                int id = 2 * i + (side == "a" ? 0 : 1);
                b.Append(CultureInfo.InvariantCulture, $"  - {{ name: pe{side}{i}, node: node-1, routerId: 10.{id >> 16 & 255}.{id >> 8 & 255}.{id & 255}, attachmentCircuits: [ {{ name: ce{side}{i}, port: {{ kind: simulated, name: ce{side}{i} }} }} ] }}\n");
            }
        }

        b.Append("pws:\n");
        for (int i = 0; i < pairs; i++)
        {
            int l = 16 + 4 * i;
            string w = changedWeight && i == 0 ? ", weight: 2" : "";
            b.Append(CultureInfo.InvariantCulture, $"  - {{ name: a{i}-1, pe: pea{i}, remotePe: peb{i}, localLabel: {l}, remoteLabel: {l + 2}{w} }}\n");
            b.Append(CultureInfo.InvariantCulture, $"  - {{ name: a{i}-2, pe: pea{i}, remotePe: peb{i}, localLabel: {l + 1}, remoteLabel: {l + 3} }}\n");
            b.Append(CultureInfo.InvariantCulture, $"  - {{ name: b{i}-1, pe: peb{i}, remotePe: pea{i}, localLabel: {l + 2}, remoteLabel: {l} }}\n");
            b.Append(CultureInfo.InvariantCulture, $"  - {{ name: b{i}-2, pe: peb{i}, remotePe: pea{i}, localLabel: {l + 3}, remoteLabel: {l + 1} }}\n");
        }

        b.Append("trunks:\n");
        for (int i = 0; i < pairs; i++)
        {
            b.Append(CultureInfo.InvariantCulture, $"  - {{ name: ta{i}, pe: pea{i}, attachmentCircuit: cea{i}, members: [a{i}-1, a{i}-2] }}\n");
            b.Append(CultureInfo.InvariantCulture, $"  - {{ name: tb{i}, pe: peb{i}, attachmentCircuit: ceb{i}, members: [b{i}-1, b{i}-2] }}\n");
        }

        if (gateways > 0 && tenants > 0)
        {
            b.Append("gateways:\n");
            for (int g = 0; g < gateways; g++)
            {
                b.Append(CultureInfo.InvariantCulture, $"  - name: gw{g}\n    node: node-1\n    tenants:\n");
                for (int t = 0; t < tenants; t++)
                {
                    b.Append(CultureInfo.InvariantCulture, $"      - tenant: t{t}\n        networks: [10.{100 + g}.{t}.1/24]\n        downlink: {{ kind: simulated, name: g{g}t{t}-in }}\n");
                    b.Append(CultureInfo.InvariantCulture, $"        uplink: {{ port: {{ kind: simulated, name: g{g}-up }}, address: 100.{64 + g}.{t}.2/24, vlan: {10 + t} }}\n");
                    b.Append(CultureInfo.InvariantCulture, $"        routes: [ {{ prefix: 0.0.0.0/0, nextHop: 100.{64 + g}.{t}.1 }} ]\n        snatPool: [100.{64 + g}.{t}.10]\n");
                }
            }
        }

        return b.ToString();
    }

    private static async Task<bool> TrunkUp(HttpClient http, int port, string trunk) =>
        (await Get(http, port, $"/trunks/{trunk}"))?["state"]?.ToString() == "up";

    private static async Task<long> TrunkTransitions(HttpClient http, int port, IEnumerable<string> trunks)
    {
        long sum = 0;
        foreach (var t in trunks)
        {
            sum += (await Get(http, port, $"/trunks/{t}"))?["transitions"]?.GetValue<long>() ?? 0;
        }

        return sum;
    }

    private static async Task<long> PwTransitions(HttpClient http, int port) =>
        (await PwTransitionsByName(http, port)).Values.Sum();

    private static async Task<Dictionary<string, long>> PwTransitionsByName(HttpClient http, int port) =>
        (await Get(http, port, "/pws"))?["pws"]?.AsArray().ToDictionary(p => p!["name"]!.ToString(), p => p!["transitions"]!.GetValue<long>()) ?? [];

    private static async Task<int> PwsUp(HttpClient http, int port) =>
        (await Get(http, port, "/pws"))?["pws"]?.AsArray().Count(p => p!["state"]?.ToString().StartsWith("up", StringComparison.Ordinal) == true) ?? 0;

    /// <summary>
    /// Until the node applied intent <paramref name="version"/>; fails (with the first findings) once
    /// change <paramref name="change"/> is seen rejected. The change is read once a second, the
    /// applied version every poll: GET /changes/N returns the change with its document and ghost
    /// report (1.1 MB and 33,800 diff lines at this size), and asked ten times a second it took a
    /// good part of a core from the node it measures.
    /// </summary>
    private static Task UntilApplied(HttpClient http, Node node, long change, long version, string what, int seconds)
    {
        var polls = 0;
        return UntilLong(async () =>
        {
            if (polls++ % 10 == 9)
            {
                var status = await Get(http, node.Management, $"/changes/{change}");
                if (status?["status"]?.ToString() == "rejected")
                {
                    var findings = status["findings"]?.AsArray().Take(5).Select(f => f?["reason"]?.ToString()) ?? [];
                    throw new InvalidOperationException($"{what}: change {change} rejected: {string.Join(" | ", findings)}");
                }
            }

            return (await Get(http, node.Management, "/intent/applied"))?["version"]?.GetValue<long>() >= version;
        }, what, seconds);
    }

    private static async Task UntilLong(Func<Task<bool>> condition, string what, int seconds)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(seconds);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException(what);
            await Task.Delay(100);
        }
    }

    /// <summary>A loopback address no socket on this box is bound to (so this run's underlay is its own).</summary>
    private static string FreeLoopback()
    {
        var used = File.ReadAllLines("/proc/net/udp").Skip(1).Select(l => l.Trim().Split(' ')[1].Split(':')[0]).ToHashSet();
        for (int i = 0; i < 200; i++)
        {
            int last = 100 + (Environment.ProcessId + i) % 150;
            // /proc/net/udp shows the address as little-endian hex: 127.0.x.last -> lastx00007F
            string hex = $"{last:X2}{0x4D:X2}007F";
            if (!used.Contains(hex)) return $"127.0.77.{last}";
        }

        throw new InvalidOperationException("no free loopback address in 127.0.77.100-249");
    }


    /// <summary>One fabric-node process with its log kept (the reconciler's lines are counted).</summary>
    private sealed class Node : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly ConcurrentQueue<string> _log = new();

        private Node(Process process, int management, string data)
        {
            _process = process;
            Management = management;
            Data = data;
        }

        public int Management { get; }
        public string Data { get; }
        public int Pid => _process.Id;
        public IReadOnlyCollection<string> Log => _log;

        public static async Task<Node> StartAsync(string dll, string root, string name, string intent, params string[] extra)
        {
            var (port, management) = (FreePort(), FreePort());
            var data = Path.Combine(root, name);
            var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in new[] { dll, "run", "--name", "node-1", "--port", $"{port}", "--management", $"127.0.0.1:{management}", "--data", data, "--intent", intent }.Concat(extra))
            {
                info.ArgumentList.Add(a);
            }

            var node = new Node(Process.Start(info)!, management, data);
            node._process.OutputDataReceived += (_, e) => { if (e.Data is { } l) node._log.Enqueue(l); };
            node._process.ErrorDataReceived += (_, e) => { if (e.Data is { } l) node._log.Enqueue(l); };
            node._process.BeginOutputReadLine();
            node._process.BeginErrorReadLine();
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            try
            {
                await UntilLong(async () => node._process.HasExited || (await Get(http, management, "/health/ready")) is not null, $"{name} ready", 120);
            }
            catch (TimeoutException)
            {
                await node.DisposeAsync(); // never leave a node behind
                throw;
            }

            if (node._process.HasExited)
            {
                throw new InvalidOperationException($"{name} exited: {string.Join('\n', node._log.TakeLast(20))}");
            }

            return node;
        }

        /// <summary>POSTs <paramref name="document"/> as a change; returns its id.</summary>
        public async Task<long> Propose(HttpClient http, string document)
        {
            var token = (await File.ReadAllTextAsync(Path.Combine(Data, "token"))).Trim();
            using var request = new HttpRequestMessage(HttpMethod.Post, $"http://127.0.0.1:{Management}/changes") { Content = new StringContent(document, Encoding.UTF8, "application/yaml") };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var response = await http.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"POST /changes: {(int)response.StatusCode} {body}");
            return JsonNode.Parse(body)!["changeId"]!.GetValue<long>();
        }

        /// <summary>CPU the process used over <paramref name="seconds"/>, in % of one core.</summary>
        public async Task<double> IdleCpu(int seconds)
        {
            long before = CpuTicks();
            var clock = Stopwatch.StartNew();
            await Task.Delay(TimeSpan.FromSeconds(seconds));
            long used = CpuTicks() - before;
            return used * 100.0 / ClockTicks / clock.Elapsed.TotalSeconds;
        }

        private long CpuTicks()
        {
            // Fields after the ")" of the command: state is field 3, utime 14, stime 15.
            var stat = File.ReadAllText($"/proc/{Pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        }

        private long Status(string key) =>
            File.ReadAllLines($"/proc/{Pid}/status").Where(l => l.StartsWith(key + ":", StringComparison.Ordinal))
                .Select(l => long.Parse(l[(key.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture)).First();

        /// <summary>Each "pw-liveness" thread's policy and nice value, from /proc (policy 1 = SCHED_FIFO).</summary>
        public string LivenessScheduling()
        {
            var found = new List<string>();
            foreach (var task in Directory.GetDirectories($"/proc/{Pid}/task"))
            {
                try
                {
                    if (File.ReadAllText(Path.Combine(task, "comm")).Trim() != "pw-liveness") continue;
                    var stat = File.ReadAllText(Path.Combine(task, "stat"));
                    var f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                    // after ")": field 3 is index 0, so nice (19) is 16, rt_priority (40) is 37, policy (41) is 38
                    found.Add(f[38] == "1" ? $"fifo:{f[37]}" : $"nice:{f[16]}");
                }
                catch (IOException)
                {
                    // the thread ended meanwhile
                }
            }

            return string.Join(",", found);
        }

        public long RssMb() => Status("VmRSS") / 1024;

        public long Threads() => Status("Threads");

        public ValueTask DisposeAsync()
        {
            Terminate(_process);
            _process.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
