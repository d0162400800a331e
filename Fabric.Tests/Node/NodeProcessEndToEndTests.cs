using System.Diagnostics;
using System.Text.Json.Nodes;
using Fabric.Tests.Support;
using Xunit.Abstractions;

namespace Fabric.Tests.Node;

/// <summary>Two real `fabric-node run` processes, driven only by the operator CLI.</summary>
public class NodeProcessEndToEndTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Two_processes_cluster_commit_a_CLI_change_leave_on_SIGTERM_and_restore_on_restart()
    {
        using var dir = new TempDir();
        var (port1, port2) = (NodeProcess.FreeTcpPort(), NodeProcess.FreeTcpPort());
        var (mgmt1, mgmt2) = ($"127.0.0.1:{NodeProcess.FreeTcpPort()}", $"127.0.0.1:{NodeProcess.FreeTcpPort()}");
        string[] Node1() => ["run", "--name", "node-1", "--port", $"{port1}", "--management", mgmt1, "--data", dir.Sub("n1"), "--intent", "none"];
        string[] Node2() => ["run", "--name", "node-2", "--port", $"{port2}", "--seed", $"127.0.0.1:{port1}", "--management", mgmt2, "--data", dir.Sub("n2")];

        using var node1 = NodeProcess.Start(Node1());
        var node2 = NodeProcess.Start(Node2());
        try
        {
            var stopwatch = Stopwatch.StartNew();
            await Eventually.Holds(async () => await UpCount(mgmt1) == 2 && await UpCount(mgmt2) == 2, Wait, "both processes Up in cluster show");
            output.WriteLine($"both Up after {stopwatch.ElapsedMilliseconds} ms");

            var file = Path.Combine(dir.Path, "change.yaml");
            await File.WriteAllTextAsync(file, Intents.WithTenant("blue", 100, "node-1", "node-2"));
            stopwatch.Restart();
            var (code, text) = await NodeProcess.Cli("change", "propose", file, "--wait", "--management", mgmt1, "--data", dir.Sub("n1"));
            Assert.True(code == 0, text);
            Assert.Contains("committed", text);
            await Eventually.Holds(async () => await Applied(mgmt1) == 1 && await Applied(mgmt2) == 1, Wait, "intent version 1 on both");
            output.WriteLine($"committed on both {stopwatch.ElapsedMilliseconds} ms after propose");

            Assert.Equal(0, await node2.TerminateAsync(Wait));
            await Eventually.Holds(async () => !(await ClusterShow(mgmt1)).ToJsonString().Contains($":{port2}\""),
                Wait, "node-1 sees node-2 gone from the members");
            Assert.Equal(1, await UpCount(mgmt1));

            node2.Dispose();
            node2 = NodeProcess.Start(Node2());
            await Eventually.Holds(async () => await UpCount(mgmt1) == 2, Wait, "node-2 back");
            await Eventually.Holds(async () => await Applied(mgmt2) == 1, Wait, "restarted node-2 runs intent version 1");
        }
        catch
        {
            output.WriteLine("--- node-1 ---\n" + node1.Output);
            output.WriteLine("--- node-2 ---\n" + node2.Output);
            throw;
        }
        finally
        {
            node2.Dispose();
        }
    }

    [Fact]
    public async Task The_CLI_fails_with_a_one_line_reason_and_a_non_zero_exit()
    {
        var (code, text) = await NodeProcess.Cli("cluster", "show", "--management", $"127.0.0.1:{NodeProcess.FreeTcpPort()}");
        Assert.NotEqual(0, code);
        Assert.Single(text.Trim().Split('\n'));
        Assert.StartsWith("fabric-node: cannot reach the management API", text.Trim());
    }

    [Fact]
    public async Task A_bad_intent_file_at_start_stops_the_node_with_the_line_and_reason()
    {
        using var dir = new TempDir();
        var file = Path.Combine(dir.Path, "bad.yaml");
        await File.WriteAllTextAsync(file, Intents.UnknownNode);
        var (code, text) = await NodeProcess.Cli("run", "--intent", file, "--data", dir.Sub("d"), "--port", "0", "--management", $"127.0.0.1:{NodeProcess.FreeTcpPort()}");
        Assert.Equal(2, code);
        Assert.Contains("line 7", text);
        Assert.Contains("node-zz", text);
    }

    private static async Task<JsonNode> ClusterShow(string mgmt)
    {
        var (code, text) = await NodeProcess.Cli("cluster", "show", "--json", "--management", mgmt);
        if (code != 0) return new JsonObject { ["members"] = new JsonArray() };
        return JsonNode.Parse(text)!;
    }

    private static async Task<int> UpCount(string mgmt) =>
        (await ClusterShow(mgmt))["members"]!.AsArray().Count(m => m!["status"]!.ToString() == "Up");

    private static async Task<long> Applied(string mgmt)
    {
        var (code, text) = await NodeProcess.Cli("intent", "applied", "--json", "--management", mgmt);
        return code == 0 ? JsonNode.Parse(text)!["version"]!.GetValue<long>() : -1;
    }
}
