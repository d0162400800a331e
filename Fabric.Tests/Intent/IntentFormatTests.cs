using Fabric.Messages;
using Fabric.Messages.Intent;
using static Fabric.Tests.Intent.IntentTestDocs;

namespace Fabric.Tests.Intent;

public class IntentFormatTests
{
    private const string PwYaml = """
        # defaults left out, elements out of name order
        version: 1
        baseVersion: 41
        nodes:
          - name: node-1
            roles: [ghost-shadow, fabric]
        pes:
          - name: pe-b
            node: node-1
            routerId: 10.255.0.2
          - name: pe-a
            node: node-1
            routerId: 10.255.0.1
            attachmentCircuits:
              - name: ce-a
                port: {kind: simulated, name: ce-a}
                vlan: 100
        pws:
          - {name: pw-2, pe: pe-b, remotePe: pe-a, localLabel: 2001, remoteLabel: 1001}
          - {name: pw-1, pe: pe-a, remotePe: pe-b, localLabel: 1001, remoteLabel: 2001, flowLabel: true}
        """;

    private const string PwJson = """
        {
          "baseVersion": 41,
          "pws": [
            { "name": "pw-1", "pe": "pe-a", "remotePe": "pe-b", "localLabel": 1001, "remoteLabel": 2001,
              "controlWord": true, "flowLabel": true, "weight": 1 },
            { "name": "pw-2", "pe": "pe-b", "remotePe": "pe-a", "localLabel": 2001, "remoteLabel": 1001 }
          ],
          "pes": [
            { "name": "pe-a", "node": "node-1", "routerId": "10.255.0.1",
              "attachmentCircuits": [ { "name": "ce-a", "vlan": 100, "port": { "name": "ce-a", "kind": "simulated" } } ] },
            { "name": "pe-b", "node": "node-1", "routerId": "10.255.0.2", "attachmentCircuits": [] }
          ],
          "nodes": [ { "name": "node-1", "roles": ["fabric", "ghost-shadow"] } ]
        }
        """;

    [Fact]
    public void Yaml_and_json_of_the_same_document_parse_to_the_same_canonical_json()
    {
        var fromYaml = IntentJson.Write(Valid(PwYaml));
        var fromJson = IntentJson.Write(Valid(PwJson));

        Assert.Equal(fromYaml, fromJson);
    }

    [Fact]
    public void Json_laid_out_differently_parses_to_the_same_canonical_json()
    {
        var canonical = IntentJson.Write(Valid(Sample));

        // The canonical text is itself JSON input; re-indenting it must not change the meaning.
        var reflowed = canonical.Replace("\n", "\n\t ").Replace("[", "[ ");

        Assert.Equal(canonical, IntentJson.Write(Valid(reflowed)));
    }

    [Fact]
    public void Canonical_json_parses_back_to_the_same_canonical_text()
    {
        var canonical = IntentJson.Write(Valid(Sample));

        var again = IntentJson.Write(Valid(canonical));

        Assert.Equal(canonical, again);
    }

    [Fact]
    public void The_sample_intent_parses_valid_with_every_kind_of_element()
    {
        var document = Valid(Sample);

        Assert.Equal("node-1", Assert.Single(document.Nodes).Name);
        Assert.Equal(2, document.Tenants.Length);
        Assert.Equal(["pe-a", "pe-b"], document.Pes.Select(p => p.Name));
        Assert.All(document.Pes, pe => Assert.All(pe.AttachmentCircuits, ac => Assert.Equal(PortKind.Simulated, ac.Port.Kind)));
        Assert.Equal(4, document.Pws.Length);
        Assert.NotEmpty(document.Trunks);
        Assert.Equal(2, Assert.Single(document.Gateways).Tenants.Length);
        var host = Assert.Single(document.Hosts);
        Assert.Equal("mfe-1", host.Mfe.Name);
        Assert.Equal(2, host.Containers.Length);
        var hypervisor = Assert.Single(document.Hypervisors);
        Assert.True(Assert.Single(hypervisor.Modems).IsSimulated);
        Assert.Single(hypervisor.Vms);
    }

