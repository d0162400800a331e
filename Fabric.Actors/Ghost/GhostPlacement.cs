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
        var peNode = intent.Pes.ToDictionary(p => p.Name, p => p.Node, StringComparer.Ordinal);
        var labels = MovedLabels(intent, peNode, Moved);
        uint Label(string pe, uint label) => labels.TryGetValue((peNode.GetValueOrDefault(pe, ""), label), out var l) ? l : label;
        return intent with
        {
            // A stand-in demultiplexes its own PWs and the moved ones on one ghost underlay: the
            // moved PEs' labels (both ends of each pair) are renumbered so the label spaces of two
            // nodes cannot collide there. Labels are names; the behaviour under test is the same.
            Pws = labels.Count == 0 ? intent.Pws : intent.Pws.Select(p => p with { LocalLabel = Label(p.Pe, p.LocalLabel), RemoteLabel = Label(p.RemotePe, p.RemoteLabel) }).ToImmutableArray(),
            Pes = intent.Pes.Select(p => Moved(p.Node)
                ? p with
                {
                    Node = Host(p.Node),
                    AttachmentCircuits = p.AttachmentCircuits.Select(a => a with { Port = a.Port with { Name = $"{p.Node}~{a.Port.Name}" } }).ToImmutableArray(),
                }
                : p).ToImmutableArray(),
            Gateways = intent.Gateways.Select(g => Moved(g.Node) ? g with { Node = Host(g.Node) } : g).ToImmutableArray(),
            Hosts = intent.Hosts.Select(h => Moved(h.Node)
                ? h with
                {
                    Node = Host(h.Node),
                    ContainerDcns = h.ContainerDcns.Select(d => d with { Port = d.VnicPort with { Name = $"{h.Node}~{d.VnicPort.Name}" } }).ToImmutableArray(),
                }
                : h).ToImmutableArray(),
            Hypervisors = intent.Hypervisors.Select(h => Moved(h.Node) ? h with { Node = Host(h.Node) } : h).ToImmutableArray(),
        };
    }

    /// <summary>Fresh labels for the local labels of PEs on moved nodes: (node, label) → label unused anywhere in the intent.</summary>
    private static Dictionary<(string Node, uint Label), uint> MovedLabels(IntentDocument intent, Dictionary<string, string> peNode, Func<string, bool> moved)
    {
        var result = new Dictionary<(string, uint), uint>();
        var used = intent.Pws.SelectMany(p => new[] { p.LocalLabel, p.RemoteLabel }).ToHashSet();
        var next = 1_048_575u; // from the top of the 20-bit label space down
        foreach (var pw in intent.Pws.OrderBy(p => p.Pe, StringComparer.Ordinal).ThenBy(p => p.Name, StringComparer.Ordinal))
        {
            var node = peNode.GetValueOrDefault(pw.Pe, "");
            if (!moved(node) || result.ContainsKey((node, pw.LocalLabel))) continue;
            while (used.Contains(next)) next--;
            result[(node, pw.LocalLabel)] = next;
            used.Add(next);
        }
        return result;
    }

    /// <summary>"pe pe-a (node-1): node-1" lines for the verdict.</summary>
    public ImmutableArray<string> Describe(IntentDocument intent) =>
        Placed(intent).Select(e => RunsOn.TryGetValue(e.Node, out var on)
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

    /// <summary>Each element's kind, name and node, in <see cref="Elements"/>' order, without its canonical text (a JSON document per element).</summary>
    private static IEnumerable<(string Kind, string Name, string Node)> Placed(IntentDocument d) =>
        d.Pes.Select(p => ("pe", p.Name, p.Node))
            .Concat(d.Gateways.Select(g => ("gateway", g.Name, g.Node)))
            .Concat(d.Hosts.Select(h => ("host", h.Name, h.Node)))
            .Concat(d.Hypervisors.Select(h => ("hypervisor", h.Name, h.Node)));

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
