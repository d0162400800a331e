using Fabric.Messages.Intent;
using static Fabric.Tests.Intent.IntentTestDocs;

namespace Fabric.Tests.Intent;

/// <summary>Each kind of mistake is reported at its line, with the field's path and a reason.</summary>
public class IntentErrorTests
{
    [Fact]
    public void The_test_documents_are_valid_to_begin_with()
    {
        Valid(Pseudowires);
        Valid(Gateway);
        Valid(Hosts);
    }

    [Fact]
    public void An_unknown_field_is_refused_with_a_hint()
    {
        var errors = Refused(Pseudowires.With(17, "    remotPe: pe-b"));

        Assert.Contains(errors, e => e is { Line: 17, Field: "pws[0].remotPe", Reason: "unknown field 'remotPe'; did you mean 'remotePe'?" });
        Assert.Contains(errors, e => e is { Line: 15, Field: "pws[0].remotePe", Reason: "missing required field 'remotePe'" });
    }

    [Fact]
    public void An_unknown_field_with_no_close_match_lists_the_fields_allowed()
    {
        SingleError(Pseudowires.Inserting(14, "colour: red"), 14, "colour",
            "unknown field 'colour'; expected one of: version, baseVersion, nodes, tenants, pes, pws, trunks, gateways, hosts, hypervisors, checks, lab");
    }

    [Fact]
    public void A_missing_required_field_is_reported_at_its_element()
    {
        SingleError(Pseudowires.With(18, "    # no local label"), 15, "pws[0].localLabel", "missing required field 'localLabel'");
    }

    [Fact]
    public void A_value_of_the_wrong_type_is_refused()
    {
        SingleError(Pseudowires.With(39, "    members: pw-1"), 39, "trunks[0].members", "expected a list, got the string 'pw-1'");
    }

    [Fact]
    public void A_number_where_a_name_belongs_is_refused_with_a_quoting_hint()
    {
        SingleError(Pseudowires.With(11, "  - name: 42"), 11, "pes[1].name", "expected a string, got the number 42 (quote it if it is text)");
    }

    [Fact]
    public void A_duplicate_name_within_a_kind_is_refused()
    {
        SingleError(Gateway.Inserting(7, "  - name: blue\n    vni: 1002"), 7, "tenants[1].name", "duplicate tenant 'blue' (first at line 5)");
    }

    [Fact]
    public void The_same_name_in_two_kinds_is_fine()
    {
        Valid(Gateway.With(8, "  - name: blue"));
    }

    [Fact]
    public void A_pe_on_an_unknown_node_is_refused()
    {
        SingleError(Pseudowires.With(6, "    node: node-9"), 6, "pes[0].node", "unknown node 'node-9'");
    }

    [Fact]
    public void A_pw_towards_an_unknown_pe_is_refused()
    {
        SingleError(Pseudowires.With(17, "    remotePe: pe-9"), 17, "pws[0].remotePe", "unknown pe 'pe-9'");
    }

    [Fact]
    public void A_pw_on_an_unknown_pe_is_refused()
    {
        SingleError(Pseudowires.With(16, "    pe: pe-9"), 16, "pws[0].pe", "unknown pe 'pe-9'");
    }

    [Fact]
    public void A_trunk_member_that_is_not_a_pw_is_refused()
    {
        SingleError(Pseudowires.With(39, "    members: [pw-1, pw-9]"), 39, "trunks[0].members[1]", "unknown pw 'pw-9'");
    }

    [Fact]
    public void A_trunk_on_an_attachment_circuit_its_pe_lacks_is_refused()
    {
        SingleError(Pseudowires.With(38, "    attachmentCircuit: ce-x"), 38, "trunks[0].attachmentCircuit", "unknown attachment circuit 'ce-x' on pe 'pe-a'");
    }

    [Fact]
    public void A_bad_ipv4_address_is_refused()
    {
        SingleError(Pseudowires.With(7, "    routerId: 10.255.0.300"), 7, "pes[0].routerId", "'10.255.0.300' is not an IPv4 address");
    }

