using System.Diagnostics;
using System.Text.Json.Nodes;
using Fabric.Actors.Switching;
using Fabric.Tests.DataPlane.Io;
using Fabric.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;
using static Fabric.Tests.Gateways.GatewayNodeSupport;

namespace Fabric.Tests.Switching;

/// <summary>
/// Real traffic through the gateway as the containers' router: container c1 (a namespace behind
/// DCN a's tagger, <see cref="DcnTagger"/>) on blue's logical switch uses the gateway's router
/// port (10.62.0.1) as its default gateway; an "outside" namespace holds the gateway's uplink TAP
/// and the servers. The gateway runs on the MFE's node, or on a second node (its host there
/// carries the router port and the frames cross Geneve). c1 pings and connects out (the server
/// sees the SNAT pool address), a DNAT port-forward from outside reaches c1's listener, and a
/// short iperf3 run measures the path.
/// </summary>
[Collection("pw-traffic")]
public class MfeRouterTrafficTests(ITestOutputHelper output)
{
    private static readonly int Pid = Environment.ProcessId % 100000;
    private static readonly ushort GenevePort = (ushort)(46000 + Environment.ProcessId % 1000);
    private const string Server = "203.0.113.80";
    private static readonly DcnTagger.Container C1 = new("c1", 101, "02:00:00:62:00:01", "10.62.0.11/24");

    private static string Vnic => $"mr{Pid}";

    private static string Uplink => $"mu{Pid}";

