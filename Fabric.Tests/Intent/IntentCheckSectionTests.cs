using Fabric.Messages.Intent;
using static Fabric.Tests.Intent.IntentTestDocs;

namespace Fabric.Tests.Intent;

/// <summary>The <c>checks</c> section: read, written canonically, and refused with line and reason when wrong.</summary>
public class IntentCheckSectionTests
{
    private const string Base = """
        version: 1
        nodes:
          - { name: node-1, roles: [fabric, ghost-shadow] }
        tenants:
          - { name: blue, vni: 1001 }
        pes:
          - { name: pe-a, node: node-1, routerId: 10.255.0.1, attachmentCircuits: [ { name: ce-a, port: { kind: simulated, name: ce-a, segment: lan-a } } ] }
        gateways:
          - name: gw-1
            node: node-1
            tenants:
              - tenant: blue
                networks: [10.1.0.1/24]
                downlink: { kind: simulated, name: blue-in, segment: lab }
        checks:

        """;

    [Fact]
    public void Checks_are_read_with_their_ends_protocol_and_expectation_and_written_back_canonically()
    {
        var doc = Valid(Base + """
              - name: web
                from: { gateway: gw-1, tenant: blue, address: 10.1.0.20 }
                to: { address: 203.0.113.80, protocol: tcp, port: 80 }
                expect: reach
              - name: ce-blocked
                from: { attachmentCircuit: pe-a/ce-a, address: 10.88.0.1 }
                to: { address: 10.88.0.9 }
                expect: blocked
            """);

        var web = doc.Checks.Single(c => c.Name == "web");
        Assert.Equal(("gw-1", "blue"), (web.From.Gateway, web.From.Tenant));
        Assert.True(web.To.IsOutside);
        Assert.Equal((ProbeProtocol.Tcp, (ushort?)80, CheckExpectation.Reach), (web.Protocol, web.Port, web.Expect));
        var blocked = doc.Checks.Single(c => c.Name == "ce-blocked");
        Assert.Equal((ProbeProtocol.Icmp, CheckExpectation.Blocked), (blocked.Protocol, blocked.Expect));
        Assert.Equal("lan-a", doc.Pes[0].AttachmentCircuits[0].Port.Segment);

        var canonical = IntentJson.Write(doc);
        Assert.Contains("\"checks\"", canonical);
        Assert.Contains("\"segment\": \"lab\"", canonical);
        Assert.Equal(canonical, IntentJson.Write(Valid(canonical)));
    }

    [Fact]
    public void A_document_without_checks_keeps_its_canonical_text()
    {
        var doc = Valid(Base.Replace("checks:\n", ""));
        Assert.DoesNotContain("checks", IntentJson.Write(doc));
    }

    [Theory]
    [InlineData("from: { attachmentCircuit: pe-a/ce-zz, address: 10.88.0.1 }", "to: { address: 10.88.0.2 }", "checks[0].from", "unknown attachment circuit 'pe-a/ce-zz'")]
    [InlineData("from: { gateway: gw-1, tenant: red, address: 10.1.0.20 }", "to: { address: 10.88.0.2 }", "checks[0].from", "gateway 'gw-1' has no tenant 'red'")]
    [InlineData("from: { gateway: gw-1, address: 10.1.0.20 }", "to: { address: 10.88.0.2 }", "checks[0].from.tenant", "a gateway end needs the tenant it belongs to")]
    [InlineData("from: { attachmentCircuit: pe-a/ce-a, address: 10.88.0.1 }", "to: { address: 10.88.0.2, protocol: icmp, port: 7 }", "checks[0].to.port", "a port only goes with protocol tcp or udp, not icmp")]
    [InlineData("from: { attachmentCircuit: pe-a/ce-a, address: 10.88.0.1 }", "to: { address: 10.88.0.2, protocol: udp }", "checks[0].to.port", "a udp check needs a destination port")]
    [InlineData("from: { address: 10.88.0.1 }", "to: { address: 10.88.0.2 }", "checks[0].from", "a check needs an attachment point at one end at least")]
    public void A_wrong_check_is_refused_with_its_field_and_reason(string from, string to, string field, string reason)
    {
        var errors = Refused(Base + $"""
              - name: bad
                {from}
                {to}
                expect: reach
            """);
        Assert.Contains(errors, e => e.Field == field && e.Reason == reason);
        Assert.All(errors, e => Assert.True(e.Line >= 17, $"line {e.Line}: {e.Reason}"));
    }
}
