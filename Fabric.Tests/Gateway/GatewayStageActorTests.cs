using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Fabric.Actors.Guardian;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Gateway;
using Fabric.Actors.Gateway.Actors;
using Fabric.Actors.Gateway.Pipeline;
using Fabric.Messages.Intent;
using Fabric.Tests.Support;
using Xunit.Abstractions;
using static Fabric.Tests.Gateways.GatewayNodeSupport;

namespace Fabric.Tests.Gateways;

/// <summary>
/// The stage actors (tenant-T/dr|sr|nat|fw) own their stage's compiled table: they build it on a
/// reconfiguration (only when their part of the intent changed) and publish it to the plan the data
/// path and the flow-cache entities decide with; the table counts what its items decided (firewall
/// rules: flows and packets, cached hits included), shown by GET /gateways/{name}.
/// </summary>
public class GatewayStageActorTests(ITestOutputHelper output)
{
    private static readonly Ipv4Address Server = Ipv4Address.Parse("203.0.113.80");
    private static readonly Ipv4Address Host = Ipv4Address.Parse("10.0.0.10");
    private static readonly MacAddress HostMac = MacAddress.Parse("02:00:00:00:00:0a");
    private static readonly MacAddress UpstreamMac = MacAddress.Parse("02:00:00:00:01:01");

    private static string Intent(bool blockDns) => $$"""
        version: 1
        nodes:
          - name: node-a
            roles: [fabric, ghost-shadow]
        tenants:
          - name: blue
            vni: 3001
          - name: red
            vni: 3002
        gateways:
          - name: gs
            node: node-a
            tenants:
        {{Tenant("blue", "198.51.100", blockDns)}}
        {{Tenant("red", "192.0.2", false)}}
        """;

    private static string Tenant(string name, string net, bool blockDns) => $$"""
              - tenant: {{name}}
                networks: [10.0.0.1/24]
                downlink: { kind: simulated, name: {{name}}-down }
                uplink:
                  port: { kind: simulated, name: {{name}}-up }
                  address: {{net}}.2/24
                routes:
                  - prefix: 0.0.0.0/0
                    nextHop: {{net}}.1
                snatPool: [{{net}}.10]
                firewall:
                  defaultPolicy: allow
                  rules:
        {{(blockDns ? """
                    - name: no-dns
                      action: deny
                      protocol: udp
                      ports: 53
        """ : "")}}
                    - name: no-web
                      action: deny
                      protocol: tcp
                      ports: 80
        """;

