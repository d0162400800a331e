using Microsoft.Extensions.DependencyInjection;
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
    public async Task A_first_intent_probes_everything_a_one_pw_change_only_its_trunk_and_the_peer_trunk_it_answers_and_one_that_takes_the_peers_pw_down_is_rejected()
    {
        using var dir = new TempDir();
        await using var node = await TestNode.StartAsync("node-1", dir.Sub("n1"));
        await Eventually.Holds(async () => await node.UpCount() == 1, GhostChanges.Wait, "node Up");
        // Its own loopback address for the underlay: 127.0.0.1:6635/6636 may be another run's.
        var good = GhostIntents.TwoCustomers(crossConnected: false).Replace("address: 127.0.0.1", "address: 127.0.78.7");
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


        // pw-2 without a control word sends no BFD (it runs on the associated channel, RFC 5885):
        // pw-1 on pe-a, which the change does not touch, goes down once its detection time passes,
        // and trunk t1 (in scope: pw-2 answers its member pw-1) says so.
        var broken = await node.ProposeAndDecide(good.Replace(Pw2, Pw2.Replace("remoteLabel: 101 }", "remoteLabel: 101, controlWord: false }")), output);
        Assert.Equal("rejected", broken["status"]!.ToString());
        Assert.Contains(Progress(broken), p => p.StartsWith("scope: 1 changed element(s) (pw:pw-2): 66 of 130 probe(s)", StringComparison.Ordinal));
        Assert.Contains(broken["findings"]!.AsArray(), f => f!["check"]!.ToString() == "trunk-members"
            && f["reason"]!.ToString().StartsWith("member pw-1 of trunk t1 carried none", StringComparison.Ordinal));
        Assert.Equal(2, await node.IntentVersion());
    }

    [Fact]
    public async Task After_the_ghost_copy_went_quiet_a_change_that_takes_the_peers_pw_down_is_still_rejected_and_a_good_one_commits()
    {
        using var dir = new TempDir();
        await using var node = await TestNode.StartAsync("node-1", dir.Sub("n1"), extraHocon: "fabric.ghost.quiet-after = 1s");
        await Eventually.Holds(async () => await node.UpCount() == 1, GhostChanges.Wait, "node Up");
        var good = GhostIntents.TwoCustomers(crossConnected: false).Replace("address: 127.0.0.1", "address: 127.0.78.9");
        Assert.Equal("committed", (await node.ProposeAndDecide(good, output))["status"]!.ToString());
        var ghostPws = node.Services.GetRequiredService<Fabric.Actors.Guardian.GhostPlaneContext>().Get<Fabric.Actors.Pseudowire.PseudowireNode>()!;

        // A second after the verifier's last request the copy is quiet: ghost hellos at 16 x 50 ms.
        async Task UntilQuiet() => await Eventually.Holds(() => ghostPws.LivenessQuiet && ghostPws.Underlay!.Liveness.Stretch == 16
            && ghostPws.Pws.Values.All(p => p.IsUp && p.Liveness.TxInterval == TimeSpan.FromMilliseconds(800)), GhostChanges.Wait, "the ghost copy quiet");
        await UntilQuiet();

        // The change of the test above that takes pe-a's pw-1 down: still rejected from a quiet copy.
        var broken = await node.ProposeAndDecide(good.Replace(Pw2, Pw2.Replace("remoteLabel: 101 }", "remoteLabel: 101, controlWord: false }")), output);
        Assert.Equal("rejected", broken["status"]!.ToString());
        Assert.Contains(broken["findings"]!.AsArray(), f => f!["check"]!.ToString() == "trunk-members"
            && f["reason"]!.ToString().StartsWith("member pw-1 of trunk t1 carried none", StringComparison.Ordinal));
        // The verification made the copy fast.
        Assert.Contains(ghostPws.Pws.Values, p => p.Liveness.TxInterval == TimeSpan.FromMilliseconds(50));

        // Quiet again, a good change commits (a quiet copy's slow hellos flap nothing).
        await UntilQuiet();
        var weighted = await node.ProposeAndDecide(good.Replace(Pw2, Pw2.Replace("remoteLabel: 101 }", "remoteLabel: 101, weight: 2 }")), output);
        Assert.Equal("committed", weighted["status"]!.ToString());
        Assert.Equal(2, await node.IntentVersion());
    }

    [Fact]
    public async Task Under_a_ghost_hello_budget_that_stretches_every_ghost_pw_a_change_that_takes_the_peers_pw_down_is_still_rejected()
    {
        // 8 ghost PWs at 50 ms ask for 160 hellos/s; a ghost budget of 10 stretches them 16 x (800 ms,
        // detection 2.4 s), as thousands of ghost PWs on one node are. The PWs the change is judged
        // on do not fit in half that budget either, so they keep the stretch: the verifier must hold
        // for their 2.4 s, not the intent's 150 ms, or pw-1 still reads up when the probes run.
        using var dir = new TempDir();
        await using var node = await TestNode.StartAsync("node-1", dir.Sub("n1"), extraHocon: "fabric.pseudowire.liveness.ghost-hello-budget = 10");
        await Eventually.Holds(async () => await node.UpCount() == 1, GhostChanges.Wait, "node Up");
        var good = GhostIntents.TwoCustomers(crossConnected: false).Replace("address: 127.0.0.1", "address: 127.0.78.10");
        Assert.Equal("committed", (await node.ProposeAndDecide(good, output))["status"]!.ToString());
        var ghostPws = node.Services.GetRequiredService<Fabric.Actors.Guardian.GhostPlaneContext>().Get<Fabric.Actors.Pseudowire.PseudowireNode>()!;
        Assert.Equal(16, ghostPws.Underlay!.Liveness.Stretch);

        var broken = await node.ProposeAndDecide(good.Replace(Pw2, Pw2.Replace("remoteLabel: 101 }", "remoteLabel: 101, controlWord: false }")), output);
        Assert.Equal("rejected", broken["status"]!.ToString());
        Assert.Contains(broken["findings"]!.AsArray(), f => f!["check"]!.ToString() == "trunk-members"
            && f["reason"]!.ToString().StartsWith("member pw-1 of trunk t1 carried none", StringComparison.Ordinal));
        Assert.Equal(1, await node.IntentVersion());
    }

    [Fact]
    public async Task A_host_change_that_blocks_a_gateway_dnat_rule_it_does_not_touch_is_rejected_by_the_gateways_probe()
    {
        using var dir = new TempDir();
        await using var node = await TestNode.StartAsync("node-1", dir.Sub("n1"));
        await Eventually.Holds(async () => await node.UpCount() == 1, GhostChanges.Wait, "node Up");
        // Gateway gw-1 routes tenant blue's logical switch and forwards tcp/8080 to container web (10.1.0.10).
        var good = Switching.RouterIntents.Blue(roles: "[fabric, ghost-shadow]").Replace("address: 127.0.0.1", "address: 127.0.78.8");
        var first = await node.ProposeAndDecide(good, output);
        Assert.Equal("committed", first["status"]!.ToString());

        // Only the host changes: web's port now admits nothing. The gateway and its DNAT rule are
        // untouched, but the rule's target is web, so the gateway's dnat-reachable probe runs and fails.
        const string web = "ip: 10.1.0.10, tenant: blue }";
        Assert.Contains(web, good);
        var change = await node.ProposeAndDecide(good.Replace(web, "ip: 10.1.0.10, tenant: blue, ingress: { defaultPolicy: deny, rules: [] } }"), output);

        Assert.Equal("rejected", change["status"]!.ToString());
        Assert.Contains(Progress(change), p => p.StartsWith("scope: 1 changed element(s) (host:host-1)", StringComparison.Ordinal));
        Assert.Contains(change["findings"]!.AsArray(), f => f!["check"]!.ToString() == "dnat-reachable"
            && f["reason"]!.ToString().Contains("container host-1/web", StringComparison.Ordinal));
        Assert.Equal(1, await node.IntentVersion());
    }

    private static List<string> Progress(JsonNode change) =>
        change["progress"]!.AsArray().Select(p => p!.ToString()).ToList();
}
