using System.Text.Json.Nodes;
using Fabric.Tests.DataPlane.Io;
using Fabric.Tests.Support;
using Xunit.Abstractions;
using static Fabric.Tests.Gateways.GatewayNodeSupport;

namespace Fabric.Tests.Gateways;

/// <summary>
/// A port I/O fault restarts the port with backoff: a gateway whose TAP device is deleted under it
/// keeps trying to re-open it (failing while the name is taken by another kind of device, with a
/// growing delay), and once it can, the port is up again and carries traffic.
/// </summary>
public class GatewayPortRestartTests(ITestOutputHelper output)
{
    private static string Intent(string downlink) => $$"""
        version: 1
        nodes:
          - name: node-a
            roles: [fabric, ghost-shadow]
        tenants:
          - name: blue
            vni: 2101
        gateways:
          - name: gw-r
            node: node-a
            tenants:
              - tenant: blue
                networks: [10.0.0.1/24]
                downlink: { kind: tap, name: {{downlink}} }
                uplink:
                  port: { kind: simulated, name: blue-up }
                  address: 192.0.2.2/24
                routes:
                  - prefix: 0.0.0.0/0
                    nextHop: 192.0.2.1
        """;

    [Fact]
    public async Task A_tap_deleted_under_a_running_gateway_is_reopened_with_backoff_and_carries_traffic_again()
    {
        HostTools.RequireRoot();
        var ip = HostTools.Require("ip", "iproute2");
        HostTools.Require("ping", "iputils-ping");
        var tap = $"r{Environment.ProcessId % 100000}bd";

        using var ns = new TestNamespace("fgw-rst");
        using var dir = new TempDir();
        await using var node = await TestNode.StartAsync("node-a", dir.Sub("a"));
        await Eventually.Holds(async () => await node.UpCount() == 1, Wait, "node-a Up");
        await ApplyAsync(node, Intent(tap), "gw-r");
        await Eventually.Holds(() => HostTools.Run(ip, $"link show {tap}").ExitCode == 0, Wait, $"tap {tap} opened");
        Attach(ns, tap);
        await Eventually.Holds(() => Ping(ns), TimeSpan.FromSeconds(10), "the namespace pings the gateway over the tap");
        Assert.Equal(0, (await Port(node))["restarts"]!.GetValue<long>());

        try
        {
            // The name is taken in the gateway's namespace by a device of another kind (a persistent
            // TUN, not TAP): re-opening fails.
            HostTools.Ip($"tuntap add dev {tap} mode tun");
            ns.Ip($"link del {tap}");
            await Eventually.Holds(async () => (await Port(node))["openFailures"]!.GetValue<long>() >= 3, TimeSpan.FromSeconds(10), "re-opening failed and was retried");
            var failing = await Port(node);
            output.WriteLine(failing.ToJsonString());
            Assert.Equal("restarting", failing["state"]!.ToString());
            Assert.Equal(0, failing["restarts"]!.GetValue<long>());
            Assert.NotNull(failing["lastError"]);
        }
        finally
        {
            HostTools.Run(ip, $"tuntap del dev {tap} mode tun");
        }

        // The name is free again: the next attempt (at most a few backoff steps later) opens the port.
        await Eventually.Holds(async () => (await Port(node))["state"]!.ToString() == "up", TimeSpan.FromSeconds(15), "the port is up again");
        var up = await Port(node);
        output.WriteLine(up.ToJsonString());
        Assert.Equal(1, up["restarts"]!.GetValue<long>());

        // The re-opened device is in the node's namespace, as a new one would be: put it back and ping.
        Attach(ns, tap);
        await Eventually.Holds(() => Ping(ns), TimeSpan.FromSeconds(10), "the namespace pings the gateway over the re-opened tap");
    }

    private static async Task<JsonNode> Port(TestNode node) => (await GatewayView(node, "gw-r"))["status"]!["ports"]!.AsArray().Single(p => p!["kind"]!.ToString() == "tap")!;

    private static void Attach(TestNamespace ns, string tap)
    {
        HostTools.Ip($"link set {tap} netns {ns.Name}");
        ns.Ip($"addr add 10.0.0.10/24 dev {tap}");
        ns.Ip($"link set {tap} up");
    }

    private static bool Ping(TestNamespace ns) => ns.Exec("ping", "-c 1 -W 1 10.0.0.1", timeoutMs: 5000).ExitCode == 0;
}
