using Fabric.Tests.Cellular;
using Fabric.Tests.DataPlane.Io;
using Fabric.Tests.Support;
using Xunit.Abstractions;
using static Fabric.Tests.Gateways.GatewayNodeSupport;

namespace Fabric.Tests.Gateways;

/// <summary>
/// Path MTU discovery through the gateway on real traffic: an inside namespace on the gateway's TAP
/// downlink (MTU 1500) and an outside one on its TAP uplink, whose intent names mtu 1400. Linux's
/// own ping and TCP are the judges: a DF ping that does not fit is told "Frag needed and DF set
/// (mtu = 1400)", the inside host's route cache learns the PMTU, a ping that fits passes, and TCP
/// (iperf3, with TSO super-frames from the inside TAP) finds the path MTU by itself and carries data.
/// </summary>
public class GatewayPathMtuTrafficTests(ITestOutputHelper output)
{
    private const string Server = "203.0.113.80";

    private static string Intent(string down, string up) => $$"""
        version: 1
        nodes:
          - name: node-a
            roles: [fabric, ghost-shadow]
        tenants:
          - name: blue
            vni: 2001
        gateways:
          - name: gw-m
            node: node-a
            tenants:
              - tenant: blue
                networks: [10.0.0.1/24]
                downlink: { kind: tap, name: {{down}} }
                uplink:
                  port: { kind: tap, name: {{up}} }
                  address: 192.0.2.2/24
                  mtu: 1400
                routes:
                  - prefix: 0.0.0.0/0
                    nextHop: 192.0.2.1
                snatPool: [192.0.2.10]
                firewall:
                  defaultPolicy: allow
        """;

    private static long Drops(System.Text.Json.Nodes.JsonNode view, string reason) => view["status"]!["drops"]![reason]!.GetValue<long>();

    [Fact]
    public async Task A_DF_ping_too_big_for_the_uplink_is_told_the_mtu_the_host_learns_it_and_ping_and_TCP_that_fit_pass()
    {
        HostTools.RequireRoot();
        var ping = HostTools.Require("ping", "iputils-ping");
        var iperf3 = HostTools.Require("iperf3", "iperf3");
        var tag = $"pm{Environment.ProcessId % 100000}";
        string down = tag + "d", up = tag + "u";

        using var inside = new TestNamespace("pmtu-in");
        using var outside = new TestNamespace("pmtu-out");
        using var dir = new TempDir();
        await using var node = await TestNode.StartAsync("node-a", dir.Sub("a"));
        await Eventually.Holds(async () => await node.UpCount() == 1, Wait, "node-a Up");
        await ApplyAsync(node, Intent(down, up), "gw-m");
        foreach (var tap in new[] { down, up })
            await Eventually.Holds(() => HostTools.Run(HostTools.Require("ip", "iproute2"), $"link show {tap}").ExitCode == 0, Wait, $"tap {tap} opened");

        // The node gave the uplink's device the intent's MTU, the downlink's the default.
        Assert.Contains(" mtu 1400 ", HostTools.Ip($"link show {up}"));
        Assert.Contains(" mtu 1500 ", HostTools.Ip($"link show {down}"));
        Attach(inside, down, "10.0.0.10/24", gateway: "10.0.0.1");
        Attach(outside, up, "192.0.2.1/24", gateway: null);
        outside.Ip($"addr add {Server}/32 dev lo");
        await Eventually.Holds(async () => (await GatewayView(node, "gw-m"))["status"]!["neighbors"]!.GetValue<int>() >= 1, Wait, "the gateway resolved the upstream router");
        var ports = (await GatewayView(node, "gw-m"))["status"]!["ports"]!.AsArray();
        Assert.Contains(ports, p => p!["name"]!.GetValue<string>() == up && p["mtu"]!.GetValue<int>() == 1400);

        // 1372 + 8 + 20 = 1400 bytes: fits.
        var fits = inside.Exec(ping, $"-n -M do -s 1372 -c 3 -i 0.2 -W 2 {Server}", timeoutMs: 15_000);
        output.WriteLine(fits.ToString());
        Assert.Equal(0, fits.ExitCode);

        // 1472 + 28 = 1500: the gateway answers for its uplink.
        var tooBig = inside.Exec(ping, $"-n -M do -s 1472 -c 3 -i 0.2 -W 2 {Server}", timeoutMs: 15_000);
        output.WriteLine(tooBig.ToString());
        Assert.NotEqual(0, tooBig.ExitCode);
        var said = tooBig.Stdout + tooBig.Stderr;
        Assert.True(said.Contains("Frag needed and DF set (mtu = 1400)") || said.Contains("mtu=1400"), said);
        var route = inside.Exec(HostTools.Require("ip", "iproute2"), $"route get {Server}");
        output.WriteLine(route.ToString());
        Assert.Contains("mtu 1400", route.Stdout);
        var view = await GatewayView(node, "gw-m");
        Assert.True(Drops(view, "fragmentation-needed") >= 1, view["status"]!["drops"]!.ToJsonString());


        // TCP: the outside link now says 1500, so the server's SYN-ACK offers MSS 1460 and the
        // inside host sends 1500-byte segments (TSO runs cut at the TAP) until the gateway tells it
        // 1400; after that its segments (and super-frames of them) fit and data flows.
        inside.Ip($"route flush cache");
        outside.Ip($"link set {up} mtu 1500");
        var before = Drops(await GatewayView(node, "gw-m"), "fragmentation-needed");
        using var server = BackgroundTool.In(outside, iperf3, $"-s -1 -B {Server}");
        await Eventually.Holds(() => outside.Exec("ss", "-ltn").Stdout.Contains($"{Server}:5201"), TimeSpan.FromSeconds(10), "iperf3 listening");
        var client = inside.Exec(iperf3, $"-c {Server} -t 3 -J", timeoutMs: 30_000);
        Assert.Equal(0, client.ExitCode);
        var result = System.Text.Json.Nodes.JsonNode.Parse(client.Stdout)!;
        var received = result["end"]!["sum_received"]!;
        var gbps = received["bits_per_second"]!.GetValue<double>() / 1e9;
        output.WriteLine($"iperf3 through the gateway with PMTUD: {gbps:0.00} Gbit/s, {received["bytes"]} bytes received, retransmits {result["end"]!["sum_sent"]!["retransmits"]}");
        Assert.True(received["bytes"]!.GetValue<long>() > 10_000_000, "TCP carried data across the smaller MTU");
        view = await GatewayView(node, "gw-m");
        output.WriteLine(view["status"]!["counters"]!.ToJsonString());
        output.WriteLine(view["status"]!["drops"]!.ToJsonString());
        Assert.True(Drops(view, "fragmentation-needed") > before, "the 1500-byte segments were answered, not silently lost");
        route = inside.Exec(HostTools.Require("ip", "iproute2"), $"route get {Server}");
        output.WriteLine(route.ToString());
        Assert.Contains("mtu 1400", route.Stdout);
    }
}