    [Fact]
    public void Canonical_json_is_indented_camel_case_with_every_default_written_out()
    {
        const string yaml = """
            nodes: [{name: n1, roles: [fabric]}]
            pes:
              - {name: a, node: n1, routerId: 10.0.0.1, attachmentCircuits: [{name: ac, port: {kind: tap, name: tap0}}]}
              - {name: b, node: n1, routerId: 10.0.0.2}
            pws:
              - {name: p1, pe: a, remotePe: b, localLabel: 100, remoteLabel: 200}
              - {name: p2, pe: a, remotePe: b, localLabel: 101, remoteLabel: 201}
              - {name: q1, pe: b, remotePe: a, localLabel: 200, remoteLabel: 100}
              - {name: q2, pe: b, remotePe: a, localLabel: 201, remoteLabel: 101}
            trunks:
              - {name: t, pe: a, attachmentCircuit: ac, members: [p2, p1]}
            """;

        var canonical = IntentJson.Write(Valid(yaml));

        Assert.Contains(Lines(
            "      \"name\": \"p1\",",
            "      \"pe\": \"a\",",
            "      \"remotePe\": \"b\",",
            "      \"localLabel\": 100,",
            "      \"remoteLabel\": 200,",
            "      \"controlWord\": true,",
            "      \"flowLabel\": false,",
            "      \"weight\": 1"), canonical);
        Assert.Contains(Lines(
            "      \"members\": [",
            "        \"p2\",",
            "        \"p1\"",
            "      ],",
            "      \"mode\": \"perFlow\",",
            "      \"minActive\": 1,",
            "      \"helloIntervalMs\": 50,",
            "      \"multiplier\": 3"), canonical);
        Assert.StartsWith("{\n  \"version\": 1,\n  \"nodes\": [", canonical);
        Assert.DoesNotContain("\r", canonical);
    }

    private static string Lines(params string[] lines) => string.Join('\n', lines);

    [Fact]
    public void Canonical_json_sorts_named_elements_but_keeps_the_order_of_rules_and_routes()
    {
        var document = Valid(Sample);
        var reordered = document with
        {
            Pws = [.. document.Pws.Reverse()],
            Tenants = [.. document.Tenants.Reverse()],
        };
        var rulesReversed = document with
        {
            Gateways = [.. document.Gateways.Select(g => g with
            {
                Tenants = [.. g.Tenants.Select(t => t with { Firewall = t.Firewall is null ? null : t.Firewall with { Rules = [.. t.Firewall.Rules.Reverse()] } })],
            })],
        };

        Assert.Equal(IntentJson.Write(document), IntentJson.Write(reordered));
        Assert.NotEqual(IntentJson.Write(document), IntentJson.Write(rulesReversed));
    }

    [Fact]
    public void A_document_built_in_code_writes_the_same_canonical_json_as_its_yaml()
    {
        const string yaml = """
            baseVersion: 7
            nodes:
              - {name: node-1, address: 10.0.0.1, roles: [fabric]}
            tenants:
              - {name: blue, vni: 5001}
            """;
        var built = new IntentDocument
        {
            BaseVersion = 7,
            Nodes = [new NodeIntent("node-1", [NodeRole.Fabric], new Ipv4(0x0A000001))],
            Tenants = [new TenantIntent("blue", 5001)],
        };

        Assert.Equal(IntentJson.Write(Valid(yaml)), IntentJson.Write(built));
    }

    [Fact]
    public void An_intent_document_is_a_fabric_message()
    {
        Assert.IsAssignableFrom<IFabricMessage>(Valid(Sample));
    }

    [Fact]
    public void An_intent_document_survives_a_hyperion_round_trip()
    {
        var document = Valid(Sample);
        var serializer = new Hyperion.Serializer();
        using var buffer = new MemoryStream();

        serializer.Serialize(document, buffer);
        buffer.Position = 0;
        var copy = serializer.Deserialize<IntentDocument>(buffer);

        Assert.Equal(IntentJson.Write(document), IntentJson.Write(copy));
    }

    [Fact]
    public void Yes_and_no_are_strings_in_yaml_not_booleans()
    {
        var errors = Refused(Pseudowires.Inserting(20, "    controlWord: yes"));

        var error = Assert.Single(errors);
        Assert.Equal((20, "pws[0].controlWord", "expected true or false, got the string 'yes'"), (error.Line, error.Field, error.Reason));
    }

    [Fact]
    public void A_quoted_number_in_yaml_is_a_string_and_an_unquoted_mac_is_not_a_number()
    {
        var document = Valid(Hosts);
        Assert.Equal("02:00:00:00:10:01", document.Hosts[0].ContainerDcns[0].VnicMac.ToString());

        SingleError(Pseudowires.With(18, "    localLabel: \"1001\""), 18, "pws[0].localLabel", "expected an integer, got the string '1001'");
    }
}
