using System.Text.Json.Nodes;
using Fabric.Tests.DataPlane.Io;
using Fabric.Tests.Support;
using Xunit.Abstractions;
using static Fabric.Tests.Gateways.GatewayNodeSupport;

namespace Fabric.Tests.Gateways;

/// <summary>
/// A gateway port whose TAP names a network namespace that does not exist yet: the port waits in
/// its restart-with-backoff state with a clear lastError (the gateway keeps running), and once the
/// namespace appears the device is created there and carries traffic.
/// </summary>
public class GatewayTapNamespaceTests(ITestOutputHelper output)
{
    private static string Intent(string downlink, string netns) => $$"""
        version: 1
        nodes:
          - name: node-a
            roles: [fabric, ghost-shadow]
        tenants:
          - name: blue
            vni: 2102
        gateways:
          - name: gw-ns
            node: node-a
            tenants:
              - tenant: blue
                networks: [10.0.0.1/24]
                downlink: { kind: tap, name: {{downlink}}, namespace: {{netns}} }
                uplink:
                  port: { kind: simulated, name: blue-up }
                  address: 192.0.2.2/24
                routes:
                  - prefix: 0.0.0.0/0
                    nextHop: 192.0.2.1
        """;

    [Fact]
    public async Task A_port_in_a_namespace_that_does_not_exist_restarts_with_backoff_and_opens_there_once_it_exists()
    {
        HostTools.RequireRoot();
        var ip = HostTools.Require("ip", "iproute2");
        HostTools.Require("ping", "iputils-ping");
        var tap = $"n{Environment.ProcessId % 100000}bd";
        var netns = $"fgw-late-{Environment.ProcessId}";
        using var dir = new TempDir();
        await using var node = await TestNode.StartAsync("node-a", dir.Sub("a"));
        try
        {
            await Eventually.Holds(async () => await node.UpCount() == 1, Wait, "node-a Up");
            await ApplyAsync(node, Intent(tap, netns), "gw-ns");
            await Eventually.Holds(async () => (await Port(node))["openFailures"]!.GetValue<long>() >= 2, TimeSpan.FromSeconds(15), "opening failed and was retried");
            var failing = await Port(node);
            output.WriteLine(failing.ToJsonString());
            Assert.Equal("restarting", failing["state"]!.ToString());
            Assert.Contains($"network namespace '{netns}' does not exist", failing["lastError"]!.ToString());

            HostTools.Ip($"netns add {netns}");
            await Eventually.Holds(async () => (await Port(node))["state"]!.ToString() == "up", TimeSpan.FromSeconds(15), "the port opened once the namespace exists");
            Assert.False(HostTools.Run(ip, $"link show {tap}").ExitCode == 0, "the device is in the named namespace, not the node's");
            HostTools.Ip($"-n {netns} addr add 10.0.0.10/24 dev {tap}");
            await Eventually.Holds(() => HostTools.Run(ip, $"netns exec {netns} ping -c 1 -W 1 10.0.0.1").ExitCode == 0,
                TimeSpan.FromSeconds(10), "the namespace pings the gateway over the tap the node created there (and brought up)");
        }
        finally
        {
            HostTools.Run(ip, $"netns del {netns}");
        }
    }

    private static string TwoTaps(string down, string up, string netns, bool taps) => $$"""
        version: 1
        nodes:
          - name: node-a
            roles: [fabric, ghost-shadow]
        tenants:
          - name: blue
            vni: 2103
        gateways:
          - name: gw-rm
            node: node-a
            tenants:
              - tenant: blue
                networks: [10.0.0.1/24]
                downlink: {{(taps ? $"{{ kind: tap, name: {down}, namespace: {netns} }}" : "{ kind: simulated, name: blue-down }")}}
                uplink:
                  port: {{(taps ? $"{{ kind: tap, name: {up}, namespace: {netns} }}" : "{ kind: simulated, name: blue-up }")}}
                  address: 192.0.2.2/24
                routes:
                  - prefix: 0.0.0.0/0
                    nextHop: 192.0.2.1
        """;

    [Fact]
    public async Task A_change_that_removes_the_ports_deletes_the_tap_the_node_made_and_keeps_the_one_ip_tuntap_made()
    {
        HostTools.RequireRoot();
        var ip = HostTools.Require("ip", "iproute2");
        var (down, up) = ($"m{Environment.ProcessId % 100000}d", $"m{Environment.ProcessId % 100000}u");
        using var ns = new TestNamespace("fgw-rm");
        ns.Ip($"tuntap add dev {up} mode tap");
        using var dir = new TempDir();
        await using var node = await TestNode.StartAsync("node-a", dir.Sub("a"));
        await Eventually.Holds(async () => await node.UpCount() == 1, Wait, "node-a Up");
        await ApplyAsync(node, TwoTaps(down, up, ns.Name, taps: true), "gw-rm");
        await Eventually.Holds(() => HostTools.Run(ip, $"-n {ns.Name} link show {down}").ExitCode == 0, TimeSpan.FromSeconds(15), $"{down} created in {ns.Name}");
        await Eventually.Holds(async () => (await GatewayView(node, "gw-rm"))["status"]!["ports"]!.AsArray().All(p => p!["state"]!.ToString() is not ("restarting" or "absent")),
            TimeSpan.FromSeconds(15), "both ports open (the uplink's device is down: link-down)");
        Assert.Contains(down, await File.ReadAllTextAsync(Path.Combine(dir.Sub("a"), Fabric.Actors.DataPlane.Io.AttachmentDevices.FileName)));
        // fabric.tap.tx-queue-length (4096) for the device the node made; the other keeps the kernel's 1,000.
        Assert.Contains(" qlen 4096", HostTools.Run(ip, $"-n {ns.Name} -o link show {down}").Stdout);
        Assert.Contains(" qlen 1000", HostTools.Run(ip, $"-n {ns.Name} -o link show {up}").Stdout);

        // The same gateway, its ports now simulated: the gateway reconfigures and closes both TAPs.
        await ApplyAsync(node, TwoTaps(down, up, ns.Name, taps: false), "gw-rm");
        await Eventually.Holds(() => HostTools.Run(ip, $"-n {ns.Name} link show {down}").ExitCode != 0, TimeSpan.FromSeconds(15), $"{down} deleted with its port");
        Assert.True(HostTools.Run(ip, $"-n {ns.Name} link show {up}").ExitCode == 0, "the device ip tuntap made stays");
        Assert.DoesNotContain(down, await File.ReadAllTextAsync(Path.Combine(dir.Sub("a"), Fabric.Actors.DataPlane.Io.AttachmentDevices.FileName)));
    }

    private static async Task<JsonNode> Port(TestNode node) => (await GatewayView(node, "gw-ns"))["status"]!["ports"]!.AsArray().Single(p => p!["kind"]!.ToString() == "tap")!;
}
