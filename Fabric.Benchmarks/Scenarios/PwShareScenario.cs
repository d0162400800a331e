using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using static Fabric.Benchmarks.Scenarios.NodeProcesses;

namespace Fabric.Benchmarks.Scenarios;

/// <summary>
/// `scenario pw-share [--seconds 5] [--reps 3]` (root; iperf3): how evenly a 4-PW trunk's members
/// carry a few elephant flows. Two real `fabric-node run` processes (underlay 127.x.0.2 and
/// 127.x.0.3, x from the PID), PE1 and PE2 with a 4-PW trunk each way (the default least-loaded balance), CE1 and
/// CE2 two namespaces whose interfaces are the PEs' TAP ports; `iperf3 -P 8` from CE1 to CE2,
/// <c>--reps</c> times. Per run: each PW's share of the bytes t1 sent, and the PWs' reordered
/// count on the receiving side. JSON: <c>pw_min_byte_share_p8</c> (min/median/max over the runs
/// of the least-used PW's share; goal >= 0.15) and <c>pw_reordered</c>.
/// </summary>
public static class PwShareScenario
{
    private const string Ce1 = "10.79.0.1";
    private const string Ce2 = "10.79.0.2";

    public static int Run(string[] args)
    {
        var seconds = ScenarioArgs.Option(args, "--seconds", 5);
        var reps = ScenarioArgs.Option(args, "--reps", 3);
        return RunAsync(seconds, reps).GetAwaiter().GetResult();
    }

    private static async Task<int> RunAsync(int seconds, int reps)
    {
        var pid = Environment.ProcessId;
        var tag = $"pws{pid % 100000}";
        var root = Path.Combine(Path.GetTempPath(), "fabric-bench-pwshare-" + pid);
        Directory.CreateDirectory(root);
        var iperf = CrrScenario.Tool("iperf3");
        var nodes = new List<Process>();
        using var links = new ScenarioCleanup(); // disposed after the finally below has stopped the node(s), and run when interrupted
        links.DeleteLinks($"{tag}a", $"{tag}b");
        try
        {
            using var ce1 = new ScenarioNamespace("pws-ce1");
            using var ce2 = new ScenarioNamespace("pws-ce2");
            var intent = Path.Combine(root, "intent.yaml");
            // Underlay addresses of this run's own (127.x.0.2 and .3, x from the PID): other runs and tests use 127.0.0.2/3:6635.
            var net = $"127.{20 + pid % 200}.0";
            await File.WriteAllTextAsync(intent, Intent(tag + "a", tag + "b", net));
            var (port1, m1, m2) = (FreePort(), FreePort(), FreePort());
            var dll = NodeDll();
            nodes.Add(Start(dll, "--name", "node-1", "--port", $"{port1}", "--management", $"127.0.0.1:{m1}", "--data", Path.Combine(root, "n1"), "--intent", intent));
            nodes.Add(Start(dll, "--name", "node-2", "--port", $"{FreePort()}", "--seed", $"127.0.0.1:{port1}", "--management", $"127.0.0.1:{m2}", "--data", Path.Combine(root, "n2")));
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            await Until(async () => (await Get(http, m1, "/trunks/t1"))?["active"]?.GetValue<int>() == 4
                && (await Get(http, m2, "/trunks/t2"))?["active"]?.GetValue<int>() == 4, "both trunks up with 4 members");
            var balance = (await Get(http, m1, "/trunks/t1"))?["balance"]?.ToString();
            Move(ce1, tag + "a", Ce1);
            Move(ce2, tag + "b", Ce2);
            ce1.Exec("ping", $"-c 3 -i 0.2 -W 2 {Ce2}");
            // iperf3 -P 8 from CE1 to CE2 for that many seconds (a one-off server each time): its JSON report.
            JsonNode? P8(int t)
            {
                var server = ce2.Background(iperf, "-s -1");
                Until(() => Task.FromResult(ce2.Exec("ss", "-ltn").Contains(":5201")), "iperf3 server listening").GetAwaiter().GetResult();
                var report = JsonNode.Parse(ce1.Exec(iperf, $"-c {Ce2} -P 8 -t {t} -J --connect-timeout 3000", timeoutMs: (t + 30) * 1000));
                server.WaitForExit(5000);
                return report;
            }

            static double Gbps(JsonNode? report) => (report?["end"]?["sum_received"]?["bits_per_second"]?.GetValue<double>() ?? 0) / 1e9;
            await WarmUp(http, [m1, m2], "pw -P 8", () => $"{Gbps(P8(WarmUpSeconds)):0.00} Gbit/s");

            var shares = new List<double>();
            var gbps = new List<double>();
            for (var r = 0; r < reps; r++)
            {
                var before = await Bytes(http, m1);
                // Mid-run: how many live flows each member carries (least-loaded balance pins each flow to one).
                var midRun = Task.Run(async () =>
                {
                    await Task.Delay(seconds * 500);
                    return await Get(http, m1, "/trunks/t1");
                });
                var json = P8(seconds);
                var flowsMid = (await midRun)?["members"]?.AsArray().Select(m => $"{m?["pw"]}={m?["liveFlows"]}") ?? [];
                var streams = json?["end"]?["streams"]?.AsArray().Select(s => ((s?["sender"]?["bytes"]?.GetValue<double>() ?? 0) / 1e9).ToString("F2")) ?? [];
                Console.WriteLine($"run {r + 1}: live flows mid-run {string.Join(", ", flowsMid)}; GB per stream {string.Join(" ", streams)}");
                var after = await Bytes(http, m1);
                var delta = after.ToDictionary(kv => kv.Key, kv => kv.Value - before.GetValueOrDefault(kv.Key));
                var total = Math.Max(1, delta.Values.Sum());
                shares.Add(delta.Values.Min() / (double)total);
                gbps.Add(Gbps(json));
                Console.WriteLine($"run {r + 1}: {gbps[^1]:F2} Gbit/s; byte shares {string.Join(", ", delta.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key}={kv.Value / (double)total:P1}"))}");
            }

