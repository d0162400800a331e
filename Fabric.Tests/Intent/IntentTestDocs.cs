using Fabric.Messages.Intent;

namespace Fabric.Tests.Intent;

/// <summary>Small intent documents whose line numbers the error tests point at.</summary>
internal static class IntentTestDocs
{
    public static string Sample => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "samples", "sample-intent.yaml"));

    /// <summary>Two PEs, four paired PWs, one trunk. Line numbers are in the comments.</summary>
    public const string Pseudowires = """
        nodes:
          - name: node-1
            roles: [fabric]
        pes:
          - name: pe-a
            node: node-1
            routerId: 10.255.0.1
            attachmentCircuits:
              - name: ce-a
                port: {kind: simulated, name: ce-a}
          - name: pe-b
            node: node-1
            routerId: 10.255.0.2
        pws:
          - name: pw-1
            pe: pe-a
            remotePe: pe-b
            localLabel: 1001
            remoteLabel: 2001
          - name: pw-2
            pe: pe-a
            remotePe: pe-b
            localLabel: 1002
            remoteLabel: 2002
          - name: pw-3
            pe: pe-b
            remotePe: pe-a
            localLabel: 2001
            remoteLabel: 1001
          - name: pw-4
            pe: pe-b
            remotePe: pe-a
            localLabel: 2002
            remoteLabel: 1002
        trunks:
          - name: trunk-a
            pe: pe-a
            attachmentCircuit: ce-a
            members: [pw-1, pw-2]
        """;

    /// <summary>One gateway with one tenant.</summary>
    public const string Gateway = """
        nodes:
          - name: node-1
            roles: [fabric]
        tenants:
          - name: blue
            vni: 1001
        gateways:
          - name: gw-1
            node: node-1
            tenants:
              - tenant: blue
                networks: [10.1.0.1/24]
                uplink:
                  port: {kind: tap, name: tap-up}
                  address: 203.0.113.2/24
                routes:
                  - prefix: 0.0.0.0/0
                    nextHop: 203.0.113.1
                dnat:
                  - protocol: tcp
                    externalPort: 8443
                    internalAddress: 10.1.0.10
                    internalPort: 443
                firewall:
                  defaultPolicy: deny
                  rules:
                    - name: web
                      action: allow
                      protocol: tcp
                      ports: 443
        """;

    /// <summary>A host with one DCN and two containers, and a hypervisor with a modem and a VM.</summary>
    public const string Hosts = """
        nodes:
          - name: node-1
            roles: [fabric]
        hosts:
          - name: host-1
            node: node-1
            mfe: {name: mfe-1}
            containerDcns:
              - name: dcn-1
                vnicMac: 02:00:00:00:10:01
            containers:
              - name: web
                dcn: dcn-1
                localTag: 101
                mac: 02:00:00:00:11:01
                ip: 10.1.0.10
              - name: db
                dcn: dcn-1
                localTag: 102
                mac: 02:00:00:00:11:02
                ip: 10.1.0.11
        hypervisors:
          - name: hv-1
            node: node-1
            modems:
              - name: modem-1
                device: /dev/ttyUSB2
                apn: internet
            bridge: {name: cbr0, mac: 02:00:00:00:20:01}
            vms:
              - name: vm-1
                mac: 02:00:00:00:21:01
        """;

    /// <summary>Replaces line <paramref name="line"/> (1-based) with <paramref name="text"/> (which may hold several lines).</summary>
    public static string With(this string document, int line, string text)
    {
        var lines = document.Split('\n').ToList();
        lines[line - 1] = text;
        return string.Join('\n', lines);
    }

    /// <summary>Inserts <paramref name="text"/> so that it becomes line <paramref name="line"/>.</summary>
    public static string Inserting(this string document, int line, string text)
    {
        var lines = document.Split('\n').ToList();
        lines.Insert(line - 1, text);
        return string.Join('\n', lines);
    }

    /// <summary>Parses a document that must be refused, and checks that nothing partial came back.</summary>
    public static IReadOnlyList<IntentError> Refused(string text)
    {
        var result = IntentParser.Parse(text);
        Assert.False(result.IsValid, "the document should have been refused");
        Assert.Null(result.Document);
        Assert.NotEmpty(result.Errors);
        return result.Errors;
    }

    /// <summary>Parses a document that must be valid.</summary>
    public static IntentDocument Valid(string text)
    {
        var result = IntentParser.Parse(text);
        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        Assert.Empty(result.Errors);
        return result.Document!;
    }

    /// <summary>The one error reported, with the expected line, field and reason.</summary>
    public static void SingleError(string text, int line, string field, string reason)
    {
        var errors = Refused(text);
        var error = Assert.Single(errors);
        Assert.Equal((line, field, reason), (error.Line, error.Field, error.Reason));
    }
}
