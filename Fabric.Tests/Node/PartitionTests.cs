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
/// Meanwhile real traffic crosses the majority: CE1 (a namespace holding PE1's TAP, on node-1)
/// pings CE2 (PE2's, on node-2) every 50 ms over a two-PW trunk whose underlay is the bridge.
/// </summary>
[Collection("pw-traffic")]
public class PartitionTests(ITestOutputHelper output)
{
    /// <summary>
    /// Pings the partition window may lose: the one still in flight when ping is stopped (it
    /// counts it as lost) and one more for a scheduling hiccup on a shared 2-core machine. The data
    /// plane of the majority does not depend on membership, so nothing else may be lost.
    /// </summary>
    private const int LossAllowed = 2;

    private static string Intent(uint vni, string tap1, string ce1, string tap2, string ce2) => $$"""
        version: 1
        nodes:
          - { name: node-1, address: {{Address(1)}}, roles: [fabric, ghost-shadow] }
          - { name: node-2, address: {{Address(2)}}, roles: [fabric, ghost-shadow] }
          - { name: node-3, address: {{Address(3)}}, roles: [fabric, ghost-shadow] }
        tenants:
          - { name: blue, vni: {{vni}} }
        pes:
          - { name: pe1, node: node-1, routerId: 10.255.31.1, attachmentCircuits: [ { name: ce1, port: { kind: tap, name: {{tap1}}, namespace: {{ce1}} } } ] }
          - { name: pe2, node: node-2, routerId: 10.255.31.2, attachmentCircuits: [ { name: ce2, port: { kind: tap, name: {{tap2}}, namespace: {{ce2}} } } ] }
        pws:
          - { name: pw1-1, pe: pe1, remotePe: pe2, localLabel: 1301, remoteLabel: 2301 }
          - { name: pw1-2, pe: pe1, remotePe: pe2, localLabel: 1302, remoteLabel: 2302 }
          - { name: pw2-1, pe: pe2, remotePe: pe1, localLabel: 2301, remoteLabel: 1301 }
          - { name: pw2-2, pe: pe2, remotePe: pe1, localLabel: 2302, remoteLabel: 1302 }
        trunks:
          - { name: t1, pe: pe1, attachmentCircuit: ce1, members: [pw1-1, pw1-2], minActive: 1 }
          - { name: t2, pe: pe2, attachmentCircuit: ce2, members: [pw2-1, pw2-2], minActive: 1 }
        """;

    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    private const int RemotingPort = 4053;
    private const string Management = "127.0.0.1:8558"; // each namespace has its own loopback

    [Fact]
    public async Task The_majority_keeps_the_cluster_and_its_traffic_the_minority_exits_and_rejoins_after_healing()
    {
        HostTools.Require("curl", "curl");
        var ping = HostTools.Require("ping", "iputils-ping");
        var pid = Environment.ProcessId % 100000;
        string tap1 = $"fpa{pid}", tap2 = $"fpb{pid}";
        using var dir = new TempDir();
        using var ce1 = new TestNamespace("fpt-ce1");
        using var ce2 = new TestNamespace("fpt-ce2");
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

            // PE1 on node-1, PE2 on node-2 (proposed once both are members: ghost verification
            // refuses PEs on a node that is not up).
            var token = (await File.ReadAllTextAsync(Path.Combine(dir.Sub("n1"), "token"))).Trim();
            Propose(spaces[0], token, Path.Combine(dir.Path, "pes.yaml"), Intent(100, tap1, ce1.Name, tap2, ce2.Name));
            await Eventually.Holds(() => Task.FromResult(Applied(spaces[0]) == 2 && Applied(spaces[1]) == 2 && Applied(spaces[2]) == 2), Wait,
                "every node runs version 2 (the PEs)");
            foreach (var (ce, tap, address) in new[] { (ce1, tap1, "10.232.0.1"), (ce2, tap2, "10.232.0.2") })
            {
                await Eventually.Holds(() => HostTools.Run("ip", $"-n {ce.Name} link show {tap}").ExitCode == 0, Wait, $"{tap} created in {ce.Name}");
                ce.Ip($"addr add {address}/24 dev {tap}");
                ce.Ip("link set lo up");
            }
            await Eventually.Holds(() => ce1.Exec(ping, "-c 1 -W 1 10.232.0.2", 5000).ExitCode == 0, Wait, "CE1 pings CE2 across the majority");

            // Partition node-3 away from the others, with CE1 pinging CE2 all the while.
            using var during = PingWindow.Start(ce1.Name, ping, "10.232.0.2");
            await Eventually.Holds(() => during.Replies >= 20, TimeSpan.FromSeconds(10), "pings flowing before the partition");
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
            Propose(spaces[0], token, Path.Combine(dir.Path, "change.yaml"), Intent(101, tap1, ce1.Name, tap2, ce2.Name));
            await Eventually.Holds(() => Task.FromResult(Applied(spaces[0]) == 3 && Applied(spaces[1]) == 3), Wait,
                "the majority commits version 3");

            // The majority's traffic went on through the partition, the downing and the change ...
            var window = await during.StopAsync();
            output.WriteLine($"CE1 -> CE2 during the partition ({(DateTime.UtcNow - partitioned).TotalSeconds:F1} s from link down to version 3 " +
                             $"on the majority): {window}");
            Assert.True(window.Lost <= LossAllowed, $"{window.Lost} pings lost while node-3 was partitioned and downed ({window.Summary})");
            // ... and goes on with the minority gone.
            using var after = PingWindow.Start(ce1.Name, ping, "10.232.0.2", maxPings: 40);
            await Eventually.Holds(() => after.Replies >= 38, TimeSpan.FromSeconds(10), "pings flowing after node-3 exited");
            var afterExit = await after.StopAsync();
            output.WriteLine($"CE1 -> CE2 after node-3 exited: {afterExit}");
            Assert.True(afterExit.Lost <= LossAllowed, $"{afterExit.Lost} pings lost after node-3 exited ({afterExit.Summary})");

            // Heal; node-3 restarted (as its init system would) rejoins and catches up, the
            // majority's traffic untouched by the membership change.
            using var rejoin = PingWindow.Start(ce1.Name, ping, "10.232.0.2");
            bridge.Ip("link set p3 up");
            nodes[2]!.Dispose();
            var healed = DateTime.UtcNow;
            Start(3);
            await Eventually.Holds(() => Task.FromResult(UpMembers(spaces[0]).Count == 3), Wait, "node-3 rejoined");
            await Eventually.Holds(() => Task.FromResult(Applied(spaces[2]) == 3), Wait, "node-3 runs intent version 3");
            var rejoined = await rejoin.StopAsync();
            output.WriteLine($"CE1 -> CE2 while node-3 rejoined ({(DateTime.UtcNow - healed).TotalSeconds:F1} s from heal to node-3 running version 3): " +
                             $"{rejoined}");
            Assert.True(rejoined.Lost <= LossAllowed, $"{rejoined.Lost} pings lost while node-3 rejoined ({rejoined.Summary})");
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

    private static void Propose(TestNamespace ns, string token, string file, string document)
    {
        File.WriteAllText(file, document);
        var posted = Curl(ns, $"-X POST -H 'Authorization: Bearer {token}' -H 'Content-Type: application/yaml' --data-binary @{file} http://{Management}/changes");
        Assert.Contains("\"changeId\"", posted);
    }

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
