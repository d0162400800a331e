using System.Text.Json.Nodes;
using Fabric.Tests.Support;
using Xunit.Abstractions;

namespace Fabric.Tests.Node;

/// <summary>
/// <c>--intent FILE</c> on the first node of a cluster still forming: the file names PEs on two
/// nodes, the second node starts seconds later. The proposal waits for it (<c>intent-file-wait</c>)
/// instead of being rejected by the ghost copy for a node that is down, and commits on both.
/// </summary>
public class IntentFileWaitTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task An_intent_file_naming_a_node_not_yet_joined_is_proposed_once_it_is_up_and_commits()
    {
        using var dir = new TempDir();
        var underlay = UnderlayAddresses.Next(2);
        var (port1, port2) = (NodeProcess.FreeTcpPort(), NodeProcess.FreeTcpPort());
        var (mgmt1, mgmt2) = ($"127.0.0.1:{NodeProcess.FreeTcpPort()}", $"127.0.0.1:{NodeProcess.FreeTcpPort()}");
        var intent = dir.Sub("intent.yaml");
        await File.WriteAllTextAsync(intent, $$"""
            version: 1
            nodes:
              - { name: node-1, address: {{underlay[0]}}, roles: [fabric, ghost-shadow] }
              - { name: node-2, address: {{underlay[1]}}, roles: [fabric, ghost-shadow] }
            tenants:
              - { name: blue, vni: 100 }
            pes:
              - { name: pe1, node: node-1, routerId: 10.255.41.1, attachmentCircuits: [ { name: ce1, port: { kind: simulated, name: ce1 } } ] }
              - { name: pe2, node: node-2, routerId: 10.255.41.2, attachmentCircuits: [ { name: ce2, port: { kind: simulated, name: ce2 } } ] }
            pws:
              - { name: pw1-1, pe: pe1, remotePe: pe2, localLabel: 1401, remoteLabel: 2401 }
              - { name: pw1-2, pe: pe1, remotePe: pe2, localLabel: 1402, remoteLabel: 2402 }
              - { name: pw2-1, pe: pe2, remotePe: pe1, localLabel: 2401, remoteLabel: 1401 }
              - { name: pw2-2, pe: pe2, remotePe: pe1, localLabel: 2402, remoteLabel: 1402 }
            trunks:
              - { name: t1, pe: pe1, attachmentCircuit: ce1, members: [pw1-1, pw1-2] }
              - { name: t2, pe: pe2, attachmentCircuit: ce2, members: [pw2-1, pw2-2] }
            """);
        using var node1 = NodeProcess.Start("run", "--name", "node-1", "--port", $"{port1}", "--management", mgmt1, "--data", dir.Sub("n1"), "--intent", intent);
        NodeProcess? node2 = null;
        try
        {
            await Eventually.Holds(() => Task.FromResult(node1.Output.Contains("names 2 node(s); waiting", StringComparison.Ordinal)), Wait, "node-1 waiting for node-2");
            await Task.Delay(3000); // node-2 is late: nothing is proposed meanwhile
            Assert.DoesNotContain("Proposed ", node1.Output, StringComparison.Ordinal);
            node2 = NodeProcess.Start("run", "--name", "node-2", "--port", $"{port2}", "--seed", $"127.0.0.1:{port1}", "--management", mgmt2, "--data", dir.Sub("n2"));
            await Eventually.Holds(async () => await Applied(mgmt1) == 1 && await Applied(mgmt2) == 1, Wait, "the intent file committed and applied on both nodes");
            Assert.DoesNotContain("rejected", node1.Output, StringComparison.Ordinal);
        }
        catch
        {
            output.WriteLine("--- node-1 ---\n" + node1.Output);
            output.WriteLine("--- node-2 ---\n" + node2?.Output);
            throw;
        }
        finally
        {
            node2?.Dispose();
        }
    }

    private static async Task<long> Applied(string mgmt)
    {
        var (code, text) = await NodeProcess.Cli("intent", "applied", "--json", "--management", mgmt);
        return code == 0 ? JsonNode.Parse(text)!["version"]!.GetValue<long>() : -1;
    }
}
