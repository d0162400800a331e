using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Guardian;
using Fabric.Messages.Intent;

namespace Fabric.Actors.Pseudowire;

/// <summary>
/// The PW capability's ends for the ghost verifier: an attachment circuit <c>PE/AC</c> is its
/// ghost port (opened by port name); frames are L2, so a probe carries its peer's endpoint MAC.
/// Implicit probes: every trunk sends <see cref="TrunkFlows"/> flows from its circuit, judged as
/// <c>trunk-members</c> (every member carries some) and <c>pw-remote-pe</c> (what a member
/// carries arrives at a circuit of the PE the member names as remote).
/// </summary>
public sealed class PwGhostAttachments : IGhostAttachments
{
    /// <summary>Flows per trunk: a member with a third of the weight misses all of them with p ≈ 2e-6.</summary>
    public const int TrunkFlows = 32;

    /// <summary>Each intent's PEs by name (the first of a name), built once: every probe end was a scan of 1,000 PEs.</summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<IntentDocument, Dictionary<string, PeIntent>> PesByName = new();

    public bool TryResolve(IntentDocument intent, CheckEndpoint end, CheckEndpoint peer, out GhostAttachment attachment)
    {
        attachment = null!;
        if (end.AttachmentCircuit is not { } name) return false;
        var (peName, acName) = Split(name);
        var pe = PesByName.GetValue(intent, i => i.Pes.GroupBy(p => p.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal))
            .GetValueOrDefault(peName);
        var ac = pe?.AttachmentCircuits.FirstOrDefault(a => a.Name == acName);
        if (pe is null || ac is null) return false;
        attachment = new GhostAttachment(
            pe.Node,
            GhostPortSet.PortKey(ac.Port.Name),
            $"attachment circuit {name}",
            GhostProbe.EndpointMac(new Ipv4Address(end.Address.Value)),
            GhostProbe.EndpointMac(new Ipv4Address(peer.Address.Value)),
            ac.Vlan is { } v ? new VlanId(v) : null,
            ac.Port.Name);
        return true;
    }

    public IEnumerable<ImplicitProbe> Implicit(IntentDocument intent)
    {
        var index = 0;
        foreach (var trunk in intent.Trunks.OrderBy(t => t.Name, StringComparer.Ordinal))
        {
            index++;
            // RFC 2544 benchmarking addresses: never a customer's.
            var from = new CheckEndpoint(new Ipv4((198u << 24) | (18u << 16) | ((uint)index << 8) | 1), AttachmentCircuit: $"{trunk.Pe}/{trunk.AttachmentCircuit}");
            var to = new CheckEndpoint(new Ipv4((198u << 24) | (18u << 16) | ((uint)index << 8) | 2));
            yield return new ImplicitProbe("trunk-members", trunk.Name, from, to, ProbeProtocol.Udp, 9, CheckExpectation.Reach, TrunkFlows);
        }
    }

    private static (string, string) Split(string pair)
    {
        var slash = pair.IndexOf('/');
        return slash < 0 ? (pair, "") : (pair[..slash], pair[(slash + 1)..]);
    }
}
