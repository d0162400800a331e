using Fabric.Tests.Support;
using Xunit.Abstractions;

namespace Fabric.Tests.Ghost;

/// <summary>
/// Ghost verification through a gateway that routes a tenant's logical switch: the ghost MFE
/// carries the ghost gateway's router port (the ghost plane's patch panel), so a declared check
/// from a container to an outside address goes container → ghost MFE → ghost gateway (SNAT) →
/// its uplink, and the implicit DNAT check goes from outside to the container holding the inside
/// address. A firewall that breaks the container's way out is rejected at the gateway.
/// </summary>
public sealed class GhostRouterPortTests(ITestOutputHelper output)
{
    private static string Intent(string firewallAction = "allow") => Switching.RouterIntents.Blue(
        roles: "[fabric, ghost-shadow]",
        tenantLines: $$"""
                firewall:
                  defaultPolicy: allow
                  rules: [ { name: https, action: {{firewallAction}}, protocol: tcp, ports: 443 } ]
        """,
        documentLines: """
        checks:
          - name: web-out
            from: { container: host-1/web, address: 10.1.0.10 }
            to: { address: 198.51.100.7, protocol: tcp, port: 443 }
            expect: reach
        """);

    [Fact]
    public async Task A_check_from_a_container_to_an_outside_address_passes_through_the_ghost_gateway_and_a_firewall_that_breaks_it_is_rejected()
    {
        using var dir = new TempDir();
        await using var node = await TestNode.StartAsync("node-1", dir.Sub("n1"));
        await Eventually.Holds(async () => await node.UpCount() == 1, GhostChanges.Wait, "node Up");

        var change = await node.ProposeAndDecide(Intent(), output);
        Assert.Equal("committed", change["status"]!.ToString());
        Assert.Empty(change["findings"]!.AsArray());
        var diff = change["diff"]!.AsArray();
        Assert.Contains(diff, d => d!["probe"]!.ToString().StartsWith("web-out", StringComparison.Ordinal)
            && d["after"]!.ToString().StartsWith("delivered at gw-1/blue/uplink", StringComparison.Ordinal));
        Assert.Contains(diff, d => d!["probe"]!.ToString().StartsWith("dnat-reachable", StringComparison.Ordinal)
            && d["after"]!.ToString() == "delivered at dcn-1@node-1 (vlan 101)");

        // Main runs it too: both elements applied, web's port up, the gateway's downlink (its router port) up.
        await Eventually.Holds(async () => await node.AppliedVersion() == await node.IntentVersion(), GhostChanges.Wait, "main runs the intent");
        var applied = (await node.Get("/intent/applied"))["elements"]!.ToJsonString();
        Assert.Contains("host-1", applied, StringComparison.Ordinal);
        Assert.Contains("gw-1", applied, StringComparison.Ordinal);
        await Eventually.Holds(async () => (await node.Get("/hosts/host-1"))["ports"]!.AsArray().All(p => p!["state"]!.ToString() == "up"),
            GhostChanges.Wait, "web's port up");
        var ports = (await node.Get("/gateways/gw-1"))["status"]!["ports"]!.AsArray();
        Assert.Contains(ports, p => p!["role"]!.ToString() == "downlink" && p["state"]!.ToString() == "up");

        var bad = await node.ProposeAndDecide(Intent(firewallAction: "deny"), output);
        Assert.Equal("rejected", bad["status"]!.ToString());
        var finding = bad["findings"]!.AsArray().First(f => f!["check"]!.ToString() == "web-out")!;
        Assert.Contains(finding["path"]!.AsArray(), p => p!.ToString().Contains("firewall", StringComparison.OrdinalIgnoreCase));
    }
}
