using System.Diagnostics;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Gateway;
using Fabric.Tests.Support;
using Xunit.Abstractions;
using static Fabric.Tests.Gateways.GatewayNodeSupport;

namespace Fabric.Tests.Gateways;

/// <summary>
/// Three whole nodes; gateway gw-1 on node-a with simulated ports. A TCP connection through SNAT
/// runs while the node owning its flow-cache entity leaves: the entity restarts on another node
/// and the connection continues with the same external port (the gateway keeps its entries and
/// restores the entity's successor with the connections it mirrors).
/// </summary>
public class GatewayShardMoveTests(ITestOutputHelper output)
{
    private const uint Vni = 1001;
    private static readonly Ipv4Address Server = Ipv4Address.Parse("203.0.113.80");
    private static readonly Ipv4Address Pool = Ipv4Address.Parse("198.51.100.10");
    private static readonly Ipv4Address Upstream = Ipv4Address.Parse("198.51.100.1");
    private static readonly MacAddress UpstreamMac = MacAddress.Parse("02:00:00:00:01:01");
    private static readonly MacAddress HostMac = MacAddress.Parse("02:00:00:00:00:0a");

    public static string Intent(string node) => $"""
        version: 1
        nodes:
          - name: node-a
            roles: [fabric, ghost-shadow]
          - name: node-b
            roles: [fabric, ghost-shadow]
          - name: node-c
            roles: [fabric, ghost-shadow]
        tenants:
          - name: blue
            vni: {Vni}
        gateways:
          - name: gw-1
            node: {node}
            tenants:
              - tenant: blue
                networks: [10.0.0.1/24]
                downlink: {"{"} kind: simulated, name: blue-down {"}"}
                uplink:
                  port: {"{"} kind: simulated, name: blue-up {"}"}
                  address: 198.51.100.2/24
                routes:
                  - prefix: 0.0.0.0/0
                    nextHop: 198.51.100.1
                snatPool: [198.51.100.10]
                firewall:
                  defaultPolicy: allow
                  rules:
                    - name: no-telnet
                      action: deny
                      protocol: tcp
                      ports: 23
        """;

