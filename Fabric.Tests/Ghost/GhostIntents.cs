namespace Fabric.Tests.Ghost;

/// <summary>Intents for ghost verification tests: good ones and the mistakes the verifier must catch.</summary>
public static class GhostIntents
{
    /// <summary>
    /// The shipped sample (samples/sample-intent.yaml), checks included, without its generated
    /// traffic: main's counters then move only if a ghost frame leaked into main (the tests that
    /// verify during traffic are GhostDuringTrafficTests).
    /// </summary>
    public static string Sample()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Fabric.sln"))) dir = dir.Parent;
        var sample = File.ReadAllText(Path.Combine(dir?.FullName ?? throw new InvalidOperationException("repository root not found"), "samples", "sample-intent.yaml"));
        return System.Text.RegularExpressions.Regex.Replace(sample, @",\s*traffic:\s*\d+", "");
    }

    /// <summary>
    /// Two customers across one PE pair: CE1 (pe-a) with CE2 (pe-b), CE3 (pe-a) with CE4 (pe-b).
    /// <paramref name="crossConnected"/> binds pe-b's trunks to the wrong circuits: every label
    /// still pairs (the parser accepts it) but CE1's frames come out at CE4.
    /// </summary>
    public static string TwoCustomers(bool crossConnected) => $$"""
        version: 1
        nodes:
          - { name: node-1, address: 127.0.0.1, roles: [fabric, ghost-shadow] }
        pes:
          - { name: pe-a, node: node-1, routerId: 10.255.9.1, attachmentCircuits: [ { name: ce1, port: { kind: simulated, name: ce1 } }, { name: ce3, port: { kind: simulated, name: ce3 } } ] }
          - { name: pe-b, node: node-1, routerId: 10.255.9.2, attachmentCircuits: [ { name: ce2, port: { kind: simulated, name: ce2 } }, { name: ce4, port: { kind: simulated, name: ce4 } } ] }
        pws:
          - { name: pw-1, pe: pe-a, remotePe: pe-b, localLabel: 101, remoteLabel: 201 }
          - { name: pw-1b, pe: pe-a, remotePe: pe-b, localLabel: 102, remoteLabel: 202 }
          - { name: pw-3, pe: pe-a, remotePe: pe-b, localLabel: 103, remoteLabel: 203 }
          - { name: pw-3b, pe: pe-a, remotePe: pe-b, localLabel: 104, remoteLabel: 204 }
          - { name: pw-2, pe: pe-b, remotePe: pe-a, localLabel: 201, remoteLabel: 101 }
          - { name: pw-2b, pe: pe-b, remotePe: pe-a, localLabel: 202, remoteLabel: 102 }
          - { name: pw-4, pe: pe-b, remotePe: pe-a, localLabel: 203, remoteLabel: 103 }
          - { name: pw-4b, pe: pe-b, remotePe: pe-a, localLabel: 204, remoteLabel: 104 }
        trunks:
          - { name: t1, pe: pe-a, attachmentCircuit: ce1, members: [pw-1, pw-1b] }
          - { name: t3, pe: pe-a, attachmentCircuit: ce3, members: [pw-3, pw-3b] }
          - { name: t2, pe: pe-b, attachmentCircuit: {{(crossConnected ? "ce4" : "ce2")}}, members: [pw-2, pw-2b] }
          - { name: t4, pe: pe-b, attachmentCircuit: {{(crossConnected ? "ce2" : "ce4")}}, members: [pw-4, pw-4b] }
        checks:
          - name: ce1-to-ce2
            from: { attachmentCircuit: pe-a/ce1, address: 10.90.0.1 }
            to: { attachmentCircuit: pe-b/ce2, address: 10.90.0.2, protocol: icmp }
            expect: reach
          - name: ce3-to-ce4
            from: { attachmentCircuit: pe-a/ce3, address: 10.91.0.1 }
            to: { attachmentCircuit: pe-b/ce4, address: 10.91.0.2, protocol: icmp }
            expect: reach
        """;

    /// <summary>
    /// Two tenants of one gateway whose uplinks are wired to one transit segment (their ports name it). <paramref name="leak"/>
    /// adds a static route in blue towards green's inside network via green's uplink address.
    /// </summary>
    public static string SharedTransit(bool leak) => $$"""
        version: 1
        nodes:
          - { name: node-1, address: 127.0.0.1, roles: [fabric, ghost-shadow] }
        tenants:
          - { name: blue, vni: 2001 }
          - { name: green, vni: 2002 }
        gateways:
          - name: gw-1
            node: node-1
            tenants:
              - tenant: blue
                networks: [10.1.0.1/24]
                downlink: { kind: simulated, name: blue-in }
                uplink: { port: { kind: simulated, name: blue-up, segment: transit }, address: 192.0.2.2/24 }
                routes:
                  - { prefix: 0.0.0.0/0, nextHop: 192.0.2.1 }
        {{(leak ? "          - { prefix: 10.2.0.0/24, nextHop: 192.0.2.3 }" : "")}}
              - tenant: green
                networks: [10.2.0.1/24]
                downlink: { kind: simulated, name: green-in }
                uplink: { port: { kind: simulated, name: green-up, segment: transit }, address: 192.0.2.3/24 }
                routes:
                  - { prefix: 0.0.0.0/0, nextHop: 192.0.2.1 }
        """;

    /// <summary>
    /// Two gateways whose tenant LANs share one segment (their downlinks name it).
    /// <paramref name="loop"/> points gw-2's route for 10.99.0.0/24 back at gw-1, which routes it
    /// to gw-2: a two-router forwarding loop. The check's probe crosses both.
    /// </summary>
    public static string TwoRouters(bool loop) => $$"""
        version: 1
        nodes:
          - { name: node-1, address: 127.0.0.1, roles: [fabric, ghost-shadow] }
        tenants:
          - { name: blue, vni: 3001 }
        gateways:
          - name: gw-1
            node: node-1
            tenants:
              - tenant: blue
                networks: [10.5.0.1/24]
                downlink: { kind: simulated, name: gw1-in, segment: lab }
                routes:
                  - { prefix: 10.99.0.0/24, nextHop: 10.5.0.2 }
          - name: gw-2
            node: node-1
            tenants:
              - tenant: blue
                networks: [10.5.0.2/24]
                downlink: { kind: simulated, name: gw2-in, segment: lab }
                routes:
                  - { prefix: 10.99.0.0/24, nextHop: {{(loop ? "10.5.0.1" : "10.5.0.9")}} }
        checks:
          - name: lab-via-gw2
            from: { gateway: gw-1, tenant: blue, address: 10.5.0.20 }
            to: { gateway: gw-2, tenant: blue, address: 10.99.0.5, protocol: icmp }
            expect: reach
        """;
}
