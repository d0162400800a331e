using System.Text.Json.Nodes;
using Fabric.Tests.Support;
using Xunit.Abstractions;

namespace Fabric.Tests.Ghost;

/// <summary>
/// Ghost verification across nodes: each ghost-shadow node runs the ghost copies of its own
/// elements, ghost PWs cross the real underlay between the nodes (UDP 6636, apart from main's
/// 6635), and a change that needs a node that is down is rejected naming it.
/// </summary>
public sealed class GhostTwoNodeTests(ITestOutputHelper output)
{
    /// <summary>This test's own underlay addresses (see <see cref="UnderlayAddresses"/>).</summary>
    private readonly string[] _underlay = UnderlayAddresses.Next(3);

    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(40);

    private string Intent(bool secondTrunkMember) => $$"""
        version: 1
        nodes:
          - { name: node-1, address: {{_underlay[0]}}, roles: [fabric, ghost-shadow] }
          - { name: node-2, address: {{_underlay[1]}}, roles: [fabric, ghost-shadow] }
        pes:
          - { name: pe-1, node: node-1, routerId: 10.255.7.1, attachmentCircuits: [ { name: ce1, port: { kind: simulated, name: ce1 } } ] }
          - { name: pe-2, node: node-2, routerId: 10.255.7.2, attachmentCircuits: [ { name: ce2, port: { kind: simulated, name: ce2 } } ] }
        pws:
          - { name: pw-12a, pe: pe-1, remotePe: pe-2, localLabel: 7101, remoteLabel: 7201 }
          - { name: pw-12b, pe: pe-1, remotePe: pe-2, localLabel: 7102, remoteLabel: 7202 }
          - { name: pw-21a, pe: pe-2, remotePe: pe-1, localLabel: 7201, remoteLabel: 7101 }
          - { name: pw-21b, pe: pe-2, remotePe: pe-1, localLabel: 7202, remoteLabel: 7102 }
        {{(secondTrunkMember ? """
          - { name: pw-12c, pe: pe-1, remotePe: pe-2, localLabel: 7103, remoteLabel: 7203 }
          - { name: pw-21c, pe: pe-2, remotePe: pe-1, localLabel: 7203, remoteLabel: 7103 }
        """ : "")}}
        trunks:
          - { name: t1, pe: pe-1, attachmentCircuit: ce1, members: [pw-12a, pw-12b{{(secondTrunkMember ? ", pw-12c" : "")}}] }
          - { name: t2, pe: pe-2, attachmentCircuit: ce2, members: [pw-21a, pw-21b{{(secondTrunkMember ? ", pw-21c" : "")}}] }
        checks:
          - name: ce1-to-ce2
            from: { attachmentCircuit: pe-1/ce1, address: 10.77.0.1 }
            to: { attachmentCircuit: pe-2/ce2, address: 10.77.0.2, protocol: udp, port: 5000 }
            expect: reach
        """;

    [Fact]
    public async Task A_pw_trunk_between_two_nodes_is_verified_with_ghost_pws_over_the_real_underlay_and_a_change_needing_a_down_node_is_rejected_naming_it()
    {
        using var dir = new TempDir();
        await using var n1 = await TestNode.StartAsync("node-1", dir.Sub("n1"));
        var n2 = await TestNode.StartAsync("node-2", dir.Sub("n2"), seeds: [n1.Seed]);
        try
        {
            await Eventually.Holds(async () => await n1.UpCount() == 2, Wait, "two members up");
            var change = await ProposeAndDecide(n1, Intent(secondTrunkMember: false));
            Assert.Equal("committed", change["status"]!.ToString());
            var placement = change["placement"]!.AsArray().Select(p => p!.ToString()).ToList();
            Assert.Contains("pe pe-1 (node node-1): ghost copy ran on node-1", placement);
            Assert.Contains("pe pe-2 (node node-2): ghost copy ran on node-2", placement);
            // The check's probe crossed from node-1's ghost PE to node-2's over the ghost underlay.
            var diff = change["diff"]!.AsArray().First(d => d!["probe"]!.ToString().StartsWith("ce1-to-ce2"))!;
            Assert.Equal("delivered at ce2@node-2", diff["after"]!.ToString());
        }
        finally
        {
            await n2.DisposeAsync();
        }

        await Eventually.Holds(async () => await n1.UpCount() == 1, Wait, "node-2 gone");
        var rejected = await ProposeAndDecide(n1, Intent(secondTrunkMember: true));
        Assert.Equal("rejected", rejected["status"]!.ToString());
        var findings = rejected["findings"]!.AsArray();
        Assert.Contains(findings, f => f!["check"]!.ToString() == "ghost-placement" && f["reason"]!.ToString().Contains("node node-2, which is down"));
        Assert.Contains(rejected["placement"]!.AsArray(), p => p!.ToString() == "pe pe-2 (node node-2): no ghost copy (node down)");
        Assert.Equal(1, await n1.IntentVersion());
    }

    private Task<JsonNode> ProposeAndDecide(TestNode node, string document) => node.ProposeAndDecide(document, output);
}