    [Fact]
    public void A_label_out_of_range_is_refused()
    {
        SingleError(Pseudowires.With(18, "    localLabel: 15"), 18, "pws[0].localLabel", "label 15 is out of range 16..1048575");
        SingleError(Pseudowires.With(19, "    remoteLabel: 1048576"), 19, "pws[0].remoteLabel", "label 1048576 is out of range 16..1048575");
    }

    [Fact]
    public void A_vlan_out_of_range_is_refused()
    {
        SingleError(Pseudowires.Inserting(11, "        vlan: 4095"), 11, "pes[0].attachmentCircuits[0].vlan", "vlan 4095 is out of range 1..4094");
    }

    [Fact]
    public void A_trunk_with_fewer_than_two_members_is_refused()
    {
        SingleError(Pseudowires.With(39, "    members: [pw-1]"), 39, "trunks[0].members", "a trunk needs at least 2 member PWs, got 1");
    }

    [Fact]
    public void A_trunk_member_of_another_pe_is_refused()
    {
        SingleError(Pseudowires.With(39, "    members: [pw-1, pw-3]"), 39, "trunks[0].members[1]", "pw 'pw-3' belongs to pe 'pe-b', not to the trunk's pe 'pe-a'");
    }

    [Fact]
    public void A_trunk_asking_for_more_active_members_than_it_has_is_refused()
    {
        SingleError(Pseudowires.Inserting(40, "    minActive: 3"), 40, "trunks[0].minActive", "minActive 3 is more than the trunk's 2 members");
    }

    [Fact]
    public void A_pw_whose_remote_label_no_pw_on_the_remote_pe_receives_is_refused()
    {
        SingleError(Pseudowires.With(19, "    remoteLabel: 2009"), 19, "pws[0].remoteLabel", "no pw on pe 'pe-b' towards 'pe-a' has local label 2009");
    }

    [Fact]
    public void Two_pws_of_one_pe_with_the_same_local_label_are_refused()
    {
        var errors = Refused(Pseudowires.With(23, "    localLabel: 1001"));

        Assert.Contains(errors, e => e is { Line: 23, Field: "pws[1].localLabel", Reason: "local label 1001 is already used on pe 'pe-a' (first at line 18)" });
    }

    [Fact]
    public void An_unsupported_schema_version_is_refused()
    {
        SingleError("version: 2\n" + Pseudowires, 1, "version", "unsupported schema version 2; this parser reads version 1");
    }

    [Fact]
    public void A_gateway_tenant_that_is_not_a_tenant_is_refused()
    {
        SingleError(Gateway.With(11, "      - tenant: red"), 11, "gateways[0].tenants[0].tenant", "unknown tenant 'red'");
    }

    [Fact]
    public void A_bad_cidr_is_refused()
    {
        SingleError(Gateway.With(12, "        networks: [10.1.0.1/33]"), 12, "gateways[0].tenants[0].networks[0]",
            "'10.1.0.1/33' is not an IPv4 address with a prefix length (a.b.c.d/n)");
        SingleError(Gateway.With(17, "          - prefix: 0.0.0.1/0"), 17, "gateways[0].tenants[0].routes[0].prefix",
            "'0.0.0.1/0' has host bits set; the network is 0.0.0.0/0");
        SingleError(Gateway.With(12, "        networks: [10.1.0.0/24]"), 12, "gateways[0].tenants[0].networks[0]",
            "'10.1.0.0/24' is the network address of its subnet; an interface needs a host address");
    }

    [Fact]
    public void A_route_via_a_next_hop_off_every_network_is_refused()
    {
        SingleError(Gateway.With(18, "            nextHop: 192.0.2.1"), 18, "gateways[0].tenants[0].routes[0].nextHop",
            "next hop 192.0.2.1 is not on any network of this tenant or its uplink");
    }

    [Fact]
    public void A_firewall_rule_with_ports_but_no_port_protocol_is_refused()
    {
        SingleError(Gateway.With(29, "              protocol: icmp"), 30, "gateways[0].tenants[0].firewall.rules[0].ports",
            "ports need protocol tcp or udp, not icmp");
    }

    [Fact]
    public void An_unknown_enum_value_lists_the_accepted_ones()
    {
        SingleError(Gateway.With(25, "          defaultPolicy: drop"), 25, "gateways[0].tenants[0].firewall.defaultPolicy",
            "unknown defaultPolicy 'drop'; expected allow|deny");
    }

