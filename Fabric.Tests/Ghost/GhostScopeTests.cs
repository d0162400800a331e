using System.Text.Json.Nodes;
using Fabric.Tests.Support;
using Xunit.Abstractions;

namespace Fabric.Tests.Ghost;

/// <summary>
/// Scoped verification end to end (a whole node: config store, guardian, ghost-shadow): a change
/// is verified with the probes of what it can affect, and what is linked to the changed element
/// is among them, so a change that breaks an element it did not itself touch is still rejected.
/// </summary>
public sealed class GhostScopeTests(ITestOutputHelper output)
{
    private const string Pw2 = "- { name: pw-2, pe: pe-b, remotePe: pe-a, localLabel: 201, remoteLabel: 101 }";

    [Fact]
    public async Task A_one_pw_change_is_verified_with_its_two_trunks_probes_and_one_that_keeps_its_peer_pw_down_is_rejected_at_the_peers_trunk()
    {
        using var dir = new TempDir();
        await using var node = await TestNode.StartAsync("node-1", dir.Sub("n1"));
        await Eventually.Holds(async () => await node.UpCount() == 1, GhostChanges.Wait, "node Up");
        var good = GhostIntents.TwoCustomers(crossConnected: false);
        Assert.Contains(Pw2, good);
        var first = await node.ProposeAndDecide(good, output);
        Assert.Equal("committed", first["status"]!.ToString());
        // The first intent probes everything: 4 trunks x 32 flows and the 2 declared checks.
        Assert.Contains(Progress(first), p => p.StartsWith("scope: everything (130 probe(s))"));
        Assert.Contains(Progress(first), p => p == "probes sent: 130 on the proposal");

        // One PW's weight: its trunk t2, and t1 on the other PE whose member pw-1 it answers.
        var weighted = await node.ProposeAndDecide(good.Replace(Pw2, Pw2.Replace("remoteLabel: 101 }", "remoteLabel: 101, weight: 2 }")), output);
        Assert.Equal("committed", weighted["status"]!.ToString());
        Assert.Contains(Progress(weighted), p => p.StartsWith("scope: 1 changed element(s) (pw:pw-2): 66 of 130 probe(s)"));
        Assert.Contains(Progress(weighted), p => p == "probes sent: 66 on the proposal");
        Assert.Contains(Progress(weighted), p => p == "baseline: 66 probe(s) on the ghost copy of main (version 1)");

        // pw-2 without a control word carries no BFD (RFC 5885 runs it on the associated channel):
        // pw-1 on pe-a, an element the change does not touch, never comes up, and trunk t1 says so.
        var broken = await node.ProposeAndDecide(good.Replace(Pw2, Pw2.Replace("remoteLabel: 101 }", "remoteLabel: 101, controlWord: false }")), output);
        Assert.Equal("rejected", broken["status"]!.ToString());
        Assert.Contains(Progress(broken), p => p.StartsWith("scope: 1 changed element(s) (pw:pw-2): 66 of 130 probe(s)"));
        Assert.Contains(broken["findings"]!.AsArray(), f => f!["check"]!.ToString() == "trunk-members"
            && f["reason"]!.ToString().StartsWith("member pw-1 of trunk t1 carried none", StringComparison.Ordinal));
        Assert.Equal(2, await node.IntentVersion());
    }

    private static List<string> Progress(JsonNode change) =>
        change["progress"]!.AsArray().Select(p => p!.ToString()).ToList();
}
