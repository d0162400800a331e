using Fabric.Tests.DataPlane.Io;
using Fabric.Tests.Support;
using Xunit.Abstractions;
using static Fabric.Tests.Gateways.GatewayNodeSupport;

namespace Fabric.Tests.Gateways;

/// <summary>
/// Real traffic through a gateway in a whole node: two tenants with the SAME subnet (10.0.0.0/24)
/// in their own namespaces and an "outside" namespace with TCP servers (netcat), each attached by
/// a TAP device the gateway opened. Both tenants reach the server through SNAT (it sees their pool
/// addresses), the firewall's denied port stays closed, and neither tenant reaches the other.
/// </summary>
public class GatewayTapTrafficTests(ITestOutputHelper output)
{
    private const string Server = "203.0.113.80";

    private static string Intent(string blueDown, string blueUp, string redDown, string redUp) => $$"""
        version: 1
        nodes:
          - name: node-a
            roles: [fabric, ghost-shadow]
        tenants:
          - name: blue
            vni: 2001
          - name: red
            vni: 2002
        gateways:
          - name: gw-t
            node: node-a
            tenants:
              - tenant: blue
                networks: [10.0.0.1/24]
                downlink: { kind: tap, name: {{blueDown}} }
                uplink:
                  port: { kind: tap, name: {{blueUp}} }
                  address: 192.0.2.2/24
                routes:
                  - prefix: 0.0.0.0/0
                    nextHop: 192.0.2.1
                snatPool: [192.0.2.10]
                firewall:
                  defaultPolicy: allow
                  rules:
                    - name: no-2323
                      action: deny
                      protocol: tcp
                      ports: 2323
              - tenant: red
                networks: [10.0.0.1/24]
                downlink: { kind: tap, name: {{redDown}} }
                uplink:
                  port: { kind: tap, name: {{redUp}} }
                  address: 198.51.100.2/24
                routes:
                  - prefix: 0.0.0.0/0
                    nextHop: 198.51.100.1
                snatPool: [198.51.100.10]
                firewall:
                  defaultPolicy: allow
                  rules:
                    - name: no-2323
                      action: deny
                      protocol: tcp
                      ports: 2323
        """;

    [Fact]
    public async Task Two_tenants_with_the_same_subnet_reach_a_server_through_SNAT_the_firewall_blocks_and_they_never_reach_each_other()
    {
        HostTools.RequireRoot();
        var nc = HostTools.Require("nc", "netcat-openbsd");
        var tag = $"g{Environment.ProcessId % 100000}";
        string blueDown = tag + "bd", blueUp = tag + "bu", redDown = tag + "rd", redUp = tag + "ru";

        using var blue = new TestNamespace("fgw-blue");
        using var red = new TestNamespace("fgw-red");
        using var outside = new TestNamespace("fgw-out");
        using var dir = new TempDir();
        await using var node = await TestNode.StartAsync("node-a", dir.Sub("a"));
        await Eventually.Holds(async () => await node.UpCount() == 1, Wait, "node-a Up");
        await ApplyAsync(node, Intent(blueDown, blueUp, redDown, redUp), "gw-t");

        // The gateway opened its TAP devices in this namespace: move each to its side and address it.
        foreach (var tap in new[] { blueDown, blueUp, redDown, redUp })
            await Eventually.Holds(() => HostTools.Run(HostTools.Require("ip", "iproute2"), $"link show {tap}").ExitCode == 0, Wait, $"tap {tap} opened");
        Attach(blue, blueDown, "10.0.0.10/24", gateway: "10.0.0.1");
        Attach(red, redDown, "10.0.0.10/24", gateway: "10.0.0.1");
        Attach(outside, blueUp, "192.0.2.1/24", gateway: null);
        Attach(outside, redUp, "198.51.100.1/24", gateway: null);
        outside.Ip($"addr add {Server}/32 dev lo");
        Assert.Equal("0", outside.Exec("cat", "/proc/sys/net/ipv4/ip_forward").Stdout.Trim()); // the outside does not route between uplinks
        await Eventually.Holds(async () => (await GatewayView(node, "gw-t"))["status"]!["neighbors"]!.GetValue<int>() >= 2,
            Wait, "the gateway resolved both upstream routers");

        using var web = new Netcat.Server(outside, nc, Server, 8080);
        using var telnetish = new Netcat.Server(outside, nc, Server, 2323);
        using var redService = new Netcat.Server(red, nc, "10.0.0.10", 9090);
        await Task.Delay(300);

        // Both tenants reach the server; it sees each tenant's pool address.
        Assert.Equal(0, Netcat.Client(blue, nc, "hello-from-blue", Server, 8080).ExitCode);
        Assert.Equal(0, Netcat.Client(red, nc, "hello-from-red", Server, 8080).ExitCode);
        await Eventually.Holds(() => web.Output.Contains("hello-from-blue") && web.Output.Contains("hello-from-red"), TimeSpan.FromSeconds(5), "the server got both greetings");
        Assert.Contains("Connection received on 192.0.2.10 ", web.Output);
        Assert.Contains("Connection received on 198.51.100.10 ", web.Output);
        Assert.DoesNotContain("Connection received on 10.0.0.10", web.Output);

        // The firewall denies tcp/2323 for both.
        Assert.NotEqual(0, Netcat.Client(blue, nc, "x", Server, 2323, waitSeconds: 2).ExitCode);
        Assert.NotEqual(0, Netcat.Client(red, nc, "x", Server, 2323, waitSeconds: 2).ExitCode);

        // Blue tries every address of red it could know; red's service never hears from it.
        Assert.NotEqual(0, Netcat.Client(blue, nc, "x", "198.51.100.10", 9090, waitSeconds: 2).ExitCode);
        Assert.NotEqual(0, Netcat.Client(blue, nc, "x", "198.51.100.2", 9090, waitSeconds: 2).ExitCode);
        await Task.Delay(200);
        Assert.DoesNotContain("Connection received", telnetish.Output);
        Assert.DoesNotContain("Connection received", redService.Output);

        var view = await GatewayView(node, "gw-t");
        output.WriteLine(view.ToJsonString());
        var drops = view["status"]!["drops"]!;
        Assert.True(drops["firewall-denied"]!.GetValue<long>() >= 2, "the denied SYNs were counted");
        Assert.True(view["status"]!["cache"]!["hits"]!.GetValue<long>() > 0, "later packets of the connections hit the cache");
    }
}
