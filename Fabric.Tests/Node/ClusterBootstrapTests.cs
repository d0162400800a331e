using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Fabric.Tests.Support;
using Xunit.Abstractions;

namespace Fabric.Tests.Node;

/// <summary>
/// Cluster Bootstrap with config discovery: three `fabric-node run` processes given the same list
/// of Akka.Management contact points and no seed form one cluster; Akka.Management answers
/// /alive and /ready on its own port (the Fabric API's + 10000 when not given).
/// </summary>
public class ClusterBootstrapTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Three_processes_with_config_discovery_form_one_cluster_without_seeds()
    {
        using var dir = new TempDir();
        var fabricApis = new[] { PortPair(), PortPair(), PortPair() };
        var contactPoints = fabricApis.Select(p => $"127.0.0.1:{p + 10_000}").ToArray();
        var nodes = new List<NodeProcess>();
        try
        {
            var stopwatch = Stopwatch.StartNew();
            for (var i = 0; i < 3; i++)
            {
                var args = new List<string>
                {
                    "run", "--name", $"node-{i + 1}", "--port", $"{NodeProcess.FreeTcpPort()}", "--management", $"127.0.0.1:{fabricApis[i]}",
                    "--data", dir.Sub($"n{i + 1}"), "--intent", "none", "--roles", "fabric",
                };
                foreach (var c in contactPoints) args.AddRange(["--discovery", c]);
                nodes.Add(NodeProcess.Start([.. args]));
            }
            foreach (var api in fabricApis)
                await Eventually.Holds(async () => await UpCount(api) == 3, Wait, $"the node at {api} sees 3 members Up");
            output.WriteLine($"3 members Up on every node {stopwatch.ElapsedMilliseconds} ms after the starts");
            foreach (var n in nodes)
                output.WriteLine(string.Join("\n", n.Output.Split('\n').Where(l => l.Contains("Akka.Management HTTP on") || l.Contains("self-joining") || l.Contains("Joining"))));

            // One cluster: every node names the same leader and the same three members.
            var views = await Task.WhenAll(fabricApis.Select(Members));
            Assert.Single(views.Select(v => v["leader"]!.ToString()).Distinct());
            Assert.Single(views.Select(v => string.Join(",", v["members"]!.AsArray().Select(m => m!["node"]!.ToString()).Order())).Distinct());

            // Akka.Management's own server: /alive, /ready with the node's health; /bootstrap/seed-nodes.
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            foreach (var c in contactPoints)
            {
                Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"http://{c}/alive")).StatusCode);
                await Eventually.Holds(async () => (await http.GetAsync($"http://{c}/ready")).StatusCode == HttpStatusCode.OK, Wait, $"{c}/ready 200");
                var ready = JsonNode.Parse(await http.GetStringAsync($"http://{c}/ready"))!;
                Assert.Equal("Up", ready["member"]!.ToString());
                Assert.True(ready["configStore"]!.GetValue<bool>());
                // Akka.Management's JSON (its types, Newtonsoft): the three members as seed nodes.
                var seeds = JsonNode.Parse(await http.GetStringAsync($"http://{c}/bootstrap/seed-nodes"))!;
                Assert.Equal(3, seeds["Nodes"]!.AsArray().Count);
                Assert.Equal("127.0.0.1", seeds["SelfNode"]!["Host"]!.ToString());
            }
            Assert.All(nodes, n => Assert.Contains("Cluster Bootstrap: config discovery of", n.Output));
            Assert.All(nodes, n => Assert.DoesNotContain("--seed", n.Output));
        }
        catch
        {
            for (var i = 0; i < nodes.Count; i++) output.WriteLine($"--- node-{i + 1} ---\n{nodes[i].Output}");
            throw;
        }
        finally
        {
            foreach (var n in nodes) n.Dispose();
        }
    }

    [Fact]
    public async Task Two_nodes_that_differ_only_in_management_get_different_Akka_Management_ports_and_a_seed_still_joins()
    {
        using var dir = new TempDir();
        var (api1, api2) = (PortPair(), PortPair());
        var port1 = NodeProcess.FreeTcpPort();
        using var node1 = NodeProcess.Start("run", "--name", "node-1", "--port", $"{port1}", "--management", $"127.0.0.1:{api1}", "--data", dir.Sub("n1"), "--intent", "none");
        using var node2 = NodeProcess.Start("run", "--name", "node-2", "--port", $"{NodeProcess.FreeTcpPort()}", "--seed", $"127.0.0.1:{port1}",
            "--management", $"127.0.0.1:{api2}", "--data", dir.Sub("n2"));
        try
        {
            await Eventually.Holds(async () => await UpCount(api1) == 2 && await UpCount(api2) == 2, Wait, "both Up through --seed");
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            foreach (var api in new[] { api1, api2 })
                await Eventually.Holds(async () => (await http.GetAsync($"http://127.0.0.1:{api + 10_000}/ready")).IsSuccessStatusCode, Wait, $"/ready on {api + 10_000}");
            Assert.Contains($"Akka.Management HTTP on http://127.0.0.1:{api1 + 10_000}", node1.Output);
            Assert.Contains($"Akka.Management HTTP on http://127.0.0.1:{api2 + 10_000}", node2.Output);
        }
        catch
        {
            output.WriteLine("--- node-1 ---\n" + node1.Output);
            output.WriteLine("--- node-2 ---\n" + node2.Output);
            throw;
        }
    }

    [Fact]
    public async Task Discovery_without_a_fixed_Akka_Management_port_or_with_seeds_is_refused_at_start()
    {
        var (code, text) = await NodeProcess.Cli("run", "--management", "127.0.0.1:60000", "--discovery", "127.0.0.1:18558", "--data", "/nonexistent-fabric");
        Assert.Equal(2, code);
        Assert.Contains("--akka-management", text);
        (code, text) = await NodeProcess.Cli("run", "--seed", "127.0.0.1:4053", "--discovery", "127.0.0.1:18558", "--data", "/nonexistent-fabric");
        Assert.Equal(2, code);
        Assert.Contains("exclude each other", text);
    }

    /// <summary>A free port for the Fabric API whose +10000 (Akka.Management's derived port) is free too.</summary>
    internal static int PortPair()
    {
        for (var attempt = 0; attempt < 200; attempt++)
        {
            var port = Random.Shared.Next(20_000, 55_000);
            if (Free(port) && Free(port + 10_000)) return port;
        }
        throw new InvalidOperationException("no free port pair found");
    }

    private static bool Free(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static async Task<JsonNode> Members(int api)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        return JsonNode.Parse(await http.GetStringAsync($"http://127.0.0.1:{api}/cluster/members"))!;
    }

    private static async Task<int> UpCount(int api)
    {
        try
        {
            return (await Members(api))["members"]!.AsArray().Count(m => m!["status"]!.ToString() == "Up");
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return 0;
        }
    }
}
