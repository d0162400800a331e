using System.Collections.Immutable;
using System.Text.Json;
using Akka.Actor;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Guardian;
using Fabric.Messages.Intent;

namespace Fabric.Actors.Pseudowire;

/// <summary>A PE as its node runs it: the intent's PE, its PWs resolved to underlay endpoints, its trunks.</summary>
public sealed record PeElement(
    PeIntent Pe,
    string Node,
    Ipv4Address Underlay,
    ImmutableArray<PwConfig> Pws,
    ImmutableArray<TrunkIntent> Trunks,
    ImmutableDictionary<string, int>? PwMtus = null)
{
    /// <summary>
    /// The MTU an attachment circuit's TAP gets: for each PW of the trunk it feeds, the PW's
    /// intent MTU (1500 unset) lowered to what <paramref name="underlayMtu"/> carries after that
    /// PW's overhead; the smallest of them. Null when no trunk uses the circuit.
    /// </summary>
    public int? AttachmentMtu(string circuit, int? underlayMtu)
    {
        var trunk = Trunks.FirstOrDefault(t => t.AttachmentCircuit == circuit);
        if (trunk is null)
        {
            return null;
        }

        int? mtu = null;
        foreach (var pw in Pws.Where(p => trunk.Members.Contains(p.Name)))
        {
            int fit = PwMtu.Attachment(PwMtus?.GetValueOrDefault(pw.Name) is > 0 and var m ? m : null, underlayMtu, PwMtu.Overhead(pw.ControlWord, pw.FlowLabel));
            mtu = mtu is { } lowest ? Math.Min(lowest, fit) : fit;
        }

        return mtu;
    }
}

/// <summary>The "pe" element kind: one <see cref="PeActor"/> per PE hosted on the node.</summary>
public sealed class PeElementKind(PseudowireNode node) : IElementKind
{
    /// <summary>Underlay address of a node without one in the intent (fine for a single node).</summary>
    public static readonly Ipv4Address DefaultUnderlay = new(127, 0, 0, 1);

    public string Kind => "pe";

    public IEnumerable<ElementSpec> Desired(IntentDocument intent, string nodeName)
    {
        var nodeAddress = intent.Nodes.ToDictionary(n => n.Name, n => n.Address is { } a ? new Ipv4Address(a.Value) : DefaultUnderlay);
        var peNode = intent.Pes.ToDictionary(p => p.Name, p => p.Node);
        // Each PE's trunks and PWs grouped once: a scan of every trunk and PW per PE was 6 million
        // comparisons at 1,000 PEs, for main and again for the ghost copy.
        var trunksOf = intent.Trunks.ToLookup(t => t.Pe, StringComparer.Ordinal);
        var pwsOf = intent.Pws.ToLookup(p => p.Pe, StringComparer.Ordinal);
        foreach (var pe in intent.Pes.Where(p => p.Node == nodeName))
        {
            var trunkOf = trunksOf[pe.Name]
                .SelectMany(t => t.Members.Select(m => (m, t.Name)))
                .ToDictionary(x => x.m, x => x.Name);
            var pws = pwsOf[pe.Name]
                .Select(p => new PwConfig(
                    p.Name, p.Pe, p.RemotePe, new MplsLabel(p.LocalLabel), new MplsLabel(p.RemoteLabel),
                    p.ControlWord, p.FlowLabel, p.Weight,
                    new UnderlayEndpoint(nodeAddress.GetValueOrDefault(peNode.GetValueOrDefault(p.RemotePe, ""), DefaultUnderlay), node.UnderlayPort),
                    trunkOf.GetValueOrDefault(p.Name)))
                .ToImmutableArray();
            var mtus = pwsOf[pe.Name].Where(p => p.Mtu is not null).ToImmutableDictionary(p => p.Name, p => p.Mtu!.Value);
            var element = new PeElement(pe, nodeName, nodeAddress.GetValueOrDefault(nodeName, DefaultUnderlay), pws,
                trunksOf[pe.Name].ToImmutableArray(), mtus);
            yield return new ElementSpec(Kind, pe.Name, element, Fingerprint(element));
        }
    }

    public Props Props(ElementSpec spec) => ActorProps.Of(() => new PeActor((PeElement)spec.Spec, node));

    /// <summary>The PE left this node's intent: the TAPs the node created for its circuits are deleted when they close.</summary>
    public void Removed(ElementSpec spec)
    {
        foreach (var a in ((PeElement)spec.Spec).Pe.AttachmentCircuits.Where(a => a.Port.Kind == PortKind.Tap))
        {
            node.Devices?.Retire(a.Port.Namespace ?? "", a.Port.Name);
        }
    }

    private static string Fingerprint(PeElement e) => JsonSerializer.Serialize(new
    {
        pe = e.Pe.Name,
        e.Pe.RouterId.Value,
        underlay = e.Underlay.ToString(),
        acs = e.Pe.AttachmentCircuits.Select(a => $"{a.Name}|{a.Port.Kind}|{a.Port.Name}|{a.Port.Namespace}|{a.Vlan}").ToArray(),
        pws = e.Pws.Select(p => $"{p.Name}|{p.RemotePe}|{p.LocalLabel}|{p.RemoteLabel}|{p.ControlWord}|{p.FlowLabel}|{p.Weight}|{p.Remote}|{p.Trunk}").ToArray(),
        trunks = e.Trunks.Select(t => $"{t.Name}|{t.AttachmentCircuit}|{string.Join(",", t.Members)}|{t.Mode}|{t.MinActive}|{t.HelloIntervalMs}|{t.Multiplier}").ToArray(),
        mtus = e.PwMtus?.OrderBy(m => m.Key, StringComparer.Ordinal).Select(m => $"{m.Key}={m.Value}").ToArray(),
    });
}