    [Fact]
    public async Task Changing_one_tenants_firewall_republishes_only_its_fw_table_the_data_path_enforces_it_and_rule_hits_count_real_frames()
    {
        using var dir = new TempDir();
        await using var node = await TestNode.StartAsync("node-a", dir.Sub("a"));
        await ApplyAsync(node, Intent(blockDns: false), "gs");
        var gw = Gateway(node, "gs");
        var mac = GatewayPlan.DefaultMac("gs");
        foreach (var (tenant, net) in new[] { ("blue", "198.51.100"), ("red", "192.0.2") })
        {
            await Inject(gw, $"{tenant}-up", ArpRequest(UpstreamMac, Ipv4Address.Parse($"{net}.1"), Ipv4Address.Parse($"{net}.2")));
            await Sent(gw, $"{tenant}-up");
        }

        // blue: one UDP flow to port 53 (allowed by the default policy): its first packet is a miss
        // resolved by the flow-cache entity, the next four hit the cache and still count for the
        // policy; three SYNs to port 80 meet no-web.
        await Inject(gw, "blue-down", To(mac, GatewayFixture.Udp(Host, 40000, Server, 53, HostMac)));
        Assert.Single(await Sent(gw, "blue-up"));
        await Inject(gw, "blue-down", [.. Enumerable.Range(0, 4).Select(_ => To(mac, GatewayFixture.Udp(Host, 40000, Server, 53, HostMac)))]);
        Assert.Equal(4, (await Sent(gw, "blue-up", atLeast: 4)).Count);
        // The host's bucket goes direct once its entity answered and drained; on a loaded machine
        // that can take longer than the frames above, so the SYNs wait for it (below they must be
        // decided on the receive thread).
        await Eventually.Holds(async () => (await GatewayView(node, "gs"))["status"]!["counters"]!["direct-buckets"]!.GetValue<long>() >= 1,
            Wait, "the host's bucket in direct mode");
        foreach (var _ in Enumerable.Range(0, 3)) await Inject(gw, "blue-down", To(mac, GatewayFixture.Tcp(Host, 41000, Server, 80, TcpFlags.Syn, HostMac)));
        // red: two packets of one flow.
        await Inject(gw, "red-down", To(mac, GatewayFixture.Udp(Host, 40000, Server, 53, HostMac)));
        Assert.Single(await Sent(gw, "red-up"));
        await Inject(gw, "red-down", To(mac, GatewayFixture.Udp(Host, 40000, Server, 53, HostMac)));
        Assert.Single(await Sent(gw, "red-up"));

        JsonNode before = null!;
        await Eventually.Holds(async () =>
        {
            before = (await GatewayView(node, "gs"))["status"]!;
            return Rule(before, "blue", "no-web")["packets"]!.GetValue<long>() == 3;
        }, Wait, "the three SYNs counted for no-web");
        Assert.Empty(await Sent(gw, "blue-up", atLeast: 1, within: 200)); // and none got through
        Assert.Equal("sharded", before["mode"]!.ToString());
        // The entities run on this node: once a bucket's entity answered and drained, its misses are
        // decided under its lock in the gateway (direct mode); the reconfiguration below must not
        // let one be decided with the old rules.
        Assert.True(before["counters"]!["direct-buckets"]!.GetValue<long>() >= 1, before["counters"]!.ToJsonString());
        Assert.True(before["counters"]!["resolved-on-receive-thread"]!.GetValue<long>() >= 1, before["counters"]!.ToJsonString());
        Assert.Equal(5, Rule(before, "blue", "default")["packets"]!.GetValue<long>());
        Assert.Equal(1, Rule(before, "blue", "default")["flows"]!.GetValue<long>());
        Assert.Equal(2, Rule(before, "red", "default")["packets"]!.GetValue<long>());
        Assert.Equal(0, Rule(before, "red", "no-web")["packets"]!.GetValue<long>());
        Assert.True(Stage(before, "blue", "firewall")["verdicts"]!["drop"]!.GetValue<long>() >= 1);
        Assert.True(Stage(before, "blue", "nat")["verdicts"]!["next"]!.GetValue<long>() >= 1); // the SNAT of the UDP flow
        var generations = Generations(before);
        Assert.All(generations.Values, g => Assert.Equal(1, g));

        // Reconfigure blue's firewall only: a deny for UDP 53 in front.
        await ApplyAsync(node, Intent(blockDns: true), "gs");
        JsonNode after = null!;
        await Eventually.Holds(async () =>
        {
            after = (await GatewayView(node, "gs"))["status"]!;
            return after["generation"]!.GetValue<uint>() > before["generation"]!.GetValue<uint>();
        }, Wait, "the new plan installed");
        var changed = Generations(after).Where(kv => kv.Value != generations[kv.Key]).Select(kv => kv.Key).ToList();
        output.WriteLine($"generation {before["generation"]} -> {after["generation"]}; tables rebuilt: {string.Join(", ", changed)}");
        Assert.Equal(["blue/firewall"], changed);
        Assert.Equal(2, Stage(after, "blue", "firewall")["generation"]!.GetValue<int>());
        // Counts of unchanged rules go on; the other tenant's table is the same object, counters and all.
        Assert.Equal(3, Rule(after, "blue", "no-web")["packets"]!.GetValue<long>());
        Assert.Equal(2, Rule(after, "red", "default")["packets"]!.GetValue<long>());

        // The stage actor holds what the plan holds.
        var fw = await node.System.ActorSelection("/user/fabric/gw-gs/tenant-blue/fw").ResolveOne(TimeSpan.FromSeconds(5));
        var own = await fw.Ask<StageTableStatus>(GetStageStatus.Instance, TimeSpan.FromSeconds(5));
        Assert.Equal(2, own.Generation);
        Assert.Equal("no-dns", own.Items[0].Item.Split(':')[0]);
        // ... and the actor tree (the `actors` verb) shows all eight stage actors.
        var tree = (await node.Get("/actors")).ToJsonString();
        foreach (var tenant in new[] { "blue", "red" })
        {
            foreach (var stage in new[] { "dr", "sr", "nat", "fw" }) Assert.Contains($"\"/user/fabric/gw-gs/tenant-{tenant}/{stage}\"", tree);
        }

        // The data path enforces the new rule on a new flow (an established one keeps passing: stateful) ...
        await Inject(gw, "blue-down", To(mac, GatewayFixture.Udp(Host, 40001, Server, 53, HostMac)));
        await Inject(gw, "blue-down", To(mac, GatewayFixture.Udp(Host, 40001, Server, 53, HostMac)));
        await Eventually.Holds(async () =>
            Rule((await GatewayView(node, "gs"))["status"]!, "blue", "no-dns")["packets"]!.GetValue<long>() == 2, Wait, "no-dns counted both packets");
        Assert.Empty(await Sent(gw, "blue-up", atLeast: 1, within: 300));
        // ... while red, not reconfigured, still forwards the same traffic.
        await Inject(gw, "red-down", To(mac, GatewayFixture.Udp(Host, 40001, Server, 53, HostMac)));
        Assert.Single(await Sent(gw, "red-up"));
        var view = await GatewayView(node, "gs");
        Assert.True(view["status"]!["drops"]!["firewall-denied"]!.GetValue<long>() >= 5);

        // gateway show renders each tenant's stages and the firewall rules with their hits.
        var shown = Fabric.Node.Cli.GatewayTables.Gateway(view);
        output.WriteLine(shown);
        Assert.Matches(@"blue\s+firewall\s+2\s+3\s+2 rules, default allow", shown);
        Assert.Matches(@"blue\s+0\s+no-dns: deny udp .* ports 53-53\s+\d+\s+2", shown);

        // /metrics exports the same counts.
        var metrics = await node.Http.GetStringAsync("/metrics");
        Assert.Contains("fabric_gateway_firewall_rule_packets_total{gateway=\"gs\",tenant=\"blue\",rule=\"no-web\",index=\"1\"} 3", metrics);
        Assert.Contains("fabric_gateway_firewall_rule_packets_total{gateway=\"gs\",tenant=\"blue\",rule=\"no-dns\",index=\"0\"} 2", metrics);
        Assert.Matches("fabric_gateway_stage_verdicts_total\\{gateway=\"gs\",tenant=\"red\",stage=\"service-router\",verdict=\"forward\"\\} [1-9]", metrics);

        // A traced packet's records land in its stages' trace logs, read back with the traces.
        await gw.Ask<GatewayTraces>(new ArmTrace(1), TimeSpan.FromSeconds(5));
        await Inject(gw, "blue-down", To(mac, GatewayFixture.Tcp(Host, 41001, Server, 80, TcpFlags.Syn, HostMac)));
        JsonNode traces = null!;
        await Eventually.Holds(async () =>
        {
            traces = await node.Get("/gateways/gs/trace");
            return traces["stages"]?.AsArray().Any(s => s!["tenant"]!.ToString() == "blue" && s["stage"]!.ToString() == "firewall") == true;
        }, Wait, "the firewall's trace log has the traced SYN");
        var fwTrace = traces["stages"]!.AsArray().Single(s => s!["tenant"]!.ToString() == "blue" && s["stage"]!.ToString() == "firewall")!;
        Assert.Contains(fwTrace["records"]!.AsArray(), r => r!.ToString().Contains("FirewallDenied") && r.ToString().Contains("no-web"));
    }

