using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using static Fabric.Benchmarks.Scenarios.NodeProcesses;

namespace Fabric.Benchmarks.Scenarios;

/// <summary>
/// `scenario overload [--seconds 60] [--senders 3]` (root; iperf3): the gateway under more than
/// it can forward. A real `fabric-node run` process hosts the crr scenario's gateway (TAP
/// downlink in an inside namespace, TAP uplink in an outside one, SNAT); <c>--senders</c> iperf3
/// UDP clients in the inside namespace send 60-byte frames as fast as they can (<c>-b 0</c>) to
/// iperf3 servers bound to the served address outside, for <c>--seconds</c>. Every second the
/// node's RSS is read from /proc and GET /gateways/gw-c is asked (2 s timeout). Reports the
/// overload factor (frames offered by the senders over frames the gateway forwarded), the RSS
/// growth over the run (largest sample minus the sample before the load), how many management
/// requests were answered and their p99, and the gateway's ingress-busy drops. JSON figure:
/// <c>rss_growth_mb_overload</c> (goal: within +64 MB at 3× overload for 60 s, management answering).
/// </summary>
public static class OverloadScenario
{
    public static int Run(string[] args)
    {
        var seconds = ScenarioArgs.Option(args, "--seconds", 60);
        var senders = ScenarioArgs.Option(args, "--senders", 3);
        return RunAsync(seconds, senders).GetAwaiter().GetResult();
    }

    private static async Task<int> RunAsync(int seconds, int senders)
    {
        var pid = Environment.ProcessId;
        var tag = $"ovl{pid % 100000}";
        var root = Path.Combine(Path.GetTempPath(), "fabric-bench-overload-" + pid);
        Directory.CreateDirectory(root);
        var iperf = CrrScenario.Tool("iperf3");
        Process? node = null;
        var processes = new List<Process>();
        using var links = new ScenarioCleanup(); // disposed after the finally below has stopped the node(s), and run when interrupted
        links.DeleteLinks($"{tag}d", $"{tag}u");
        try
        {
            using var inside = new ScenarioNamespace("ovl-in");
            using var outside = new ScenarioNamespace("ovl-out");
            var intent = Path.Combine(root, "intent.yaml");
            await File.WriteAllTextAsync(intent, CrrScenario.Intent(tag + "d", tag + "u"));
            var management = FreePort();
            node = Start(NodeDll(), "--name", "node-1", "--port", $"{FreePort()}", "--management", $"127.0.0.1:{management}", "--data", Path.Combine(root, "node"), "--intent", intent);
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
            await Until(async () => await Get(http, management, "/gateways/gw-c") is not null, "gateway gw-c running");
            await Until(() => Task.FromResult(ScenarioNamespace.Run("ip", $"link show {tag}u", check: false).Length > 0 && ScenarioNamespace.Run("ip", $"link show {tag}d", check: false).Length > 0), "TAPs opened");
            inside.Attach(tag + "d", "10.0.0.10/24", "10.0.0.1");
            outside.Attach(tag + "u", "192.0.2.1/24", null);
            outside.Ip($"addr add {CrrScenario.Server}/32 dev lo");
            await Until(async () => (await Get(http, management, "/gateways/gw-c"))?["status"]?["neighbors"]?.GetValue<int>() >= 1, "upstream router resolved");
            for (var s = 0; s < senders; s++)
            {
                processes.Add(outside.Background(iperf, $"-s -1 -B {CrrScenario.Server} -p {5201 + s}"));
            }
            await Until(() => Task.FromResult(Enumerable.Range(0, senders).All(s => outside.Exec("ss", "-ltn").Contains($":{5201 + s}"))), "iperf3 servers listening");

            // Settle (JIT, first blocks), then the baseline.
            inside.Exec("ping", $"-c 3 -i 0.2 -W 2 {CrrScenario.Server}", check: false);
            await Task.Delay(2000);
            var rssBefore = RssMb(node.Id);
            var forwardedBefore = Counter(await Get(http, management, "/gateways/gw-c"), "forwarded");

            var clients = Enumerable.Range(0, senders)
                .Select(s => inside.Background(iperf, $"-c {CrrScenario.Server} -p {5201 + s} -u -b 0 -l 18 -t {seconds} -J --connect-timeout 5000", keepOutput: true))
                .ToList();
            processes.AddRange(clients);
            var rss = new List<double>();
            var answers = new List<double>();
            var asked = 0;
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed.TotalSeconds < seconds + 1 && clients.Any(c => !c.HasExited))
            {
                await Task.Delay(1000);
                rss.Add(RssMb(node.Id));
                asked++;
                var t = Stopwatch.StartNew();
                if (await Get(http, management, "/gateways/gw-c") is not null) answers.Add(t.Elapsed.TotalMilliseconds);
            }

            long offered = 0;
            foreach (var c in clients)
            {
                if (!c.WaitForExit((seconds + 30) * 1000)) throw new TimeoutException("iperf3 client did not finish");
                var json = JsonNode.Parse(c.StandardOutput.ReadToEnd());
                offered += json?["end"]?["sum"]?["packets"]?.GetValue<long>() ?? 0;
            }

            var status = await Get(http, management, "/gateways/gw-c");
            var forwarded = Counter(status, "forwarded") - forwardedBefore;
            var drops = status?["status"]?["drops"]?.AsObject();
            var ingressBusy = drops?["ingress-busy"]?.GetValue<long>() ?? -1;
            var rssAfter = RssMb(node.Id);
            var growth = Math.Max(rss.DefaultIfEmpty(rssBefore).Max(), rssAfter) - rssBefore;
            answers.Sort();
            var p99 = answers.Count == 0 ? double.NaN : answers[Math.Min(answers.Count - 1, (int)Math.Ceiling(answers.Count * 0.99) - 1)];
            var elapsed = clock.Elapsed.TotalSeconds;
            Console.WriteLine($"{senders} iperf3 UDP senders, 60-byte frames, {seconds} s: offered {offered} frames ({offered / elapsed / 1e3:F0} k/s), gateway forwarded {forwarded} ({forwarded / elapsed / 1e3:F0} k/s): overload {(double)offered / Math.Max(1, forwarded):F1}x");
            Console.WriteLine($"node RSS: {rssBefore:F0} MB before, max {rss.DefaultIfEmpty(0).Max():F0} MB, {rssAfter:F0} MB after: growth {growth:F1} MB");
            Console.WriteLine($"management: {answers.Count}/{asked} answered, p99 {p99:F1} ms; drops {drops?.ToJsonString()}");
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                scenario = "overload",
                seconds,
                senders,
                offered_fps = Math.Round(offered / elapsed),
                forwarded_fps = Math.Round(forwarded / elapsed),
                overload_factor = Math.Round((double)offered / Math.Max(1, forwarded), 2),
                rss_mb_before = Math.Round(rssBefore, 1),
                rss_growth_mb_overload = Math.Round(growth, 1),
                management_answered = $"{answers.Count}/{asked}",
                management_p99_ms = Math.Round(p99, 1),
                ingress_busy_drops = ingressBusy,
            }));
            return 0;
        }
        finally
        {
            foreach (var p in processes)
            {
                if (!p.HasExited) p.Kill(entireProcessTree: true);
                p.WaitForExit(5000);
            }
            if (node is not null) Terminate(node);
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    private static long Counter(JsonNode? gateway, string name) => gateway?["status"]?["counters"]?[name]?.GetValue<long>() ?? 0;

    /// <summary>VmRSS of <paramref name="pid"/> in MB.</summary>
    private static double RssMb(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
    }

}
