using System.Text.Json.Nodes;
using Fabric.Tests.Support;
using Xunit.Abstractions;

namespace Fabric.Tests.Ghost;

/// <summary>
/// Ghost routing end to end: a whole node (config store, guardian, ghost-shadow) verifies each
/// proposal on ghost copies of the real elements with diagnostic frames, and only a verified
/// change reaches main. A rejected change leaves main's intent, elements and counters as they were.
/// </summary>
public sealed class GhostVerificationTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(40);

    [Fact]
    public async Task The_sample_intent_with_its_checks_commits_within_two_seconds_and_a_change_that_only_adds_a_tenant_commits_too()
    {
        using var dir = new TempDir();
        await using var node = await TestNode.StartAsync("node-1", dir.Sub("n1"));
        await Eventually.Holds(async () => await node.UpCount() == 1, Wait, "node Up");

        var started = DateTime.UtcNow;
        var change = await ProposeAndDecide(node, GhostIntents.Sample());
        Assert.Equal("committed", change["status"]!.ToString());
        Assert.Empty(change["findings"]!.AsArray());
        var ghost = change["ghost"]!;
        Assert.True(ghost["verified"]!.GetValue<bool>());
        Assert.True(ghost["checksPassed"]!.GetValue<int>() >= 4, "declared checks and implicit ones passed");
        Assert.True(ghost["seconds"]!.GetValue<double>() < 2.0, $"verdict in {ghost["seconds"]} s (goal: 2 s)");
        output.WriteLine($"sample verified in {ghost["seconds"]} s (proposal to decision {(DateTime.UtcNow - started).TotalSeconds:F2} s)");
        // Where each ghost copy ran, and what became reachable compared with the empty main.
        Assert.Contains(change["placement"]!.AsArray(), p => p!.ToString().StartsWith("gateway gw-1 (node node-1): ghost copy ran on node-1"));
        Assert.Contains(change["diff"]!.AsArray(), d => d!["probe"]!.ToString().StartsWith("blue-web") && d["after"]!.ToString().StartsWith("delivered at gw-1/blue/uplink"));
        Assert.Contains(change["progress"]!.AsArray(), p => p!.ToString().StartsWith("probes sent"));
        // Every capability's ghost copy carried its check: the container pair through the ghost
        // MFE (tagged for db), the VM through its ghost bridge, modem and carrier and back.
        Assert.Contains(change["diff"]!.AsArray(), d => d!["probe"]!.ToString().StartsWith("web-to-db") && d["after"]!.ToString() == "delivered at dcn-1@node-1 (vlan 102)");
        Assert.Contains(change["diff"]!.AsArray(), d => d!["probe"]!.ToString().StartsWith("vm-to-carrier") && d["after"]!.ToString() == "delivered at vm-1@node-1");

        var more = await ProposeAndDecide(node, GhostIntents.Sample().Replace("\ntenants:\n", "\ntenants:\n  - name: red\n    vni: 1003\n"));
        Assert.Equal("committed", more["status"]!.ToString());
        Assert.Equal(2, await node.IntentVersion());
    }

    [Fact]
    public async Task A_firewall_rule_that_blocks_a_reach_check_is_rejected_with_the_probe_path_and_main_is_untouched()
    {
        using var dir = new TempDir();
        await using var node = await CommittedSample(dir);
        var before = await MainState(node);

        var bad = GhostIntents.Sample().Replace("""
                        - name: web-out
                          action: allow
            """, """
                        - name: block-web
                          action: deny
                          protocol: tcp
                          ports: 80
                        - name: web-out
                          action: allow
            """);
        Assert.Contains("block-web", bad);
        var change = await ProposeAndDecide(node, bad);

        Assert.Equal("rejected", change["status"]!.ToString());
        var finding = Finding(change, "blue-web");
        Assert.Contains("firewall-denied", finding["reason"]!.ToString());
        var path = finding["path"]!.AsArray().Select(p => p!.ToString()).ToList();
        Assert.Contains(path, p => p.Contains("gw-1/blue/downlink") && p.Contains("injected"));
        Assert.Contains(path, p => p.Contains("DROPPED firewall-denied") && p.Contains("block-web"));
        Assert.Contains(change["diff"]!.AsArray(), d => d!["probe"]!.ToString().StartsWith("blue-web")
            && d["before"]!.ToString().StartsWith("delivered") && d["after"]!.ToString().Contains("firewall-denied"));
        await AssertMainUntouched(node, before);
    }

    [Fact]
    public async Task A_removed_default_route_that_black_holes_a_tenant_is_rejected()
    {
        using var dir = new TempDir();
        await using var node = await CommittedSample(dir);
        var before = await MainState(node);

        var bad = GhostIntents.Sample().Replace("""
                      - prefix: 0.0.0.0/0
                        nextHop: 203.0.113.1

            """, "");
        Assert.DoesNotContain("203.0.113.1\n", bad);
        var change = await ProposeAndDecide(node, bad);

        Assert.Equal("rejected", change["status"]!.ToString());
        Assert.Contains("no-route", Finding(change, "blue-internet")["reason"]!.ToString());
        await AssertMainUntouched(node, before);
    }

    [Fact]
    public async Task Pws_the_parser_accepts_but_that_cross_connect_two_customers_are_rejected_naming_where_the_frames_arrive()
    {
        using var dir = new TempDir();
        await using var node = await TestNode.StartAsync("node-1", dir.Sub("n1"));
        await Eventually.Holds(async () => await node.UpCount() == 1, Wait, "node Up");
        var good = await ProposeAndDecide(node, GhostIntents.TwoCustomers(crossConnected: false));
        Assert.Equal("committed", good["status"]!.ToString());
        var before = await MainState(node);

        var change = await ProposeAndDecide(node, GhostIntents.TwoCustomers(crossConnected: true));

        Assert.Equal("rejected", change["status"]!.ToString());
        var finding = Finding(change, "ce1-to-ce2");
        Assert.Contains("delivered at ce4", finding["reason"]!.ToString());
        Assert.Contains(finding["path"]!.AsArray(), p => p!.ToString().Contains("trunk t1") && p.ToString().Contains("member pw-1"));
        await AssertMainUntouched(node, before);
    }

    [Fact]
    public async Task A_static_route_that_leaks_one_tenant_into_another_is_rejected_by_the_isolation_check()
    {
        using var dir = new TempDir();
        await using var node = await TestNode.StartAsync("node-1", dir.Sub("n1"));
        await Eventually.Holds(async () => await node.UpCount() == 1, Wait, "node Up");
        Assert.Equal("committed", (await ProposeAndDecide(node, GhostIntents.SharedTransit(leak: false)))["status"]!.ToString());
        var before = await MainState(node);

        var change = await ProposeAndDecide(node, GhostIntents.SharedTransit(leak: true));

        Assert.Equal("rejected", change["status"]!.ToString());
        var finding = Finding(change, "tenant-isolation");
        Assert.Contains("gateway gw-1 tenant green inside", finding["reason"]!.ToString());
        Assert.Contains(finding["path"]!.AsArray(), p => p!.ToString().Contains("gw-1/green/downlink — delivered"));
        await AssertMainUntouched(node, before);
    }

    [Fact]
    public async Task A_two_router_forwarding_loop_is_rejected_as_a_loop()
    {
        using var dir = new TempDir();
        await using var node = await TestNode.StartAsync("node-1", dir.Sub("n1"));
        await Eventually.Holds(async () => await node.UpCount() == 1, Wait, "node Up");
        Assert.Equal("committed", (await ProposeAndDecide(node, GhostIntents.TwoRouters(loop: false)))["status"]!.ToString());

        var change = await ProposeAndDecide(node, GhostIntents.TwoRouters(loop: true));

        Assert.Equal("rejected", change["status"]!.ToString());
        var loop = Finding(change, "no-loops");
        Assert.Contains("loop", loop["reason"]!.ToString());
        var path = loop["path"]!.AsArray().Select(p => p!.ToString()).ToList();
        Assert.True(path.Count(p => p.Contains("gw-2/blue/downlink — received from gw-1/blue/downlink on the shared segment lab")) >= 3, "the path shows the probe going round");
        Assert.Contains(path, p => p.Contains("more hop(s)"));
        Assert.Contains("hop-limit", path[^1]);
    }

    [Fact]
    public async Task A_container_port_acl_that_blocks_a_container_check_is_rejected_at_the_mfe()
    {
        using var dir = new TempDir();
        await using var node = await CommittedSample(dir);
        var before = await MainState(node);

        var bad = GhostIntents.Sample().Replace("ports: 5432", "ports: 5433");
        Assert.Contains("5433", bad);
        var change = await ProposeAndDecide(node, bad);

        Assert.Equal("rejected", change["status"]!.ToString());
        var finding = Finding(change, "web-to-db");
        Assert.Contains("must reach container host-1/db", finding["reason"]!.ToString());
        Assert.Contains(finding["path"]!.AsArray(), p => p!.ToString().Contains("dcn-1 — injected"));
        await AssertMainUntouched(node, before);
    }

    [Fact]
    public async Task Stopping_a_node_closes_its_ghost_underlay_so_a_restarted_node_does_not_share_the_port()
    {
        using var dir = new TempDir();
        await using (var node = await CommittedSample(dir))
        {
            Assert.Throws<System.Net.Sockets.SocketException>(() => BindGhostPort());
        }
        using var free = BindGhostPort(); // nothing holds 127.0.0.1:6636 any more
    }

    /// <summary>
    /// A ghost PE whose underlay address another process holds cannot start. The verdict used to
    /// say only that its probes were "dropped at ghost port ...: no-port (the element that owns this
    /// attachment is not running in the ghost copy)", leaving the operator to dig the reason out of
    /// the node's log; it now names the element and why, and the same change verifies once the
    /// address is free. The node's own address is one no other test uses.
    /// </summary>
    [Fact]
    public async Task A_ghost_element_that_cannot_start_is_named_with_why_in_the_verdict_and_the_change_verifies_once_it_can()
    {
        const string underlay = "127.0.9.3";
        var intent = Fabric.Tests.Guardian.PeStartRetryTests.TwoPes(underlay);
        using var dir = new TempDir();
        var holder = new System.Net.Sockets.UdpClient(new System.Net.IPEndPoint(System.Net.IPAddress.Parse(underlay), 6636)); // the ghost underlay port
        try
        {
            await using var node = await TestNode.StartAsync("node-a", dir.Sub("a"));
            await Eventually.Holds(async () => await node.UpCount() == 1, Wait, "node Up");

            var rejected = await ProposeAndDecide(node, intent);
            Assert.Equal("rejected", rejected["status"]!.ToString());
            var reason = Finding(rejected, "ghost-start")["reason"]!.ToString();
            Assert.Contains("pe1 could not start in its ghost copy on node node-a", reason);
            Assert.Contains($"{underlay}:6636 is already in use", reason);
            Assert.Contains(rejected["progress"]!.AsArray(), p => p!.ToString().StartsWith("ghost element(s) not started (the proposal): pe pe1 on node-a: "));
            Assert.Equal(0, await node.IntentVersion());

            holder.Dispose();
            var committed = await ProposeAndDecide(node, intent);
            Assert.Equal("committed", committed["status"]!.ToString());
            Assert.DoesNotContain(committed["progress"]!.AsArray(), p => p!.ToString().StartsWith("ghost element(s) not started"));
        }
        finally
        {
            holder.Dispose();
        }
    }

    private static System.Net.Sockets.UdpClient BindGhostPort() =>
        new(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 6636));

    [Fact]
    public async Task Probes_sent_in_waves_of_two_verify_the_sample_with_every_probe_answered_and_still_reject_a_blocking_rule()
    {
        // probe-wave = 2: each wave goes only when the previous two probes have ended, so a round
        // is many waves; every probe must still be judged, and a break still found.
        using var dir = new TempDir();
        await using var node = await TestNode.StartAsync("node-1", dir.Sub("n1"), extraHocon: "fabric.ghost.probe-wave = 2");
        await Eventually.Holds(async () => await node.UpCount() == 1, Wait, "node Up");
        var change = await ProposeAndDecide(node, GhostIntents.Sample());
        Assert.Equal("committed", change["status"]!.ToString());
        var progress = change["progress"]!.AsArray().Select(p => p!.ToString()).ToList();
        Assert.Contains(progress, p => p.Contains("probe round 1:") && p.Contains("injected"));
        Assert.DoesNotContain(progress, p => p.Contains("had no end"));
        Assert.DoesNotContain(change["diff"]!.AsArray(), d => d!["after"]!.ToString().StartsWith("no answer"));

        var bad = GhostIntents.Sample().Replace("""
                        - name: web-out
                          action: allow
            """, """
                        - name: block-web
                          action: deny
                          protocol: tcp
                          ports: 80
                        - name: web-out
                          action: allow
            """);
        var rejected = await ProposeAndDecide(node, bad);
        Assert.Equal("rejected", rejected["status"]!.ToString());
        Assert.Contains("firewall-denied", Finding(rejected, "blue-web")["reason"]!.ToString());
    }

    private async Task<TestNode> CommittedSample(TempDir dir)
    {
        var node = await TestNode.StartAsync("node-1", dir.Sub("n1"));
        await Eventually.Holds(async () => await node.UpCount() == 1, Wait, "node Up");
        Assert.Equal("committed", (await ProposeAndDecide(node, GhostIntents.Sample()))["status"]!.ToString());
        return node;
    }

    private Task<JsonNode> ProposeAndDecide(TestNode node, string document) => node.ProposeAndDecide(document, output);

    private JsonNode Finding(JsonNode change, string check)
    {
        var findings = change["findings"]!.AsArray();
        output.WriteLine(string.Join("\n", findings.Select(f => f!.ToJsonString())));
        return findings.FirstOrDefault(f => f!["check"]!.ToString() == check)
               ?? throw new Xunit.Sdk.XunitException($"no finding for {check}: {change.ToJsonString()}");
    }

    /// <summary>Main as an operator sees it: intent version, applied version, elements, and every port counter.</summary>
    private static async Task<(long Intent, long Applied, string Elements, string Counters)> MainState(TestNode node)
    {
        var version = await node.IntentVersion();
        await Eventually.Holds(async () => await node.AppliedVersion() == version, Wait, $"main runs intent version {version}");
        await Task.Delay(300); // the elements of that version open their ports
        var applied = await node.Get("/intent/applied");
        return (await node.IntentVersion(), applied["version"]!.GetValue<long>(), applied["elements"]!.ToJsonString(), await Counters(node));
    }

    /// <summary>
    /// What a ghost frame reaching main would change: every live port's received frames and drops
    /// (transmitted frames are left out: a live gateway keeps asking ARP for its next hops).
    /// </summary>
    private static async Task<string> Counters(TestNode node)
    {
        var parts = new List<string>();
        foreach (var gw in (await node.Get("/gateways")).AsArray())
        {
            var status = (await node.Get($"/gateways/{gw!["name"]}"))["status"]!;
            foreach (var port in status["ports"]!.AsArray())
                parts.Add($"{gw["name"]}/{port!["name"]}: rx {port["rxFrames"]} drops {port["drops"]}");
        }
        foreach (var pe in (await node.Get("/pes"))["pes"]!.AsArray())
            parts.Add(pe!["attachmentCircuits"]!.ToJsonString());
        return string.Join("\n", parts);
    }

    private static async Task AssertMainUntouched(TestNode node, (long Intent, long Applied, string Elements, string Counters) before)
    {
        var after = await MainState(node);
        Assert.Equal(before.Intent, after.Intent);
        Assert.Equal(before.Applied, after.Applied);
        Assert.Equal(before.Elements, after.Elements);
        // No ghost frame reached a live port: every main port's rx/tx/drop counters are as they were.
        Assert.Equal(before.Counters, after.Counters);
    }
}
