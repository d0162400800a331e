namespace Fabric.Tests.Switching;

/// <summary>
/// One node, host-1 with container web (10.1.0.10, tag 101) on blue's logical switch, and gateway
/// gw-1 (MAC 02:00:00:00:0a:01) whose blue downlink is that switch: router port 10.1.0.1, uplink
/// blue-up (simulated) 203.0.113.2/24, default route via 203.0.113.1, SNAT to 203.0.113.10, DNAT
/// tcp/8080 to web:80. <paramref name="roles"/>, and lines appended to blue's slice and to the
/// document (<paramref name="tenantLines"/>, <paramref name="documentLines"/>, written at their
/// final indentation), are what the tests vary.
/// </summary>
internal static class RouterIntents
{
    public static string Blue(string roles = "[fabric]", string tenantLines = "", string documentLines = "") => $$"""
        nodes:
          - { name: node-1, address: 127.0.0.1, roles: {{roles}} }
        tenants:
          - { name: blue, vni: 1001 }
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
        {{tenantLines}}
        {{documentLines}}
        """;
}
