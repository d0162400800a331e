using Fabric.Messages.Intent;
using static Fabric.Tests.Intent.IntentTestDocs;

namespace Fabric.Tests.Intent;

/// <summary>The MFE's part of the schema: a DCN's VNIC port, a container's tenant, port ACLs and capture.</summary>
public class IntentSwitchingTests
{
    /// <summary>Two hosts; line numbers in the comments are what the error tests point at.</summary>
    private const string Doc = """
        nodes:
          - { name: node-1, address: 10.0.0.1, roles: [fabric] }
          - { name: node-2, address: 10.0.0.2, roles: [fabric] }
        tenants:
          - { name: blue, vni: 1001 }
        pes:
          - name: pe-a
            node: node-1
            routerId: 10.255.0.1
            attachmentCircuits: [ { name: ce-a, port: { kind: tap, name: tap-ce } } ]
        hosts:
          - name: host-1
            node: node-1
            mfe: { name: mfe-1 }
            containerDcns:
              - name: dcn-1
                vnicMac: 02:00:00:00:10:01
                port: { kind: tap, name: tap-dcn1 }
              - { name: dcn-2, vnicMac: 02:00:00:00:10:02 }
            containers:
              - name: web
                dcn: dcn-1
                localTag: 101
                mac: 02:00:00:00:11:01
                ip: 10.1.0.10
                tenant: blue
                ingress:
                  defaultPolicy: deny
                  rules:
                    - { name: http, action: allow, protocol: tcp, ports: 80 }
                egress:
                  defaultPolicy: allow
                  rules:
                    - { name: no-smtp, action: deny, protocol: tcp, ports: 25 }
                capture: /var/tmp/web.pcap
          - name: host-2
            node: node-2
            mfe: { name: mfe-2 }
            containerDcns:
              - { name: dcn-9, vnicMac: 02:00:00:00:10:09 }
            containers:
              - { name: api, dcn: dcn-9, localTag: 5, mac: 02:00:00:00:12:01, ip: 10.1.0.20, tenant: blue }
        """;

    [Fact]
    public void A_dcn_port_a_containers_tenant_acls_and_capture_are_read()
    {
        var document = Valid(Doc);

        var host = document.Hosts[0];
        Assert.Equal(new PortRef(PortKind.Tap, "tap-dcn1"), host.ContainerDcns[0].VnicPort);
        Assert.Equal(new PortRef(PortKind.Simulated, "dcn-2"), host.ContainerDcns[1].VnicPort);
        var web = host.Containers[0];
        Assert.Equal("blue", web.Tenant);
        Assert.Equal(FirewallPolicy.Deny, web.Ingress!.DefaultPolicy);
        Assert.Equal(new FirewallRuleIntent("http", FirewallAction.Allow, RuleProtocol.Tcp, default, default, new PortRange(80, 80)), web.Ingress.Rules[0]);
        Assert.Equal("no-smtp", web.Egress!.Rules[0].Name);
        Assert.Equal("/var/tmp/web.pcap", web.Capture);
        Assert.Null(document.Hosts[1].Containers[0].Ingress);
    }

    [Fact]
    public void Canonical_json_writes_the_default_dcn_port_and_the_new_fields_and_parses_back()
    {
        var canonical = IntentJson.Write(Valid(Doc));

        var dcn2 = canonical[canonical.IndexOf("\"name\": \"dcn-2\"", StringComparison.Ordinal)..];
        Assert.Matches("^\"name\": \"dcn-2\",\\s+\"vnicMac\": \"02:00:00:00:10:02\",\\s+\"port\": \\{\\s+\"kind\": \"simulated\",\\s+\"name\": \"dcn-2\"", dcn2);
        Assert.Contains("\"tenant\": \"blue\"", canonical, StringComparison.Ordinal);
        Assert.Contains("\"capture\": \"/var/tmp/web.pcap\"", canonical, StringComparison.Ordinal);
        Assert.Contains("\"ingress\": {", canonical, StringComparison.Ordinal);
        Assert.Equal(canonical, IntentJson.Write(Valid(canonical)));
    }

    [Fact]
    public void An_unknown_tenant_is_refused()
    {
        SingleError(Doc.With(26, "        tenant: red"), 26, "hosts[0].containers[0].tenant", "unknown tenant 'red'");
    }

    [Fact]
    public void Reject_is_not_a_container_port_action()
    {
        SingleError(Doc.With(30, "            - { name: http, action: reject, protocol: tcp, ports: 80 }"), 30,
            "hosts[0].containers[0].ingress.rules[0].action",
            "reject is not supported on a container port (the MFE does not answer for a container); use deny");
    }

    [Fact]
    public void A_port_acl_needs_its_default_policy_and_unique_rule_names()
    {
        SingleError(Doc.With(28, "          # no default policy"), 29, "hosts[0].containers[0].ingress.defaultPolicy", "missing required field 'defaultPolicy'");
        SingleError(Doc.Inserting(35, "            - { name: no-smtp, action: deny, protocol: tcp, ports: 587 }"), 35,
            "hosts[0].containers[0].egress.rules[1].name", "duplicate acl rule 'no-smtp' (first at line 34)");
    }

    [Fact]
    public void A_capture_must_be_an_absolute_file_path_used_once()
    {
        SingleError(Doc.With(35, "        capture: web.pcap"), 35, "hosts[0].containers[0].capture",
            "'web.pcap' is not an absolute file path (it must start with '/' and not end with '/')");
    }

    [Fact]
    public void A_dcn_port_already_used_by_an_attachment_circuit_is_refused()
    {
        SingleError(Doc.With(18, "        port: { kind: tap, name: tap-ce }"), 18, "hosts[0].containerDcns[0].port",
            "port tap:tap-ce on node 'node-1' is already used (first at line 10)");
        SingleError(Doc.With(18, "        port: { kind: tap, name: 'bad/name' }"), 18, "hosts[0].containerDcns[0].port.name",
            "'bad/name' is not a Linux interface name (1..15 characters, no '/', ':' or spaces)");
    }

    [Fact]
    public void An_address_used_twice_in_one_tenant_across_hosts_is_refused()
    {
        SingleError(Doc.With(42, "      - { name: api, dcn: dcn-9, localTag: 5, mac: 02:00:00:00:12:01, ip: 10.1.0.10, tenant: blue }"), 42,
            "hosts[1].containers[0].ip", "ip 10.1.0.10 is already used in tenant 'blue' by hosts[0].containers[0]");
        // Without a tenant the two containers are on no common switch: allowed.
        Valid(Doc.With(42, "      - { name: api, dcn: dcn-9, localTag: 5, mac: 02:00:00:00:12:01, ip: 10.1.0.10 }"));
    }
}
