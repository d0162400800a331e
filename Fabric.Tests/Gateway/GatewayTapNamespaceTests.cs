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

    private static async Task<JsonNode> Port(TestNode node) => (await GatewayView(node, "gw-ns"))["status"]!["ports"]!.AsArray().Single(p => p!["kind"]!.ToString() == "tap")!;
}
