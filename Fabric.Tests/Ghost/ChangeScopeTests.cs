using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using Fabric.Actors.Gateway;
using Fabric.Actors.Ghost;
using Fabric.Actors.Guardian;
using Fabric.Actors.Pseudowire;
using Fabric.Messages.Intent;

namespace Fabric.Tests.Ghost;

/// <summary>
/// Which probes a change brings in (<see cref="ChangeScope"/> with <see cref="ProbePlan"/>), on
/// the shape `scenario scale` measures: PE pairs joined by two PWs each way in one trunk per PE
/// (32 flows per trunk), and gateways whose tenants must stay apart (one probe per ordered pair).
/// The probes are counted as the verifier builds them.
/// </summary>
public sealed class ChangeScopeTests
{
    private const int Pairs = 4;
    private const int Gateways = 2;
    private const int Tenants = 3;
    private const int FlowsPerTrunk = PwGhostAttachments.TrunkFlows;
    private const int IsolationPerGateway = Tenants * (Tenants - 1);

    private static readonly IReadOnlyList<IGhostAttachments> Attachments = [new PwGhostAttachments(), new GatewayGhostAttachments()];

    [Fact]
    public void A_first_intent_probes_everything()
    {
        var scope = ChangeScope.Between(new IntentDocument(), Intent());
        var probes = Probes(Intent(), scope);

        Assert.True(scope.All || scope.Changed.Length > 0);
        Assert.Equal(ProbePlan.Build(Intent(), Attachments, 1).Length, probes.Count);
        Assert.Equal(2 * Pairs * FlowsPerTrunk + Gateways * IsolationPerGateway + 1, probes.Count);
    }

    [Fact]
    public void One_pw_weight_changed_probes_its_trunk_and_the_trunk_that_answers_it_and_the_declared_check()
    {
        var scope = ChangeScope.Between(Intent(), Intent(weightOf: "a1-1"));
        var probes = Probes(Intent(weightOf: "a1-1"), scope);

        Assert.Equal("pw:a1-1", string.Join(", ", scope.Changed));
        Assert.Equal(2 * FlowsPerTrunk + 1, probes.Count);
        Assert.Equal(["ta1", "tb1"], Trunks(probes));
        Assert.Single(probes, p => p.Declared);
    }

    [Fact]
    public void A_changed_pe_probes_its_trunk_and_its_peers_trunk_and_nothing_on_other_pairs()
    {
        var changed = Intent() with { Pes = Intent().Pes.Select(p => p.Name == "peb2" ? p with { RouterId = new Ipv4(0x0A090909) } : p).ToImmutableArray() };
        var scope = ChangeScope.Between(Intent(), changed);
        var probes = Probes(changed, scope);

        Assert.Equal("pe:peb2", string.Join(", ", scope.Changed));
        Assert.Equal(["ta2", "tb2"], Trunks(probes));
        Assert.Equal(2 * FlowsPerTrunk + 1, probes.Count);
    }

    [Fact]
    public void A_changed_gateway_tenant_probes_that_gateways_isolation_only()
    {
        var changed = Intent() with
        {
            Gateways = Intent().Gateways.Select(g => g.Name == "gw1"
                ? g with { Tenants = g.Tenants.Select(t => t.Tenant == "t0" ? t with { Routes = [] } : t).ToImmutableArray() }
                : g).ToImmutableArray(),
        };
        var scope = ChangeScope.Between(Intent(), changed);
        var probes = Probes(changed, scope);

        Assert.Equal("gateway:gw1", string.Join(", ", scope.Changed));
        Assert.Equal(IsolationPerGateway + 1, probes.Count);
        Assert.All(probes.Where(p => !p.Declared), p => Assert.StartsWith("gw1:", p.Group));
    }

    [Fact]
    public void A_removed_pw_still_brings_in_the_trunk_that_sent_into_it_read_from_main()
    {
        // Only the PW goes (the trunk still names it): in the proposal nothing points at it any
        // more, so only main says that trunk ta0's member a0-1 was answered by b0-1.
        var proposal = Intent() with { Pws = Intent().Pws.Where(p => p.Name != "b0-1").ToImmutableArray() };
        var scope = ChangeScope.Between(Intent(), proposal);

        Assert.Equal("pw:b0-1", string.Join(", ", scope.Changed));
        Assert.Equal(["ta0", "tb0"], Trunks(Probes(proposal, scope)));
    }

    [Fact]
    public void Ports_on_a_shared_segment_bring_in_the_probes_of_every_element_on_that_segment()
    {
        // cea3 shares a segment with gw0's uplink: a change to the gateway can reach what trunk ta3 carries.
        var main = Intent(segmentOnPair3: true);
        var changed = main with
        {
            Gateways = main.Gateways.Select(g => g.Name == "gw0"
                ? g with { Tenants = g.Tenants.Select(t => t.Tenant == "t2" ? t with { Routes = [] } : t).ToImmutableArray() }
                : g).ToImmutableArray(),
        };
        var scope = ChangeScope.Between(main, changed);

        Assert.Equal(["ta3", "tb3"], Trunks(Probes(changed, scope)));
    }

    [Fact]
    public void A_node_change_probes_everything()
    {
        var changed = Text(null, false).Replace("address: 127.0.77.100", "address: 127.0.77.101");
        var scope = ChangeScope.Between(Intent(), Parse(changed));

        Assert.True(scope.All);
        Assert.Equal(ProbePlan.Build(Intent(), Attachments, 1).Length, Probes(Parse(changed), scope).Count);
    }

