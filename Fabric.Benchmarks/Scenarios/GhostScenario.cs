using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Fabric.Benchmarks.Scenarios;

/// <summary>
/// `scenario ghost`: a real `fabric-node run` process (both roles) verifies changes on its ghost
/// network. Measures the verdict latency (the verifier's own time, and proposal to decision over
/// HTTP) and probes/s for the shipped sample and for a generated intent of 10 gateways x 10
/// tenants (100 tenants) with 1,000 declared checks (goal: verdict &lt;= 10 s). Last line: JSON.
/// </summary>
public static class GhostScenario
{
    public static int Run(string[] args)
    {
        var reps = args.Length > 1 && args[0] == "--reps" && int.TryParse(args[1], out var r) ? r : 3;
        return RunAsync(reps).GetAwaiter().GetResult();
    }

    private static async Task<int> RunAsync(int reps)
    {
        var dll = NodeProcesses.NodeDll();
        var root = Path.Combine(Path.GetTempPath(), "fabric-bench-ghost-" + Environment.ProcessId);
        var (port, management) = (NodeProcesses.FreePort(), NodeProcesses.FreePort());
        using var node = NodeProcesses.Start(dll, "--name", "node-1", "--port", $"{port}", "--management", $"127.0.0.1:{management}", "--data", root, "--intent", "none");
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
        try
        {
            await NodeProcesses.Until(async () => await NodeProcesses.Get(http, management, "/health/ready") is not null, "node ready");
            var token = (await File.ReadAllTextAsync(Path.Combine(root, "token"))).Trim();
            var sample = await File.ReadAllTextAsync(Path.Combine(Path.GetDirectoryName(dll)!, "samples", "sample-intent.yaml"));

            var sampleRuns = new List<(double Verifier, double Wall, int Probes)>();
            for (var i = 0; i < reps; i++)
            {
                // Each repetition is a new change: the sample plus one more tenant.
                var doc = sample.Replace("\ntenants:\n", $"\ntenants:\n  - name: bench-{i}\n    vni: {9000 + i}\n");
                sampleRuns.Add(await Verify(http, management, token, doc, "sample"));
            }
            var large = new List<(double Verifier, double Wall, int Probes)>();
            for (var i = 0; i < reps; i++) large.Add(await Verify(http, management, token, Generated(100, 10, i), "100 tenants"));

            var result = new JsonObject
            {
                ["scenario"] = "ghost",
                ["reps"] = reps,
                ["sample_verdict_s"] = Json(Stats.Of([.. sampleRuns.Select(s => s.Verifier)])),
                ["sample_decided_s"] = Json(Stats.Of([.. sampleRuns.Select(s => s.Wall)])),
                ["sample_probes"] = sampleRuns[0].Probes,
                ["sample_probes_per_s"] = Json(Stats.Of([.. sampleRuns.Select(s => s.Probes / s.Verifier)])),
                ["large_tenants"] = 100,
                ["large_checks"] = 1000,
                ["large_verdict_s"] = Json(Stats.Of([.. large.Select(s => s.Verifier)])),
                ["large_decided_s"] = Json(Stats.Of([.. large.Select(s => s.Wall)])),
                ["large_probes"] = large[0].Probes,
                ["large_probes_per_s"] = Json(Stats.Of([.. large.Select(s => s.Probes / s.Verifier)])),
            };
            Console.WriteLine(result.ToJsonString());
            return 0;
        }
        finally
        {
            NodeProcesses.Terminate(node);
            try { Directory.Delete(root, recursive: true); } catch (IOException) { }
        }
    }

    private static JsonObject Json(Stats s) => new() { ["min"] = Math.Round(s.Min, 3), ["median"] = Math.Round(s.Median, 3), ["max"] = Math.Round(s.Max, 3) };

    private static async Task<(double Verifier, double Wall, int Probes)> Verify(HttpClient http, int management, string token, string document, string what)
    {
        var clock = Stopwatch.StartNew();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"http://127.0.0.1:{management}/changes") { Content = new StringContent(document, Encoding.UTF8, "application/yaml") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"POST /changes ({what}): {(int)response.StatusCode} {body}");
        var id = JsonNode.Parse(body)!["changeId"]!.GetValue<long>();
        JsonNode? change = null;
        await NodeProcesses.Until(async () => (change = await NodeProcesses.Get(http, management, $"/changes/{id}"))?["status"]?.ToString() is "committed" or "rejected", $"change {id} decided");
        var wall = clock.Elapsed.TotalSeconds;
        var ghost = change!["ghost"]!;
        var status = change["status"]!.ToString();
        Console.WriteLine($"{what}: change {id} {status} in {ghost["seconds"]!.GetValue<double>():F2} s (verifier), {wall:F2} s proposal to decision, {ghost["probes"]} probes, " +
                          $"{ghost["checksPassed"]} checks passed, {ghost["checksFailed"]} failed");
        if (status != "committed")
            Console.WriteLine(change["findings"]!.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return (ghost["seconds"]!.GetValue<double>(), wall, ghost["probes"]!.GetValue<int>());
    }

    /// <summary>
    /// <paramref name="tenants"/> tenants on gateways of 10 tenants each, every tenant with its
    /// own downlink and uplink, SNAT, a firewall, and <paramref name="checksPerTenant"/> checks.
    /// </summary>
    public static string Generated(int tenants, int checksPerTenant, int salt)
    {
        var sb = new StringBuilder();
        sb.Append("version: 1\nnodes:\n  - { name: node-1, address: 127.0.0.1, roles: [fabric, ghost-shadow] }\ntenants:\n");
        for (var t = 0; t < tenants; t++) sb.Append($"  - {{ name: t{t}, vni: {5000 + t + salt * 1000} }}\n");
        sb.Append("gateways:\n");
        for (var g = 0; g < (tenants + 9) / 10; g++)
        {
            sb.Append($"  - name: gw-{g}\n    node: node-1\n    tenants:\n");
            for (var t = g * 10; t < Math.Min(tenants, g * 10 + 10); t++)
            {
                sb.Append($$"""
                      - tenant: t{{t}}
                        networks: [10.{{t}}.0.1/24]
                        downlink: { kind: simulated, name: d{{t}} }
                        uplink: { port: { kind: simulated, name: u{{t}} }, address: 100.64.{{t}}.2/24 }
                        routes:
                          - { prefix: 0.0.0.0/0, nextHop: 100.64.{{t}}.1 }
                        snatPool: [100.64.{{t}}.10]
                        firewall:
                          defaultPolicy: allow
                          rules:
                            - { name: no-telnet, action: deny, protocol: tcp, ports: 23 }

                """);
            }
        }
        sb.Append("checks:\n");
        for (var t = 0; t < tenants; t++)
        {
            for (var k = 0; k < checksPerTenant; k++)
            {
                var blocked = k == checksPerTenant - 1;
                sb.Append($"  - {{ name: t{t}-c{k}, from: {{ gateway: gw-{t / 10}, tenant: t{t}, address: 10.{t}.0.{20 + k} }}, " +
                          $"to: {{ address: 198.18.{k}.80, protocol: tcp, port: {(blocked ? 23 : 80 + k)} }}, expect: {(blocked ? "blocked" : "reach")} }}\n");
            }
        }
        return sb.ToString();
    }
}