    [Fact]
    public void A_container_in_an_unknown_dcn_is_refused()
    {
        SingleError(Hosts.With(13, "        dcn: dcn-9"), 13, "hosts[0].containers[0].dcn", "unknown container DCN 'dcn-9' on host 'host-1'");
    }

    [Fact]
    public void A_bad_mac_is_refused()
    {
        SingleError(Hosts.With(15, "        mac: 02:00:00:00:11"), 15, "hosts[0].containers[0].mac", "'02:00:00:00:11' is not a MAC address (xx:xx:xx:xx:xx:xx)");
        SingleError(Hosts.With(15, "        mac: 01:00:5e:00:00:01"), 15, "hosts[0].containers[0].mac",
            "'01:00:5e:00:00:01' is not a unicast MAC address (zero, or the group bit is set)");
    }

    [Fact]
    public void A_mac_used_twice_is_refused()
    {
        SingleError(Hosts.With(32, "        mac: 02:00:00:00:11:01"), 32, "hypervisors[0].vms[0].mac",
            "MAC 02:00:00:00:11:01 is already used by hosts[0].containers[0].mac");
    }

    [Fact]
    public void Two_containers_of_one_dcn_with_the_same_local_tag_are_refused()
    {
        SingleError(Hosts.With(19, "        localTag: 101"), 19, "hosts[0].containers[1].localTag",
            "local tag 101 is already used in DCN 'dcn-1' (first at line 14)");
    }

    [Fact]
    public void A_modem_device_that_is_neither_a_path_nor_simulated_is_refused()
    {
        SingleError(Hosts.With(27, "        device: ttyUSB2"), 27, "hypervisors[0].modems[0].device",
            "'ttyUSB2' is neither a serial device path under /dev/ (like /dev/ttyUSB2) nor 'simulated'");
    }

    [Fact]
    public void An_empty_document_is_refused_at_line_1()
    {
        SingleError("", 1, "", "empty document");
        SingleError("  \n\n", 1, "", "empty document");
        SingleError("# nothing but a comment\n", 1, "", "empty document");
    }

    [Fact]
    public void A_document_that_is_not_a_mapping_is_refused()
    {
        var error = Assert.Single(Refused("- nodes\n- pes\n"));
        Assert.Equal((1, ""), (error.Line, error.Field));
        Assert.StartsWith("expected a mapping of version, baseVersion, nodes", error.Reason);
    }

    [Fact]
    public void A_yaml_syntax_error_reports_its_line()
    {
        var error = Assert.Single(Refused("nodes:\n  - name: node-1\n    roles: [fabric\npes: []\n"));

        Assert.Equal("", error.Field);
        Assert.InRange(error.Line, 3, 4);
        Assert.StartsWith("YAML syntax error: ", error.Reason);
    }

    [Fact]
    public void A_duplicate_key_in_yaml_is_refused_with_its_line()
    {
        SingleError(Pseudowires.Inserting(18, "    pe: pe-b"), 18, "pws[0].pe", "duplicate key 'pe' (first at line 16)");
    }

    [Fact]
    public void A_json_syntax_error_reports_its_line()
    {
        var error = Assert.Single(Refused("{\n  \"nodes\": [\n    { \"name\": \"node-1\", }\n  ]\n}"));

        Assert.Equal(3, error.Line);
        Assert.Equal("", error.Field);
        Assert.StartsWith("JSON syntax error: ", error.Reason);
    }

    [Fact]
    public void A_json_document_reports_the_line_and_column_of_the_bad_value()
    {
        const string json = """
            {
              "nodes": [ { "name": "node-1", "roles": ["fabric"] } ],
              "pes": [
                { "name": "pe-a", "node": "node-1",
                  "routerId": "10.0.0.256" }
              ]
            }
            """;

        var error = Assert.Single(Refused(json));

        Assert.Equal((5, 19, "pes[0].routerId", "'10.0.0.256' is not an IPv4 address"), (error.Line, error.Column, error.Field, error.Reason));
    }

    [Fact]
    public void A_duplicate_key_in_json_is_refused_with_its_line()
    {
        SingleError("{\n  \"nodes\": [],\n  \"nodes\": []\n}", 3, "nodes", "duplicate key 'nodes' (first at line 2)");
    }

