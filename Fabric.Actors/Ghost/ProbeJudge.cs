using System.Collections.Immutable;
using Fabric.Messages.Ghost;
using Fabric.Messages.Intent;

namespace Fabric.Actors.Ghost;

/// <summary>What became of one probe, read from its hops.</summary>
public sealed record ProbeOutcome(PlannedProbe Probe, ImmutableArray<ProbeHop> Hops)
{
    public IEnumerable<ProbeHop> Deliveries => Hops.Where(IsDelivery);

    /// <summary>A hop where the probe reached an endpoint (the element reports it as "delivered ...").</summary>
    public static bool IsDelivery(ProbeHop hop) => !hop.Dropped && hop.Detail.StartsWith("delivered", StringComparison.Ordinal);

    public ProbeHop? FirstDrop => Hops.FirstOrDefault(h => h.Dropped);

    public bool Looped => Hops.Length >= ProbeTracer.HopLimit
        || Hops.Any(h => h.Dropped && (h.Detail.StartsWith("hop-limit", StringComparison.Ordinal) || h.Detail.StartsWith("ttl-exceeded", StringComparison.Ordinal)));

    /// <summary>Delivered out of <paramref name="label"/> on <paramref name="node"/> (tagged <paramref name="vlan"/> when the attachment is a VLAN of its port).</summary>
    public bool DeliveredAt(string node, string label, Fabric.Actors.DataPlane.Wire.VlanId? vlan = null) =>
        Deliveries.Any(h => h.Element == label && h.Node == node && (vlan is not { } v || h.Detail == $"delivered (vlan {v.Value})"));

    /// <summary>One line, stable across runs: where it ended. The differential compares these.</summary>
    public string Summary
    {
        get
        {
            if (Probe.Unresolved is { } u) return "not sent: " + u;
            if (Looped) return "looped";
            var delivered = Deliveries.Select(h => $"{h.Element}@{h.Node}{(h.Detail.Length > 9 ? h.Detail[9..] : "")}").Distinct().Order(StringComparer.Ordinal).ToList();
            if (delivered.Count > 0) return "delivered at " + string.Join(", ", delivered);
            if (FirstDrop is { } d) return $"dropped at {d.Element}: {Reason(d.Detail)}";
            return Hops.Length <= 1 ? "no answer (nothing forwarded it)" : $"no answer (last seen at {Hops[^1].Element})";
        }
    }

    /// <summary>The path as findings show it: "node: element — detail" per hop.</summary>
    public ImmutableArray<string> Path
    {
        get
        {
            static string Line(ProbeHop h) => $"{h.Node}: {h.Element} — {(h.Dropped ? "DROPPED " : "")}{h.Detail}";
            if (Hops.Length <= MaxPathHops) return Hops.Select(Line).ToImmutableArray();
            // A loop repeats itself: the first hops show it, the last show how it ended.
            return Hops.Take(MaxPathHops - 3).Select(Line)
                .Append($"... {Hops.Length - MaxPathHops + 1} more hop(s) ...")
                .Concat(Hops.Skip(Hops.Length - 2).Select(Line)).ToImmutableArray();
        }
    }

    /// <summary>Most hops a finding's path lists.</summary>
    public const int MaxPathHops = 24;

    /// <summary>A drop reason without the per-run detail in parentheses (stage records), for comparisons.</summary>
    private static string Reason(string detail)
    {
        var paren = detail.IndexOf(" (", StringComparison.Ordinal);
        return paren < 0 ? detail : detail[..paren];
    }
}

/// <summary>
/// Judges a verification: declared checks, the implicit checks (tenant isolation, trunk members,
/// PW remote PEs, DNAT reachability, no loops), and the differential against main. Pure.
/// </summary>
public static class ProbeJudge
{
    public static (ImmutableArray<GhostFinding> Findings, int Passed, int Failed) Judge(IntentDocument proposed, IReadOnlyList<ProbeOutcome> outcomes)
    {
        var findings = ImmutableArray.CreateBuilder<GhostFinding>();
        int passed = 0, failed = 0;
        void Result(bool ok, GhostFinding? finding)
        {
            if (ok) passed++;
            else
            {
                failed++;
                if (finding is not null) findings.Add(finding);
            }
        }

        foreach (var o in outcomes.Where(o => o.Probe.Declared || o.Probe.Check is "dnat-reachable" or "tenant-isolation"))
        {
            var p = o.Probe;
            if (p.Unresolved is { } why)
            {
                Result(false, new GhostFinding(p.Check, $"{p.Describe}: {why}.", []));
                continue;
            }
            var reached = p.To is { } to
                ? o.DeliveredAt(to.Node, to.DeliveryLabel, to.Vlan)
                : o.Deliveries.Any(h => h.Element != p.From!.DeliveryLabel);
            if (p.Expect == CheckExpectation.Reach)
            {
                Result(reached && !o.Looped, reached && !o.Looped ? null : new GhostFinding(p.Check,
                    $"{p.Describe} must reach {p.To?.Describe ?? "its destination"} but was {o.Summary}" + (p.Check == "dnat-reachable" ? " (declared DNAT rule)." : "."), o.Path));
            }
            else
            {
                var reason = p.Check == "tenant-isolation"
                    ? $"tenant isolation broken: {p.Describe} reached {p.To?.Describe} ({o.Summary})."
                    : $"{p.Describe} must be blocked but was {o.Summary}.";
                Result(!reached, reached ? new GhostFinding(p.Check, reason, o.Path) : null);
            }
        }

        var trunks = new TrunkLookup(proposed);
        foreach (var trunk in outcomes.Where(o => o.Probe.Check == "trunk-members").GroupBy(o => o.Probe.Group))
        {
            JudgeTrunk(trunks, trunk.Key, [.. trunk], Result);
        }

        foreach (var o in outcomes.Where(o => o.Looped).GroupBy(o => o.Probe.Check).Select(g => g.First()))
        {
            Result(false, new GhostFinding("no-loops", $"{o.Probe.Describe} went round a forwarding loop ({o.Hops.Length} hops; {o.Summary}).", o.Path));
        }
        return (findings.ToImmutable(), passed, failed);
    }

