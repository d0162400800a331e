using System.Text.Json.Nodes;
using Fabric.Tests.DataPlane.Io;
using Fabric.Tests.Support;
using Xunit.Abstractions;

namespace Fabric.Tests.Pseudowire;

/// <summary>
/// An attachment circuit whose TAP names a namespace that does not exist yet: the PE lists the
/// circuit as restarting with the reason, retries with backoff, and opens the device there once
/// the namespace appears (the PE keeps running meanwhile).
/// </summary>
public class PwAttachmentNamespaceTests(ITestOutputHelper output)
{
    private static string Intent(string tap, string netns) => $$"""
        version: 1
        nodes:
          - name: node-a
            roles: [fabric, ghost-shadow]
        pes:
          - { name: pe1, node: node-a, routerId: 10.255.2.1, attachmentCircuits: [ { name: ce1, port: { kind: tap, name: {{tap}}, namespace: {{netns}} } } ] }
        """;

    [Fact]
    public async Task A_circuit_in_a_namespace_that_does_not_exist_is_retried_with_backoff_and_opens_there_once_it_exists()
    {
        HostTools.RequireRoot();
        var ip = HostTools.Require("ip", "iproute2");
        var tap = $"pn{Environment.ProcessId % 100000}a";
        var netns = $"fpe-late-{Environment.ProcessId}";
        using var dir = new TempDir();
        await using var node = await TestNode.StartAsync("node-a", dir.Sub("a"));
        try
        {
            await Eventually.Holds(async () => await node.UpCount() == 1, TimeSpan.FromSeconds(45), "node-a Up");
            var id = await node.Propose(Intent(tap, netns));
            await Eventually.Holds(async () => await node.ChangeStatus(id) is "committed" or "rejected", TimeSpan.FromSeconds(45), "change decided");
            Assert.Equal("committed", await node.ChangeStatus(id));

            await Eventually.Holds(async () => await Circuit(node) is { } c && c["portState"]!.ToString() == "restarting", TimeSpan.FromSeconds(20), "the circuit is restarting");
            var failing = (await Circuit(node))!;
            output.WriteLine(failing.ToJsonString());
            Assert.Contains($"network namespace '{netns}' does not exist", failing["lastError"]!.ToString());

            HostTools.Ip($"netns add {netns}");
            await Eventually.Holds(async () => await Circuit(node) is { } c && c["portState"]!.ToString() != "restarting", TimeSpan.FromSeconds(15), "the circuit opened once the namespace exists");
            output.WriteLine((await Circuit(node))!.ToJsonString());
            Assert.True(HostTools.Run(ip, $"-n {netns} link show {tap}").ExitCode == 0, "the device was created in the named namespace");
            Assert.False(HostTools.Run(ip, $"link show {tap}").ExitCode == 0, "and not in the node's");
        }
        finally
        {
            HostTools.Run(ip, $"netns del {netns}");
        }
    }

    private static async Task<JsonNode?> Circuit(TestNode node)
    {
        try
        {
            return (await node.Get("/pes/pe1"))["pe"]?["attachmentCircuits"]?.AsArray().FirstOrDefault(a => a!["name"]!.ToString() == "ce1");
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }
}