    private static List<PlannedProbe> Probes(IntentDocument intent, ChangeScope scope)
    {
        var probes = ProbePlan.Build(intent, Attachments, 1, scope.Covers);
        Assert.Equal(ProbePlan.Count(intent, Attachments, scope.Covers), probes.Length);
        return [.. probes];
    }

    private static List<string> Trunks(IEnumerable<PlannedProbe> probes) =>
        probes.Where(p => p.Check == "trunk-members").Select(p => p.Group).Distinct().Order(StringComparer.Ordinal).ToList();

    private static IntentDocument Intent(string? weightOf = null, bool segmentOnPair3 = false) => Parse(Text(weightOf, segmentOnPair3));

    private static IntentDocument Parse(string text)
    {
        var result = IntentParser.Parse(text);
        Assert.True(result.IsValid, string.Join("; ", result.Errors.Select(e => $"{e.Line}:{e.Column} {e.Reason}")));
        return result.Document!;
    }

    /// <summary>The scale scenario's intent at a small size, with one declared check.</summary>
    private static string Text(string? weightOf, bool segmentOnPair3)
    {
        var b = new StringBuilder();
        b.Append("nodes:\n  - { name: node-1, address: 127.0.77.100, roles: [fabric, ghost-shadow] }\ntenants:\n");
        for (int t = 0; t < Tenants; t++) b.Append(CultureInfo.InvariantCulture, $"  - {{ name: t{t}, vni: {1000 + t} }}\n");
        b.Append("pes:\n");
        for (int i = 0; i < Pairs; i++)
        {
            foreach (var side in new[] { "a", "b" })
            {
                int id = 2 * i + (side == "a" ? 0 : 1);
                var segment = segmentOnPair3 && i == 3 && side == "a" ? ", segment: shared" : "";
                b.Append(CultureInfo.InvariantCulture, $"  - {{ name: pe{side}{i}, node: node-1, routerId: 10.0.0.{id + 1}, attachmentCircuits: [ {{ name: ce{side}{i}, port: {{ kind: simulated, name: ce{side}{i}{segment} }} }} ] }}\n");
            }
        }
        b.Append("pws:\n");
        for (int i = 0; i < Pairs; i++)
        {
            int l = 16 + 4 * i;
            string Weight(string name) => name == weightOf ? ", weight: 2" : "";
            b.Append(CultureInfo.InvariantCulture, $"  - {{ name: a{i}-1, pe: pea{i}, remotePe: peb{i}, localLabel: {l}, remoteLabel: {l + 2}{Weight($"a{i}-1")} }}\n");
            b.Append(CultureInfo.InvariantCulture, $"  - {{ name: a{i}-2, pe: pea{i}, remotePe: peb{i}, localLabel: {l + 1}, remoteLabel: {l + 3}{Weight($"a{i}-2")} }}\n");
            b.Append(CultureInfo.InvariantCulture, $"  - {{ name: b{i}-1, pe: peb{i}, remotePe: pea{i}, localLabel: {l + 2}, remoteLabel: {l}{Weight($"b{i}-1")} }}\n");
            b.Append(CultureInfo.InvariantCulture, $"  - {{ name: b{i}-2, pe: peb{i}, remotePe: pea{i}, localLabel: {l + 3}, remoteLabel: {l + 1}{Weight($"b{i}-2")} }}\n");
        }
        b.Append("trunks:\n");
        for (int i = 0; i < Pairs; i++)
        {
            b.Append(CultureInfo.InvariantCulture, $"  - {{ name: ta{i}, pe: pea{i}, attachmentCircuit: cea{i}, members: [a{i}-1, a{i}-2] }}\n");
            b.Append(CultureInfo.InvariantCulture, $"  - {{ name: tb{i}, pe: peb{i}, attachmentCircuit: ceb{i}, members: [b{i}-1, b{i}-2] }}\n");
        }
        b.Append("gateways:\n");
        for (int g = 0; g < Gateways; g++)
        {
            b.Append(CultureInfo.InvariantCulture, $"  - name: gw{g}\n    node: node-1\n    tenants:\n");
            for (int t = 0; t < Tenants; t++)
            {
                var segment = segmentOnPair3 && g == 0 && t == 2 ? ", segment: shared" : "";
                b.Append(CultureInfo.InvariantCulture, $"      - tenant: t{t}\n        networks: [10.{100 + g}.{t}.1/24]\n        downlink: {{ kind: simulated, name: g{g}t{t}-in }}\n");
                b.Append(CultureInfo.InvariantCulture, $"        uplink: {{ port: {{ kind: simulated, name: g{g}-up{t}{segment} }}, address: 100.{64 + g}.{t}.2/24 }}\n");
                b.Append(CultureInfo.InvariantCulture, $"        routes: [ {{ prefix: 0.0.0.0/0, nextHop: 100.{64 + g}.{t}.1 }} ]\n");
            }
        }
        b.Append("checks:\n  - name: ce0-reach\n    from: { attachmentCircuit: pea0/cea0, address: 10.90.0.1 }\n    to: { attachmentCircuit: peb0/ceb0, address: 10.90.0.2, protocol: icmp }\n    expect: reach\n");
        return b.ToString();
    }
}