    private static string Intent(bool sameNode) => $$"""
        nodes:
          - { name: node-1, address: 127.0.0.31, roles: [fabric, ghost-shadow] }
        {{(sameNode ? "" : "  - { name: node-2, address: 127.0.0.32, roles: [fabric, ghost-shadow] }")}}
        tenants:
          - { name: blue, vni: 5002 }
        hosts:
          - name: host-1
            node: node-1
            mfe: { name: mfe-1 }
            containerDcns:
              - { name: dcn-a, vnicMac: 02:00:00:62:10:01, port: { kind: tap, name: {{Vnic}} } }
            containers:
              - { name: c1, dcn: dcn-a, localTag: {{C1.Tag}}, mac: {{C1.Mac}}, ip: 10.62.0.11, tenant: blue }
        {{(sameNode ? "" : "  - { name: host-2, node: node-2, mfe: { name: mfe-2 } }")}}
        gateways:
          - name: gw-r
            node: {{(sameNode ? "node-1" : "node-2")}}
            tenants:
              - tenant: blue
                networks: [10.62.0.1/24]
                downlink: { kind: logicalSwitch, name: blue }
                uplink: { port: { kind: tap, name: {{Uplink}} }, address: 192.0.2.2/24 }
                routes: [ { prefix: 0.0.0.0/0, nextHop: 192.0.2.1 } ]
                snatPool: [192.0.2.10]
                dnat: [ { protocol: tcp, externalPort: 8080, internalAddress: 10.62.0.11, internalPort: 8080 } ]
        """;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_container_reaches_an_outside_server_through_the_gateways_SNAT_and_a_DNAT_port_forward_reaches_the_container(bool sameNode)
    {
        HostTools.RequireRoot();
        string ping = HostTools.Require("ping", "iputils-ping");
        string nc = HostTools.Require("nc", "netcat-openbsd");
        string iperf = HostTools.Require("iperf3", "iperf3");
        using var dir = new TempDir();
        using var uplink = new HostLink(Uplink); // the gateway's persistent TAP: gone after the nodes stop
        string hocon = $"fabric.switching.geneve-port = {GenevePort}";
        await using var n1 = await TestNode.StartAsync("node-1", dir.Sub("n1"), extraHocon: hocon);
        await using var n2 = sameNode ? null : await TestNode.StartAsync("node-2", dir.Sub("n2"), seeds: [n1.Seed], extraHocon: hocon);
        var gwNode = n2 ?? n1;
        await Eventually.Holds(async () => await n1.UpCount() == (sameNode ? 1 : 2), Wait, "members up");

        var id = await n1.Propose(Intent(sameNode));
        await Eventually.Holds(async () => await n1.ChangeStatus(id) is "committed" or "rejected", Wait, "the change decided");
        Assert.True(await n1.ChangeStatus(id) == "committed", (await n1.Get($"/changes/{id}")).ToJsonString());
        var sw1 = n1.Services.GetRequiredService<SwitchingNode>();
        var swGw = gwNode.Services.GetRequiredService<SwitchingNode>();
        string gwHost = sameNode ? "host-1" : "host-2";
        await Eventually.Holds(() => sw1.Mfes.TryGetValue("host-1", out var h) && h.IsReady
                && swGw.Mfes.TryGetValue(gwHost, out var g) && g.Routers.Values.Any(r => r.GatewayAttached),
            Wait, "c1 forwarding and the gateway attached to its router port");
        await Eventually.Holds(() => HostTools.Run(HostTools.Require("ip", "iproute2"), $"link show {Uplink}").ExitCode == 0, Wait, "uplink TAP opened");

        using var outside = new TestNamespace("mfr-out");
        using var dcn = new DcnTagger(Vnic, $"mr{Pid}", [C1]);
        var c1 = dcn.Containers["c1"];
        c1.Ip("route add default via 10.62.0.1");
        Attach(outside, Uplink, "192.0.2.1/24", gateway: null);
        outside.Ip($"addr add {Server}/32 dev lo");

        // The router port answers ARP and ping on the switch; beyond it, the outside.
        var toRouter = c1.Exec(ping, "-c 2 -i 0.2 -W 2 10.62.0.1");
        Assert.True(toRouter.ExitCode == 0, $"ping c1 -> 10.62.0.1 (the router port): {toRouter}\n{await Diagnose(n1, gwNode)}");
        var toServer = c1.Exec(ping, $"-c 3 -i 0.2 -W 2 {Server}");
        Assert.True(toServer.ExitCode == 0, $"ping c1 -> {Server}: {toServer}\n{await Diagnose(n1, gwNode)}");
        output.WriteLine(toServer.Stdout);

        // TCP out: the server sees the SNAT pool address, never c1's.
        using (var web = new Netcat.Server(outside, nc, Server, 8080))
        {
            await Task.Delay(300);
            Assert.Equal(0, Netcat.Client(c1, nc, "hello-from-c1", Server, 8080).ExitCode);
            await Eventually.Holds(() => web.Output.Contains("hello-from-c1"), TimeSpan.FromSeconds(5), "the server got c1's greeting");
            output.WriteLine(web.Output);
            Assert.Contains("Connection received on 192.0.2.10 ", web.Output);
            Assert.DoesNotContain("10.62.0.11", web.Output);
        }

        // DNAT: the outside connects to the uplink address; c1's listener answers.
        using (var inside = new Netcat.Server(c1, nc, "10.62.0.11", 8080))
        {
            await Task.Delay(300);
            Assert.Equal(0, Netcat.Client(outside, nc, "hello-via-dnat", "192.0.2.2", 8080).ExitCode);
            await Eventually.Holds(() => inside.Output.Contains("hello-via-dnat"), TimeSpan.FromSeconds(5), "c1 got the port-forwarded greeting");
            output.WriteLine(inside.Output);
            Assert.Contains("Connection received on 192.0.2.1 ", inside.Output);
        }

        // A short iperf3 run through the MFE, the router port (and Geneve) and the gateway's SNAT.
        var server = Process.Start(new ProcessStartInfo("ip", $"netns exec {outside.Name} {iperf} -s -1 -B {Server}")
        { RedirectStandardOutput = true, RedirectStandardError = true })!;
        try
        {
            await Eventually.Holds(() => outside.Exec("ss", "-ltn").Stdout.Contains(":5201", StringComparison.Ordinal), TimeSpan.FromSeconds(10), "iperf3 listening");
            var run = c1.Exec(iperf, $"-c {Server} -t 2 -J --connect-timeout 3000", timeoutMs: 30_000);
            Assert.True(run.ExitCode == 0, $"iperf3: {run}");
            var end = JsonNode.Parse(run.Stdout)!["end"]!;
            double mbits = end["sum_received"]!["bits_per_second"]!.GetValue<double>() / 1e6;
            output.WriteLine($"iperf3 TCP c1 -> {Server} through the gateway ({(sameNode ? "same node" : "over Geneve")}): {mbits:F0} Mbit/s, " +
                             $"retransmits {end["sum_sent"]!["retransmits"]}");
            Assert.True(mbits > 1, $"{mbits} Mbit/s");
        }
        finally
        {
            if (!server.HasExited) server.Kill(entireProcessTree: true);
            server.Dispose();
        }

        // Operations: the host's port and the gateway's router downlink are up; nothing was dropped at the router port.
        var host = await n1.Get("/hosts/host-1");
        Assert.All(host["ports"]!.AsArray(), p => Assert.Equal("up", p!["state"]!.ToString()));
        var routerView = (await gwNode.Get($"/hosts/{gwHost}"))["routers"]!.AsArray().Single()!;
        output.WriteLine(routerView.ToJsonString());
        Assert.Equal(("gw-r", "up", "10.62.0.1"), (routerView["gateway"]!.ToString(), routerView["state"]!.ToString(), routerView["addresses"]![0]!.ToString()));
        if (!sameNode) Assert.Equal("remote", host["routers"]![0]!["state"]!.ToString()); // host-1 reaches it over Geneve
        var ports = (await gwNode.Get("/gateways/gw-r"))["status"]!["ports"]!.AsArray();
        Assert.Contains(ports, p => p!["role"]!.ToString() == "downlink" && p["state"]!.ToString() == "up");
        var router = swGw.Mfes[gwHost].Routers.Values.Single();
        output.WriteLine($"router port: rx {router.Counters.RxFrames} tx {router.Counters.TxFrames} drops {string.Join(",", router.Counters.DropsByName())}");
        Assert.Equal(0, router.Counters.Drops(MfeDrop.RouterAbsent));
        Assert.Equal(0, dcn.UnknownTags);
    }

    private static async Task<string> Diagnose(TestNode n1, TestNode gwNode) =>
        (await n1.Get("/hosts/host-1")).ToJsonString() + "\n" + (await gwNode.Get("/gateways/gw-r")).ToJsonString();
}