    /// <summary>Differential reachability: probes (by key) whose outcome changed between main and the proposal.</summary>
    public static ImmutableArray<ProbeDiff> Diff(IReadOnlyList<ProbeOutcome> before, IReadOnlyList<ProbeOutcome> after)
    {
        var old = before.ToDictionary(o => o.Probe.Key, o => o);
        var diff = ImmutableArray.CreateBuilder<ProbeDiff>();
        foreach (var o in after)
        {
            var was = old.TryGetValue(o.Probe.Key, out var b) ? b.Summary : "absent (not in main)";
            var summary = o.Summary; // built from the hops each time it is read
            if (was != summary) diff.Add(new ProbeDiff($"{o.Probe.Key}: {o.Probe.Describe}", was, summary));
        }
        var now = after.Select(o => o.Probe.Key).ToHashSet();
        foreach (var b in before.Where(b => !now.Contains(b.Probe.Key)))
        {
            diff.Add(new ProbeDiff($"{b.Probe.Key}: {b.Probe.Describe}", b.Summary, "absent (not in the proposal)"));
        }
        return diff.ToImmutable();
    }

    /// <summary>The intent's trunks, PWs and circuits by name, built once per judgement (a thousand trunks are judged at once).</summary>
    private sealed class TrunkLookup(IntentDocument intent)
    {
        public Dictionary<string, TrunkIntent> Trunks { get; } = intent.Trunks.GroupBy(t => t.Name).ToDictionary(g => g.Key, g => g.First());

        public Dictionary<string, PwIntent> Pws { get; } = intent.Pws.GroupBy(p => p.Name).ToDictionary(g => g.Key, g => g.First());

        /// <summary>The PE and circuit whose port is (node, port name): where a delivery arrived.</summary>
        public Dictionary<(string Node, string Port), (PeIntent pe, AttachmentCircuitIntent a)> CircuitAt { get; } =
            intent.Pes.SelectMany(pe => pe.AttachmentCircuits.Select(a => (pe, a)))
                .GroupBy(x => (x.pe.Node, x.a.Port.Name)).ToDictionary(g => g.Key, g => g.First());
    }

    private static void JudgeTrunk(TrunkLookup lookup, string trunkName, IReadOnlyList<ProbeOutcome> flows, Action<bool, GhostFinding?> result)
    {
        if (!lookup.Trunks.TryGetValue(trunkName, out var trunk)) return;
        var carried = trunk.Members.ToDictionary(m => m, _ => new List<ProbeOutcome>());
        var element = $"trunk {trunkName}"; // once, not once per hop of every flow
        foreach (var o in flows)
        {
            foreach (var h in o.Hops.Where(h => h.Element == element))
            {
                var member = h.Detail.StartsWith("member ", StringComparison.Ordinal) ? h.Detail[7..].Split(' ')[0] : "";
                if (carried.TryGetValue(member, out var list)) list.Add(o);
            }
        }
        var sample = flows.FirstOrDefault(f => f.Probe.Unresolved is null) ?? flows[0];
        if (carried.Values.All(l => l.Count == 0))
        {
            result(false, new GhostFinding("trunk-members",
                $"trunk {trunkName} carried none of its {flows.Count} probe flows ({sample.Summary}).", sample.Path));
            return;
        }
        foreach (var (member, list) in carried)
        {
            result(list.Count > 0, list.Count > 0 ? null : new GhostFinding("trunk-members",
                $"member {member} of trunk {trunkName} carried none of {flows.Count} probe flows: it is not active in the ghost network (its BFD session is not up).", []));
        }

        // pw-remote-pe: what a member carries must arrive at a circuit of the PE it names as remote.
        var acOf = lookup.CircuitAt;
        foreach (var (member, list) in carried)
        {
            if (!lookup.Pws.TryGetValue(member, out var pw)) continue;
            foreach (var o in list)
            {
                var wrong = o.Deliveries.Select(d => acOf.TryGetValue((d.Node, d.Element), out var x) ? x : default)
                    .FirstOrDefault(x => x.pe is not null && x.pe.Name != pw.RemotePe);
                if (wrong.pe is not null)
                {
                    result(false, new GhostFinding("pw-remote-pe",
                        $"{member} of {pw.Pe} names {pw.RemotePe} as its remote PE, but what it carries arrives at attachment circuit {wrong.pe.Name}/{wrong.a.Name} (labels cross-connect the wrong circuits).", o.Path));
                    break;
                }
            }
        }
    }
}