    [Fact]
    public void Several_errors_are_all_reported_in_line_order_and_nothing_partial_is_returned()
    {
        var text = Pseudowires
            .With(6, "    node: node-9")
            .With(7, "    routerId: 10.255.0.300")
            .With(18, "    localLabel: 15")
            .With(39, "    members: [pw-1]")
            .Inserting(40, "    speed: fast");

        var errors = Refused(text);

        Assert.Equal(
            [(6, "pes[0].node"), (7, "pes[0].routerId"), (18, "pws[0].localLabel"), (39, "trunks[0].members"), (40, "trunks[0].speed")],
            errors.Select(e => (e.Line, e.Field)));
    }

    [Fact]
    public void A_pw_in_two_trunks_is_refused()
    {
        var text = Pseudowires.Inserting(11, "      - name: ce-a2\n        port: {kind: simulated, name: ce-a2}") + "\n  - name: trunk-a2\n    pe: pe-a\n    attachmentCircuit: ce-a2\n    members: [pw-2, pw-1]";

        var errors = Refused(text);

        Assert.Equal(
            [(45, "trunks[1].members[0]", "pw 'pw-2' is already a member of trunk 'trunk-a'"), (45, "trunks[1].members[1]", "pw 'pw-1' is already a member of trunk 'trunk-a'")],
            errors.Select(e => (e.Line, e.Field, e.Reason)));
    }

    [Fact]
    public void One_port_and_vlan_used_by_two_attachments_is_refused()
    {
        SingleError(Pseudowires.Inserting(14, "    attachmentCircuits:\n      - name: ce-b\n        port: {kind: simulated, name: ce-a}"), 16,
            "pes[1].attachmentCircuits[0].port", "port simulated:ce-a on node 'node-1' is already used (first at line 10)");
    }

    [Fact]
    public void Two_attachments_whose_ports_cannot_be_read_are_not_also_reported_as_sharing_a_port()
    {
        var text = Pseudowires
            .With(10, "        port: {kind: simulated}")
            .Inserting(14, "    attachmentCircuits:\n      - name: ce-b\n        port: {kind: simulated}");

        var errors = Refused(text);

        Assert.Equal(
            [(10, "pes[0].attachmentCircuits[0].port.name", "missing required field 'name'"), (16, "pes[1].attachmentCircuits[0].port.name", "missing required field 'name'")],
            errors.Select(e => (e.Line, e.Field, e.Reason)));
    }

    [Fact]
    public void A_node_with_a_second_host_is_refused()
    {
        SingleError(Hosts.Inserting(22, "  - name: host-2\n    node: node-1\n    mfe: {name: mfe-2}"), 23, "hosts[1].node",
            "node 'node-1' already has a host (first at line 6); a node runs one MFE");
    }

    [Fact]
    public void A_second_yaml_document_is_refused()
    {
        SingleError("nodes: []\n---\npes: []\n", 2, "", "expected one YAML document, found a second one");
    }

    [Fact]
    public void An_alias_bomb_is_refused_not_expanded()
    {
        var lines = new List<string> { "a: &a [x, x, x, x, x, x, x, x, x, x]" };
        for (var i = 1; i < 7; i++)
            lines.Add($"{(char)('a' + i)}: &{(char)('a' + i)} [{string.Join(", ", Enumerable.Repeat($"*{(char)('a' + i - 1)}", 10))}]");

        var error = Assert.Single(Refused(string.Join("\n", lines)));

        Assert.Equal("document too large (aliases expand to too many nodes)", error.Reason);
    }

    [Fact]
    public void An_empty_mapping_is_a_valid_empty_intent()
    {
        var document = Valid("{}");

        Assert.Equal(IntentDocument.CurrentVersion, document.Version);
        Assert.Empty(document.Nodes);
    }

    [Fact]
    public void An_error_reads_as_line_field_and_reason()
    {
        Assert.Equal("line 12, pws[2].remotePe: unknown pe 'pe-9'", new IntentError(12, 5, "pws[2].remotePe", "unknown pe 'pe-9'").ToString());
        Assert.Equal("line 1: empty document", new IntentError(1, 1, "", "empty document").ToString());
    }
}