    private static JsonNode Stage(JsonNode status, string tenant, string stage) =>
        status["stages"]!.AsArray().Single(s => s!["tenant"]!.ToString() == tenant && s["stage"]!.ToString() == stage)!;

    /// <summary>A firewall item by rule name ("default" = the default policy).</summary>
    private static JsonNode Rule(JsonNode status, string tenant, string name) =>
        Stage(status, tenant, "firewall")["items"]!.AsArray().Single(i => i!["item"]!.ToString().Split(':')[0] == name)!;

    private static Dictionary<string, int> Generations(JsonNode status) =>
        status["stages"]!.AsArray().ToDictionary(s => $"{s!["tenant"]}/{s["stage"]}", s => s!["generation"]!.GetValue<int>());
}

/// <summary>The stage tables without actors: rebuilt only where their part changed, counting what decided.</summary>
public class StageTableTests
{
    [Fact]
    public void A_rebuild_keeps_every_table_whose_part_of_the_intent_did_not_change_and_carries_unchanged_rules_counts()
    {
        var before = GatewayFixture.Plan();
        var blue = before.Tenants[0];
        var rules = GatewayFixture.StandardFirewall.Rules.Insert(0, new FirewallRuleIntent("no-dns", FirewallAction.Deny, RuleProtocol.Udp, default, default, new PortRange(53, 53)));
        var intent = GatewayFixture.GatewayOf(GatewayFixture.Tenant("blue", 1, GatewayFixture.Firewall(FirewallPolicy.Allow, [.. rules])), GatewayFixture.Tenant("red", 2));
        var layout = GatewayPlan.Layout(intent);
        blue.Fw.Counters.Decided(StageVerdict.Drop, 0); // no-telnet decided one flow

        var tables = layout.Tenants.Select(l => TenantStageTables.Build(l, before.Tenants[l.Index].Tables)).ToList();

        Assert.Same(blue.Dr, tables[0].Dr);
        Assert.Same(blue.Sr, tables[0].Sr);
        Assert.Same(blue.Nat, tables[0].Nat);
        Assert.NotSame(blue.Fw, tables[0].Fw);
        Assert.Equal(2, tables[0].Fw.Generation);
        foreach (var stage in Enum.GetValues<GatewayStage>()) Assert.Same(before.Tenants[1].Tables[stage], tables[1][stage]); // red: nothing rebuilt
        Assert.Equal(1, tables[0].Fw.Counters.Flows(1)); // no-telnet moved to index 1, its count with it
        Assert.Equal(0, tables[0].Fw.Counters.Flows(0));
    }

