using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

using static Fabric.Benchmarks.Scenarios.NodeProcesses;

namespace Fabric.Benchmarks.Scenarios;

/// <summary>
/// `scenario cluster`: real `fabric-node run` processes (Release build) on loopback. Measures
/// the time from process start to /health/ready, from a second node's start to both members Up,
/// and from POST /changes to the change applied on both nodes. Prints min/median/max; the last
/// line is one JSON object.
/// </summary>
public static class ClusterScenario
{
    public static int Run(string[] args)
    {
        var repetitions = args.Length > 0 && int.TryParse(args[0], out var r) ? r : 5;
        return RunAsync(repetitions).GetAwaiter().GetResult();
    }

    private static async Task<int> RunAsync(int repetitions)
    {
        var dll = NodeDll();
        var root = Path.Combine(Path.GetTempPath(), "fabric-bench-cluster-" + Environment.ProcessId);
        var startup = new List<double>();
        var secondUp = new List<double>();
        var commit = new List<double>();
        try
        {
            for (var i = 0; i < repetitions; i++)
            {
                var (port1, port2, m1, m2) = (FreePort(), FreePort(), FreePort(), FreePort());
                var data1 = Path.Combine(root, $"r{i}-n1");
                var data2 = Path.Combine(root, $"r{i}-n2");
                using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };

                var clock = Stopwatch.StartNew();
                using var node1 = Start(dll, "--name", "node-1", "--port", $"{port1}", "--management", $"127.0.0.1:{m1}", "--data", data1, "--intent", "none");
                await Until(async () => (await Get(http, m1, "/health/ready")) is not null, "node-1 ready");
                startup.Add(clock.Elapsed.TotalMilliseconds);

                clock.Restart();
                using var node2 = Start(dll, "--name", "node-2", "--port", $"{port2}", "--seed", $"127.0.0.1:{port1}", "--management", $"127.0.0.1:{m2}", "--data", data2);
                await Until(async () => UpCount(await Get(http, m1, "/cluster/members")) == 2, "both Up");
                secondUp.Add(clock.Elapsed.TotalMilliseconds);
                await Until(async () => (await Get(http, m2, "/health/ready")) is not null, "node-2 ready");

                var token = (await File.ReadAllTextAsync(Path.Combine(data1, "token"))).Trim();
                var document = $"nodes:\n  - name: node-1\n    roles: [fabric, ghost-shadow]\n  - name: node-2\n    roles: [fabric, ghost-shadow]\ntenants:\n  - name: t{i}\n    vni: {100 + i}\n";
                clock.Restart();
                using (var request = new HttpRequestMessage(HttpMethod.Post, $"http://127.0.0.1:{m1}/changes") { Content = new StringContent(document, Encoding.UTF8, "application/yaml") })
                {
                    request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
                    using var response = await http.SendAsync(request);
                    if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"POST /changes: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                }
                await Until(async () => Version(await Get(http, m1, "/intent/applied")) == 1 && Version(await Get(http, m2, "/intent/applied")) == 1, "applied on both");
                commit.Add(clock.Elapsed.TotalMilliseconds);

                Terminate(node2);
                Terminate(node1);
                Console.WriteLine($"run {i + 1}: ready {startup[^1]:0} ms, second Up {secondUp[^1]:0} ms, commit on 2 nodes {commit[^1]:0} ms");
            }
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }

        Console.WriteLine(JsonSerializer.Serialize(new
        {
            scenario = "cluster",
            repetitions,
            startup_to_ready_ms = Stats.Of(startup),
            second_node_up_ms = Stats.Of(secondUp),
            post_to_committed_on_2_nodes_ms = Stats.Of(commit),
        }, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));
        return 0;
    }

    private static int UpCount(JsonNode? members) =>
        members?["members"]?.AsArray().Count(m => m?["status"]?.ToString() == "Up") ?? 0;

    private static long Version(JsonNode? applied) => applied?["version"]?.GetValue<long>() ?? -1;

}

/// <summary>min / median / max of a sample, rounded for reports.</summary>
public sealed record Stats(double Min, double Median, double Max)
{
    public static Stats Of(IReadOnlyCollection<double> values)
    {
        var sorted = values.Order().ToArray();
        var median = sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
        return new Stats(Math.Round(sorted[0], 1), Math.Round(median, 1), Math.Round(sorted[^1], 1));
    }
}
