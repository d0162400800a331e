using Fabric.Messages.Intent;
using static Fabric.Tests.Intent.IntentTestDocs;

namespace Fabric.Tests.Intent;

/// <summary>A gateway tenant whose downlink is its logical switch: the router port's intent and what is refused.</summary>
public class IntentRouterPortTests
{
    /// <summary>gw-1 routes blue's logical switch (line 22); gw-2 has a TAP downlink on node-2, which runs no host.</summary>
    private const string Doc = """
        nodes:
          - { name: node-1, address: 10.0.0.1, roles: [fabric] }
          - { name: node-2, address: 10.0.0.2, roles: [fabric] }
        tenants:
          - { name: blue, vni: 1001 }
          - { name: red, vni: 1002 }
        hosts:
          - name: host-1
            node: node-1
            mfe: { name: mfe-1 }
            containerDcns:
              - { name: dcn-1, vnicMac: 02:00:00:00:10:01 }
            containers:
              - { name: web, dcn: dcn-1, localTag: 101, mac: 02:00:00:00:11:01, ip: 10.1.0.10, tenant: blue }
        gateways:
          - name: gw-1
            node: node-1
            mac: 02:00:00:00:0a:01
            tenants:
              - tenant: blue
                networks: [10.1.0.1/24]
                downlink: { kind: logicalSwitch, name: blue }
                uplink: { port: { kind: simulated, name: blue-up }, address: 203.0.113.2/24 }
                routes: [ { prefix: 0.0.0.0/0, nextHop: 203.0.113.1 } ]
                snatPool: [203.0.113.10]
                dnat: [ { protocol: tcp, externalPort: 8080, internalAddress: 10.1.0.10, internalPort: 80 } ]
          - name: gw-2
            node: node-2
            tenants:
              - tenant: red
                networks: [10.2.0.1/24]
                downlink: { kind: tap, name: tap-red }
        """;

    [Fact]
    public void A_logical_switch_downlink_and_the_gateway_mac_are_read_and_written_back()
    {
        var document = Valid(Doc);

        var gateway = document.Gateways[0];
        Assert.Equal(new PortRef(PortKind.LogicalSwitch, "blue"), gateway.Tenants[0].Downlink);
        Assert.True(Mac48.TryParse("02:00:00:00:0a:01", out var mac));
        Assert.Equal(mac, gateway.RouterMac);
        Assert.Equal(GatewayIntent.DerivedMac("gw-2"), document.Gateways[1].RouterMac);
        var again = Valid(IntentJson.Write(document));
        Assert.Equal(gateway.Tenants[0].Downlink, again.Gateways[0].Tenants[0].Downlink);
        Assert.Equal(gateway.Mac, again.Gateways[0].Mac);
    }

    [Fact]
    public void A_logical_switch_anywhere_but_a_gateway_downlink_is_refused()
    {
        SingleError(Doc.With(12, "      - { name: dcn-1, vnicMac: 02:00:00:00:10:01, port: { kind: logicalSwitch, name: blue } }"), 12,
            "hosts[0].containerDcns[0].port.kind", "only a gateway tenant's downlink can be a logicalSwitch; this must be tap or simulated");
    }

    [Fact]
    public void A_router_on_another_tenants_switch_is_refused()
    {
        SingleError(Doc.With(22, "        downlink: { kind: logicalSwitch, name: red }"), 22, "gateways[0].tenants[0].downlink.name",
            "a tenant's router is on its own logical switch: 'red' is not tenant 'blue'");
    }

    [Fact]
    public void A_router_on_a_node_without_a_host_is_refused()
    {
        SingleError(Doc.With(32, "        downlink: { kind: logicalSwitch, name: red }"), 32, "gateways[1].tenants[0].downlink",
            "gateway 'gw-2' is on node 'node-2', which runs no host: a logicalSwitch downlink is a router port on the MFE of the gateway node's host");
    }

    [Fact]
    public void A_router_address_that_is_a_containers_is_refused()
    {
        SingleError(Doc.With(21, "        networks: [10.1.0.10/24]").With(26, "        dnat: []"), 21, "gateways[0].tenants[0].networks[0]",
            "10.1.0.10 is container host-1/web's address on logical switch 'blue'; the router port needs its own");
    }

    [Fact]
    public void A_router_without_networks_is_refused()
    {
        SingleError(Doc.With(21, "        networks: []").With(24, "        routes: []").With(26, "        dnat: []"), 21, "gateways[0].tenants[0].networks",
            "a logicalSwitch downlink needs networks: they are the router port's addresses, the containers' default gateway");
    }

    [Fact]
    public void Two_routers_on_one_logical_switch_are_refused()
    {
        var second = Doc.With(28, "    node: node-1").With(30, "      - tenant: blue").With(32, "        downlink: { kind: logicalSwitch, name: blue }")
            .With(31, "        networks: [10.1.0.254/24]");
        var errors = Refused(second);
        Assert.Contains(errors, e => e.Line == 32 && e.Field == "gateways[1].tenants[0].downlink"
            && e.Reason == "logical switch 'blue' already has a router (first at line 22); a switch has one router port");
    }

    [Fact]
    public void A_gateway_mac_that_a_container_owns_is_refused()
    {
        SingleError(Doc.With(18, "    mac: 02:00:00:00:11:01"), 18, "gateways[0].mac", "MAC 02:00:00:00:11:01 is already used by hosts[0].containers[0].mac");
    }
}
