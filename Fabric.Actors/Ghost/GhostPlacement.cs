using System.Collections.Immutable;
using Fabric.Messages.Ghost;
using Fabric.Messages.Intent;

namespace Fabric.Actors.Ghost;

/// <summary>
/// Where each intent node's ghost copies run: on the node itself when it carries the
/// ghost-shadow role, on a stand-in ghost-shadow node when it is up without the role, nowhere
/// when it is down (its elements are then unverifiable). Pure.
/// </summary>
public sealed record GhostPlacement(ImmutableDictionary<string, string> RunsOn, ImmutableArray<string> Down)
{
    /// <param name="alive">Intent node name → carries ghost-shadow, for every node seen up.</param>
    public static GhostPlacement Plan(IntentDocument intent, IReadOnlyDictionary<string, bool> alive, string standIn)
    {
        var runsOn = ImmutableDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        var down = ImmutableArray.CreateBuilder<string>();
        foreach (var node in intent.Nodes.Select(n => n.Name).Concat(ElementNodes(intent)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            if (alive.TryGetValue(node, out var ghost)) runsOn[node] = ghost ? node : standIn;
            else down.Add(node);
        }
        return new GhostPlacement(runsOn.ToImmutable(), down.ToImmutable());
    }

    /// <summary>
    /// The intent as the ghost network runs it: elements of stand-in nodes move to their stand-in
    /// (their attachment ports renamed <c>NODE~PORT</c> so they stay apart from the stand-in's
    /// own). Elements of down nodes stay where they are: no ghost node runs them, so what needs
    /// them fails visibly.
    /// </summary>
    public IntentDocument Rewrite(IntentDocument intent)
    {
        string Host(string node) => RunsOn.TryGetValue(node, out var on) ? on : node;
        bool Moved(string node) => RunsOn.TryGetValue(node, out var on) && on != node;
        return intent with
        {
            Pes = intent.Pes.Select(p => Moved(p.Node)
                ? p with
                {
                    Node = Host(p.Node),
                    AttachmentCircuits = p.AttachmentCircuits.Select(a => a with { Port = a.Port with { Name = $"{p.Node}~{a.Port.Name}" } }).ToImmutableArray(),
                }
                : p).ToImmutableArray(),
            Gateways = intent.Gateways.Select(g => Moved(g.Node) ? g with { Node = Host(g.Node) } : g).ToImmutableArray(),
            Hosts = intent.Hosts.Select(h => Moved(h.Node) ? h with { Node = Host(h.Node) } : h).ToImmutableArray(),
            Hypervisors = intent.Hypervisors.Select(h => Moved(h.Node) ? h with { Node = Host(h.Node) } : h).ToImmutableArray(),
        };
    }

    /// <summary>"pe pe-a (node-1): node-1" lines for the verdict.</summary>
    public ImmutableArray<string> Describe(IntentDocument intent) =>
        Elements(intent).Select(e => RunsOn.TryGetValue(e.Node, out var on)
                ? $"{e.Kind} {e.Name} (node {e.Node}): ghost copy ran on {on}{(on == e.Node ? "" : " (stand-in: its node has no ghost-shadow role)")}"
                : $"{e.Kind} {e.Name} (node {e.Node}): no ghost copy (node down)")
            .ToImmutableArray();

    /// <summary>Elements added or changed by the proposal on a node that is down, and PWs whose remote PE is there.</summary>
    public IEnumerable<GhostFinding> DownFindings(IntentDocument main, IntentDocument proposed)
    {
        if (Down.IsEmpty) yield break;
        var down = Down.ToHashSet(StringComparer.Ordinal);
        var before = Elements(main).ToDictionary(e => (e.Kind, e.Name), e => e.Text);
        var peNode = proposed.Pes.ToDictionary(p => p.Name, p => p.Node);
        foreach (var e in Elements(proposed).Where(e => down.Contains(e.Node)))
        {
            if (before.TryGetValue((e.Kind, e.Name), out var text) && text == e.Text) continue;
            yield return new GhostFinding("ghost-placement",
                $"{e.Kind} {e.Name} is hosted on node {e.Node}, which is down: the change to it can be neither verified nor applied.", []);
        }
        var oldPws = main.Pws.ToDictionary(p => p.Name, p => IntentJson.Write(new IntentDocument { Pws = [p] }));
        foreach (var pw in proposed.Pws)
        {
            if (!peNode.TryGetValue(pw.RemotePe, out var node) || !down.Contains(node)) continue;
            if (oldPws.TryGetValue(pw.Name, out var text) && text == IntentJson.Write(new IntentDocument { Pws = [pw] })) continue;
            yield return new GhostFinding("ghost-placement",
                $"pw {pw.Name} of {pw.Pe} goes to remote PE {pw.RemotePe} on node {node}, which is down: the PW cannot come up.", []);
        }
    }

    private static IEnumerable<string> ElementNodes(IntentDocument d) =>
        d.Pes.Select(p => p.Node).Concat(d.Gateways.Select(g => g.Node)).Concat(d.Hosts.Select(h => h.Node)).Concat(d.Hypervisors.Select(h => h.Node));

    private static IEnumerable<(string Kind, string Name, string Node, string Text)> Elements(IntentDocument d)
    {
        foreach (var pe in d.Pes)
        {
            yield return ("pe", pe.Name, pe.Node, IntentJson.Write(new IntentDocument
            {
                Pes = [pe], Pws = d.Pws.Where(p => p.Pe == pe.Name).ToImmutableArray(), Trunks = d.Trunks.Where(t => t.Pe == pe.Name).ToImmutableArray(),
            }));
        }
        foreach (var g in d.Gateways) yield return ("gateway", g.Name, g.Node, IntentJson.Write(new IntentDocument { Gateways = [g] }));
        foreach (var h in d.Hosts) yield return ("host", h.Name, h.Node, IntentJson.Write(new IntentDocument { Hosts = [h] }));
        foreach (var h in d.Hypervisors) yield return ("hypervisor", h.Name, h.Node, IntentJson.Write(new IntentDocument { Hypervisors = [h] }));
    }
}