    [Fact]
    public void In_process_firewall_rule_hits_count_the_miss_and_every_cached_hit_and_traced_packets_land_in_the_stage_trace_log()
    {
        var dp = GatewayFixture.Datapath();
        var blue = dp.Plan.Tenants[0];
        var sink = new CaptureSink();
        dp.TraceNext(1);
        for (var i = 0; i < 4; i++) dp.ProcessFrame(GatewayFixture.Tcp(GatewayFixture.Host, 5000, GatewayFixture.Server, 23, TcpFlags.Syn), blue.DownlinkPort, i, sink);
        for (var i = 0; i < 3; i++) dp.ProcessFrame(GatewayFixture.Udp(GatewayFixture.Host, 5001, GatewayFixture.Server, 53), blue.DownlinkPort, 10 + i, sink);

        var telnet = blue.Fw.Rules.IndexOf(blue.Fw.Rules.Single(r => r.Name == "no-telnet"));
        Assert.Equal(4, blue.Fw.Counters.Packets(telnet));
        Assert.Equal(1, blue.Fw.Counters.Flows(telnet)); // the first packet's miss; the other three hit its cached deny
        Assert.Equal(3, blue.Fw.Counters.Packets(blue.Fw.DefaultItem));
        Assert.Equal(1, blue.Fw.Counters.Flows(blue.Fw.DefaultItem));
        Assert.Equal(3, sink.Sent.Count);
        Assert.Equal(1, blue.Sr.Counters.Flows(blue.Sr.Routes.Entries.ToList().FindIndex(r => !r.Connected))); // the default route, once
        Assert.Contains(blue.Fw.Traces.Recent(), r => r.Contains("FirewallDenied") && r.Contains("no-telnet"));
        Assert.Equal(0, dp.Plan.Tenants[1].Fw.Counters.Packets(0));
    }
}