            var reordered = (await Get(http, m2, "/pws"))?["pws"]?.AsArray().Sum(p => p?["rxReordered"]?.GetValue<long>() ?? 0) ?? -1;
            var t1 = await Get(http, m1, "/trunks/t1");
            Console.WriteLine($"balance {balance}; flows assigned {t1?["flowsAssigned"]}, idle moves {t1?["flowIdleMoves"]}, live evictions {t1?["flowLiveEvictions"]}; PWs reordered at PE2: {reordered}");
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                scenario = "pw-share",
                seconds,
                reps,
                balance,
                pw_min_byte_share_p8 = Spread(shares),
                gbps_p8 = Stats.Of([.. gbps.Select(g => Math.Round(g, 2))]),
                pw_reordered = reordered,
            }));
            return 0;
        }
        finally
        {
            foreach (var n in nodes) Terminate(n);
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>Min / median / max to three decimals (shares are fractions).</summary>
    private static object Spread(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return new { min = Math.Round(sorted[0], 3), median = Math.Round(sorted[sorted.Length / 2], 3), max = Math.Round(sorted[^1], 3) };
    }

    /// <summary>Bytes each member of t1 has sent.</summary>
    private static async Task<Dictionary<string, long>> Bytes(HttpClient http, int management) =>
        (await Get(http, management, "/trunks/t1"))?["members"]?.AsArray()
            .ToDictionary(m => m!["pw"]!.ToString(), m => m!["txBytes"]!.GetValue<long>()) ?? [];

    private static void Move(ScenarioNamespace ns, string tap, string address)
    {
        ScenarioNamespace.Run("ip", $"link set {tap} netns {ns.Name}");
        ns.Ip($"addr add {address}/24 dev {tap}");
        ns.Ip($"link set {tap} up");
        ns.Ip("link set lo up");
    }

    private static string Intent(string tap1, string tap2, string net) => $$"""
        version: 1
        nodes:
          - { name: node-1, address: {{net}}.2, roles: [fabric, ghost-shadow] }
          - { name: node-2, address: {{net}}.3, roles: [fabric, ghost-shadow] }
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
        {{string.Concat(Enumerable.Range(1, 4).Select(i => $"""
          - {"{"} name: pw1-{i}, pe: pe1, remotePe: pe2, localLabel: {1000 + i}, remoteLabel: {2000 + i}, flowLabel: true {"}"}
          - {"{"} name: pw2-{i}, pe: pe2, remotePe: pe1, localLabel: {2000 + i}, remoteLabel: {1000 + i}, flowLabel: true {"}"}

        """))}}
        trunks:
          - { name: t1, pe: pe1, attachmentCircuit: ce1, members: [pw1-1, pw1-2, pw1-3, pw1-4], minActive: 2 }
          - { name: t2, pe: pe2, attachmentCircuit: ce2, members: [pw2-1, pw2-2, pw2-3, pw2-4], minActive: 2 }
        """;
}