    [Fact]
    public async Task A_TCP_connection_through_NAT_keeps_its_external_port_when_the_node_owning_its_flow_cache_entity_leaves()
    {
        using var dir = new TempDir();
        await using var a = await TestNode.StartAsync("node-a", dir.Sub("a"));
        await using var b = await TestNode.StartAsync("node-b", dir.Sub("b"), seeds: [a.Seed]);
        await using var c = await TestNode.StartAsync("node-c", dir.Sub("c"), seeds: [a.Seed]);
        await Eventually.Holds(async () => await a.UpCount() == 3, Wait, "three nodes Up");
        await ApplyAsync(a, Intent("node-a"), "gw-1");
        var gw = Gateway(a, "gw-1");
        var mac = GatewayPlan.DefaultMac("gw-1");

        // Pick an inside host whose bucket's entity lives on node-b or node-c (not on the gateway's node).
        var others = new Dictionary<string, TestNode> { [b.Address.ToString()] = b, [c.Address.ToString()] = c };
        Ipv4Address host = default;
        TestNode? owner = null;
        await Eventually.Holds(async () =>
        {
            var entities = (await GatewayView(a, "gw-1"))["entities"]!.AsArray();
            foreach (var e in entities)
            {
                if (e!["node"]?.ToString() is not { } n || !others.TryGetValue(n, out var o)) continue;
                var bucket = e["bucket"]!.GetValue<int>();
                for (uint h = 10; h < 250 && owner is null; h++)
                {
                    if (BucketOf(Vni, Ipv4Address.Parse($"10.0.0.{h}")) != bucket) continue;
                    host = Ipv4Address.Parse($"10.0.0.{h}");
                    owner = o;
                }
                if (owner is not null) return true;
            }
            return false;
        }, Wait, "a flow-cache entity of gw-1 on node-b or node-c");
        output.WriteLine($"host {host} -> bucket {BucketOf(Vni, host)} owned by {owner!.Options.Name}");

        // The upstream router announces itself; then the handshake and some data through SNAT.
        await Inject(gw, "blue-up", ArpRequest(UpstreamMac, Upstream, Ipv4Address.Parse("198.51.100.2")));
        await Sent(gw, "blue-up");
        uint seq = 1000;
        await Inject(gw, "blue-down", To(mac, GatewayFixture.Tcp(host, 40000, Server, 80, TcpFlags.Syn, HostMac, seq)));
        var syn = Assert.Single(await Sent(gw, "blue-up"));
        var (src, externalPort, _, _) = Endpoints(syn)!.Value;
        Assert.Equal(Pool, src);
        await Inject(gw, "blue-up", To(mac, GatewayFixture.Tcp(Server, 80, Pool, externalPort, TcpFlags.Syn | TcpFlags.Ack, UpstreamMac, 5000, seq + 1)));
        var synAck = Assert.Single(await Sent(gw, "blue-down"));
        Assert.Equal((Server, (ushort)80, host, (ushort)40000), Endpoints(synAck)!.Value);

        // Data segments back to back while the owner leaves (each waits up to 20 ms for its forwarded copy);
        // the outage is from the first segment not forwarded in time to the next one forwarded.
        var stop = owner.StopAsync();
        var clock = Stopwatch.StartNew();
        double? outageStart = null, resumedAt = null;
        var forwardedAfter = 0;
        while (clock.Elapsed < TimeSpan.FromSeconds(40) && !(stop.IsCompleted && forwardedAfter >= 5))
        {
            seq++;
            await Inject(gw, "blue-down", To(mac, GatewayFixture.Tcp(host, 40000, Server, 80, TcpFlags.Ack | TcpFlags.Psh, HostMac, seq, 5001)));
            var sent = await Sent(gw, "blue-up", within: 20);
            if (sent.Count == 0)
            {
                outageStart ??= clock.Elapsed.TotalMilliseconds;
                continue;
            }
            foreach (var f in sent) Assert.Equal((Pool, externalPort, Server, (ushort)80), Endpoints(f)!.Value);
            if (outageStart is not null && resumedAt is null) resumedAt = clock.Elapsed.TotalMilliseconds;
            if (stop.IsCompleted) forwardedAfter++;
        }
        await stop;
        Assert.True(forwardedAfter >= 5, "the connection forwards again after the owner left");
        var view = await GatewayView(a, "gw-1");
        Assert.True(view["status"]!["shardMoves"]!.GetValue<long>() >= 1, "the gateway saw its entity stop");
        var resumeMs = resumedAt is null ? 0 : resumedAt.Value - outageStart!.Value;
        output.WriteLine($"shard_move_resume_ms={resumeMs:F0} (outage from {outageStart:F0} ms to {resumedAt:F0} ms after the stop began)");

        // The reply direction reaches the host through the new entity too.
        await Inject(gw, "blue-up", To(mac, GatewayFixture.Tcp(Server, 80, Pool, externalPort, TcpFlags.Ack | TcpFlags.Psh, UpstreamMac, 5001, seq)));
        var back = Assert.Single(await Sent(gw, "blue-down"));
        Assert.Equal((Server, (ushort)80, host, (ushort)40000), Endpoints(back)!.Value);

        // The bucket's entity now runs on a node that is still there, and holds the binding.
        var entity = (await GatewayView(a, "gw-1"))["entities"]!.AsArray().Single(e => e!["bucket"]!.GetValue<int>() == BucketOf(Vni, host))!;
        Assert.NotEqual(owner.Address.ToString(), entity["node"]?.ToString());
        Assert.Equal(1, entity["natBindings"]!.GetValue<int>());

        // The opt-in trace lists each stage's record for the next packet, as resolved by the entity.
        using (var arm = await a.Http.SendAsync(a.Authorized(HttpMethod.Post, "/gateways/gw-1/trace",
                   new StringContent("{\"packets\":1}", System.Text.Encoding.UTF8, "application/json"))))
            Assert.True(arm.IsSuccessStatusCode, $"POST trace: {(int)arm.StatusCode}");
        await Inject(gw, "blue-down", To(mac, GatewayFixture.Udp(host, 5353, Server, 53, HostMac)));
        Assert.Single(await Sent(gw, "blue-up"));
        var traces = (await a.Get("/gateways/gw-1/trace"))["traces"]!.AsArray();
        var records = Assert.Single(traces)!["records"]!.AsArray().Select(r => r!.ToString()).ToList();
        output.WriteLine(string.Join("\n", records));
        Assert.Contains(records, r => r.StartsWith("Nat: Next") && r.Contains("snat"));

        // The operator verbs render the same routes.
        var management = $"{a.Http.BaseAddress!.Host}:{a.Http.BaseAddress.Port}";
        var text = new StringWriter();
        Assert.Equal(0, await Fabric.Node.Cli.OperatorCommands.RunAsync(["gateway", "show", "gw-1", "--management", management], text, TextWriter.Null));
        Assert.Contains("ENTITY-NODE", text.ToString());
        Assert.Contains("flow cache: active", text.ToString());
        output.WriteLine(text.ToString());
        text = new StringWriter();
        Assert.Equal(0, await Fabric.Node.Cli.OperatorCommands.RunAsync(["flows", "top", "3", "--management", management], text, TextWriter.Null));
        Assert.Equal(4, text.ToString().Trim().Split('\n').Length); // header + 3 buckets
        output.WriteLine(text.ToString());
    }
}