/// <summary>
/// The gateway actor alone (no flow-cache region: the stages run in process): a reconfiguration
/// is assembled from the stage actors' tables before anything after it in the mailbox runs.
/// </summary>
public class GatewayStageRoundTests() : TestKit("akka.loglevel = WARNING")
{
    [Fact]
    public async Task Frames_sent_right_after_a_firewall_change_meet_the_new_rules_and_only_that_tenants_fw_actor_rebuilt()
    {
        var intent = GatewayFixture.GatewayOf();
        var mac = GatewayPlan.Compile(intent, 1).Mac;
        var gw = Sys.ActorOf(GatewayActor.Props(new GatewaySpec(intent, []), "node-1"), "gw-gw-1");
        foreach (var t in new[] { "blue", "red" })
        {
            await gw.Ask<FramesInjected>(new InjectFrames($"{t}-up", [GatewayNodeSupport.ArpRequest(GatewayFixture.UpstreamMac, GatewayFixture.UpstreamRouter, Ipv4Address.Parse(t == "blue" ? "198.51.100.2" : "198.51.100.3"))]));
        }
        byte[] Dns(ushort sport) => GatewayNodeSupport.To(mac, GatewayFixture.Udp(GatewayFixture.Host, sport, GatewayFixture.Server, 53));
        await gw.Ask<FramesInjected>(new InjectFrames("blue-down", [Dns(7000), Dns(7000)]));
        Assert.Equal(2, (await gw.Ask<SentFrames>(new TakeSentFrames("blue-up"))).Frames.Count(f => GatewayNodeSupport.Endpoints(f) is not null));

        var rules = GatewayFixture.StandardFirewall.Rules.Insert(0, new FirewallRuleIntent("no-dns", FirewallAction.Deny, RuleProtocol.Udp, default, default, new PortRange(53, 53)));
        var changed = GatewayFixture.GatewayOf(GatewayFixture.Tenant("blue", 1, GatewayFixture.Firewall(FirewallPolicy.Allow, [.. rules])), GatewayFixture.Tenant("red", 2));
        gw.Tell(new ElementSpecChanged(new ElementSpec("gateway", "gw-1", new GatewaySpec(changed, []), "2")));
        // Sent at once: waits in the stash while the stage actors build, then meets the new plan.
        await gw.Ask<FramesInjected>(new InjectFrames("blue-down", [Dns(7001), Dns(7001), Dns(7001)]));
        await gw.Ask<FramesInjected>(new InjectFrames("red-down", [Dns(7001)]));
        Assert.Empty((await gw.Ask<SentFrames>(new TakeSentFrames("blue-up"))).Frames.Where(f => GatewayNodeSupport.Endpoints(f) is not null));
        Assert.Single((await gw.Ask<SentFrames>(new TakeSentFrames("red-up"))).Frames.Where(f => GatewayNodeSupport.Endpoints(f) is not null));

        async Task<StageTableStatus> StageOf(string tenant, string stage) =>
            await (await Sys.ActorSelection($"/user/gw-gw-1/tenant-{tenant}/{stage}").ResolveOne(TimeSpan.FromSeconds(5))).Ask<StageTableStatus>(GetStageStatus.Instance);
        var blueFw = await StageOf("blue", "fw");
        Assert.Equal(2, blueFw.Generation);
        Assert.Equal(3, blueFw.Items[0].Packets); // no-dns: one miss, two cached hits
        Assert.Equal(1, blueFw.Items[0].Flows);
        Assert.Equal(2, blueFw.Items.Single(i => i.Item.StartsWith("default")).Packets); // carried over from generation 1
        foreach (var (tenant, stage) in new[] { ("blue", "dr"), ("blue", "sr"), ("blue", "nat"), ("red", "dr"), ("red", "sr"), ("red", "nat"), ("red", "fw") })
        {
            Assert.Equal(1, (await StageOf(tenant, stage)).Generation);
        }
    }
}
