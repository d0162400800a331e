using System.Net.Sockets;
using System.Text.Json.Nodes;
using Fabric.Tests.Support;
using Xunit.Abstractions;

namespace Fabric.Tests.Node;

/// <summary>
/// Akka remoting over mutual TLS between real `fabric-node` processes: nodes whose certificates
/// chain to the cluster's CA form a cluster; a node with another CA's certificate, or with none,
/// cannot join, and the refusal is logged as a warning.
/// </summary>
public class RemotingTlsTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Nodes_with_the_clusters_CA_form_a_cluster_and_a_node_without_it_cannot_join()
    {
        using var dir = new TempDir();
        var pki = new TestPki(dir.Sub("pki"), "fabric-ca");
        var rogue = new TestPki(dir.Sub("rogue"), "rogue-ca");
        var ports = Enumerable.Range(0, 4).Select(_ => NodeProcess.FreeTcpPort()).ToArray();
        var mgmt = Enumerable.Range(0, 4).Select(_ => $"127.0.0.1:{NodeProcess.FreeTcpPort()}").ToArray();
        string[] Args(int i, TestPki? ca, TestPki? issuer)
        {
            string[] run = ["run", "--name", $"node-{i + 1}", "--port", $"{ports[i]}", "--management", mgmt[i], "--data", dir.Sub($"n{i + 1}"), "--intent", "none"];
            string[] seed = i == 0 ? [] : ["--seed", $"127.0.0.1:{ports[0]}"];
            if (ca is null || issuer is null) return [.. run, .. seed];
            var (cert, key) = issuer.Issue($"node-{i + 1}");
            return [.. run, .. seed, "--remoting-cert", cert, "--remoting-key", key, "--remoting-ca", ca.CaFile];
        }

        var nodes = new List<NodeProcess>();
        try
        {
            nodes.Add(NodeProcess.Start(Args(0, pki, pki)));
            nodes.Add(NodeProcess.Start(Args(1, pki, pki)));
            await Eventually.Holds(async () => await UpCount(mgmt[0]) == 2 && await UpCount(mgmt[1]) == 2, Wait,
                "node-1 and node-2 Up over TLS");

            nodes.Add(NodeProcess.Start(Args(2, pki, rogue))); // trusts our CA, but its certificate is the rogue CA's
            nodes.Add(NodeProcess.Start(Args(3, null, null))); // plain TCP
            await Eventually.Holds(() => Task.FromResult(nodes[0].Output.Contains("'CN=node-3' does not chain to --remoting-ca")), Wait,
                "node-1 logs the refused certificate");
            await Task.Delay(TimeSpan.FromSeconds(10));
            Assert.Equal(2, await UpCount(mgmt[0]));
            Assert.Equal(2, (await Members(mgmt[0])).Count);
            Assert.True(await UpCount(mgmt[2]) <= 0, "node-3 (rogue certificate) is not a member of a cluster");
            Assert.True(await UpCount(mgmt[3]) <= 0, "node-4 (no TLS) is not a member of a cluster");

            // Whatever comes to the TLS port, nothing logs a stack trace.
            using (var garbage = new TcpClient())
            {
                await garbage.ConnectAsync("127.0.0.1", ports[0]);
                await garbage.GetStream().WriteAsync(System.Text.Encoding.ASCII.GetBytes("GET / HTTP/1.0\r\n\r\n"));
                await Task.Delay(1000);
            }
            Assert.Equal(2, await UpCount(mgmt[0]));
            await Eventually.Holds(() => Task.FromResult(nodes[0].Output.Contains("did not speak Akka remoting")), Wait,
                "node-1 reports the foreign connections in one warning line");
            Assert.DoesNotContain("\n   at ", nodes[0].Output);
            Assert.DoesNotContain("[ERROR]", nodes[0].Output);
        }
        catch
        {
            for (var i = 0; i < nodes.Count; i++) output.WriteLine($"--- node-{i + 1} ---\n{nodes[i].Output}");
            throw;
        }
        finally
        {
            foreach (var node in nodes) node.Dispose();
        }
    }

    private static async Task<JsonArray> Members(string mgmt)
    {
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://{mgmt}"), Timeout = TimeSpan.FromSeconds(5) };
            return JsonNode.Parse(await http.GetStringAsync("/cluster/members"))!["members"]!.AsArray();
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return [];
        }
    }

    private static async Task<int> UpCount(string mgmt) =>
        (await Members(mgmt)).Count(m => m!["status"]!.ToString() == "Up");
}
