using System.Text.Json.Nodes;
using Fabric.Tests.DataPlane.Io;
using Fabric.Tests.Support;
using Xunit.Abstractions;

namespace Fabric.Tests.Node;

/// <summary>
/// Chaos: a network partition. Three `fabric-node` processes, each in its own network namespace,
/// joined by a bridge in a fourth; node-3's link to the bridge is taken down. The split-brain
/// resolver keeps the majority (node-1, node-2), which goes on committing changes; node-3 is
/// downed and its process exits; after the link is healed a restarted node-3 rejoins and catches up.
/// </summary>
public class PartitionTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    private const int RemotingPort = 4053;
    private const string Management = "127.0.0.1:8558"; // each namespace has its own loopback

    [Fact]
    public async Task The_majority_keeps_the_cluster_the_minority_exits_and_rejoins_after_healing()
    {
        HostTools.Require("curl", "curl");
        using var dir = new TempDir();
        using var bridge = new TestNamespace("fpt-br");
        bridge.Ip("link add br0 type bridge");
        bridge.Ip("link set br0 up");
        var spaces = new List<TestNamespace>();
        var nodes = new NodeProcess?[3];
        try
        {
            for (var k = 1; k <= 3; k++)
            {
                var ns = new TestNamespace($"fpt-n{k}");
                spaces.Add(ns);
                HostTools.Ip($"link add eth0 netns {ns.Name} type veth peer name p{k} netns {bridge.Name}");
                ns.Ip($"addr add {Address(k)}/24 dev eth0");
                ns.Ip("link set eth0 up");
                ns.Ip("link set lo up");
                bridge.Ip($"link set p{k} master br0");
                bridge.Ip($"link set p{k} up");
            }

            var first = Path.Combine(dir.Path, "first.yaml");
            await File.WriteAllTextAsync(first, Intents.WithTenant("blue", 100, "node-1", "node-2", "node-3"));
            string[] Args(int k) =>
            [
                "run", "--name", $"node-{k}", "--host", Address(k), "--port", $"{RemotingPort}", "--management", Management,
                "--data", dir.Sub($"n{k}"), "--intent", k == 1 ? first : "none",
                .. k == 1 ? Array.Empty<string>() : ["--seed", $"{Address(1)}:{RemotingPort}"],
            ];
            NodeProcess Start(int k) => nodes[k - 1] = NodeProcess.StartIn(spaces[k - 1].Name, Args(k));

            Start(1);
            await Eventually.Holds(() => Task.FromResult(Applied(spaces[0]) == 1), Wait, "node-1 commits its start intent");
            Start(2);
            Start(3);
            await Eventually.Holds(() => Task.FromResult(UpMembers(spaces[0]).Count == 3), Wait, "three members Up");
            await Eventually.Holds(() => Task.FromResult(Applied(spaces[2]) == 1), Wait, "node-3 runs intent version 1");

            // Partition node-3 away from the others.
            bridge.Ip("link set p3 down");
            var partitioned = DateTime.UtcNow;
            await Eventually.Holds(() => Task.FromResult(UpMembers(spaces[0]) is { Count: 2 } up && !up.Any(a => a.Contains($"@{Address(3)}:"))), Wait,
                "the majority removed node-3");
            output.WriteLine($"majority without node-3 after {(DateTime.UtcNow - partitioned).TotalSeconds:F1} s");
            var exit = await nodes[2]!.WaitForExitAsync(Wait);
            Assert.True(exit is not null, "the downed minority node-3 did not exit");
            Assert.Equal(3, exit); // downed by the cluster: non-zero, so an init system restarts it
            output.WriteLine($"node-3 exited with {exit} after {(DateTime.UtcNow - partitioned).TotalSeconds:F1} s");

            // The majority still takes changes.
            var token = (await File.ReadAllTextAsync(Path.Combine(dir.Sub("n1"), "token"))).Trim();
            var change = Path.Combine(dir.Path, "change.yaml");
            await File.WriteAllTextAsync(change, Intents.WithTenant("blue", 101, "node-1", "node-2", "node-3"));
            var posted = Curl(spaces[0], $"-X POST -H 'Authorization: Bearer {token}' -H 'Content-Type: application/yaml' --data-binary @{change} http://{Management}/changes");
            Assert.Contains("\"changeId\"", posted);
            await Eventually.Holds(() => Task.FromResult(Applied(spaces[0]) == 2 && Applied(spaces[1]) == 2), Wait,
                "the majority commits version 2");

            // Heal; node-3 restarted (as its init system would) rejoins and catches up.
            bridge.Ip("link set p3 up");
            nodes[2]!.Dispose();
            Start(3);
            await Eventually.Holds(() => Task.FromResult(UpMembers(spaces[0]).Count == 3), Wait, "node-3 rejoined");
            await Eventually.Holds(() => Task.FromResult(Applied(spaces[2]) == 2), Wait, "node-3 runs intent version 2");
        }
        catch
        {
            for (var k = 0; k < 3; k++) output.WriteLine($"--- node-{k + 1} ---\n{nodes[k]?.Output}");
            throw;
        }
        finally
        {
            foreach (var node in nodes) node?.Dispose();
            foreach (var ns in spaces) ns.Dispose();
        }
    }

    private static string Address(int k) => $"10.231.0.{10 + k}";

    private static string Curl(TestNamespace ns, string arguments)
    {
        var result = ns.Exec("/bin/sh", $"-c \"curl -s -m 10 {arguments.Replace("\"", "\\\"")}\"");
        return result.ExitCode == 0 ? result.Stdout : "";
    }

    private static long Applied(TestNamespace ns) =>
        JsonNode.Parse(Curl(ns, $"http://{Management}/intent/applied") is { Length: > 0 } s ? s : "{}")?["version"]?.GetValue<long>() ?? -1;

    private static List<string> UpMembers(TestNamespace ns)
    {
        var body = Curl(ns, $"http://{Management}/cluster/members");
        if (body.Length == 0) return [];
        return JsonNode.Parse(body)!["members"]!.AsArray()
            .Where(m => m!["status"]!.ToString() == "Up")
            .Select(m => m!["node"]!.ToString()) // the member's address, akka.tcp://fabric@HOST:PORT
            .ToList();
    }
}
