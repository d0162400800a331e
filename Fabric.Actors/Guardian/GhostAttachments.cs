using Fabric.Actors.DataPlane.Wire;
using Fabric.Messages.Intent;

namespace Fabric.Actors.Guardian;

/// <summary>
/// Where and how a probe enters or leaves the ghost network at one end of a check: the node and
/// ghost port (<see cref="PortKey"/> in that node's <see cref="DataPlane.Io.GhostPortSet"/>) it
/// is injected into, the MACs and tag its frame carries, and the ghost port labels at which its
/// arrival means "delivered at this end".
/// </summary>
/// <param name="Node">The intent node hosting the attachment (its ghost copy runs there or on a ghost-shadow stand-in).</param>
/// <param name="PortKey">Ghost port to inject into when this end sends.</param>
/// <param name="Describe">How findings name this end (e.g. <c>attachment circuit pe-a/ce-a</c>).</param>
/// <param name="SourceMac">The MAC a frame from this end carries.</param>
/// <param name="FirstHopMac">Destination MAC of a frame from this end: the router's (L3 ends) or the peer's own (L2 ends).</param>
/// <param name="Vlan">The 802.1Q tag a frame carries at this attachment, if any.</param>
/// <param name="DeliveryLabel">The ghost port label whose output means "reached this end".</param>
/// <param name="Address">The end's address when the network gives it (a VM's cellular address), instead of the check's.</param>
public sealed record GhostAttachment(
    string Node,
    string PortKey,
    string Describe,
    MacAddress SourceMac,
    MacAddress FirstHopMac,
    VlanId? Vlan,
    string DeliveryLabel,
    Fabric.Messages.Intent.Ipv4? Address = null);

/// <summary>
/// A capability's knowledge of its own attachment points, for the ghost verifier: which check
/// ends it owns and how a probe is injected there. Registered in
/// <see cref="GhostPlaneContext.Attachments"/> by each capability's hosting, so the verifier
/// needs no capability folder.
/// </summary>
public interface IGhostAttachments
{
    /// <summary>
    /// Resolves <paramref name="end"/> of a check (its other end is <paramref name="peer"/>, which
    /// decides e.g. which uplink an outside address is reached through). False when the end is
    /// not this capability's.
    /// </summary>
    bool TryResolve(IntentDocument intent, CheckEndpoint end, CheckEndpoint peer, out GhostAttachment attachment);

    /// <summary>Probes this capability asks for on its own (trunk member coverage, DNAT reachability...).</summary>
    IEnumerable<ImplicitProbe> Implicit(IntentDocument intent);
}

/// <summary>
/// A probe the verifier runs without a declared check. <paramref name="Check"/> names the
/// implicit check (<c>trunk-members</c>, <c>dnat-reachable</c>, <c>tenant-isolation</c>...);
/// <paramref name="Expect"/> is what must happen; <paramref name="Group"/> ties probes judged
/// together (e.g. every flow of one trunk), <paramref name="Flows"/> how many flows to send.
/// </summary>
public sealed record ImplicitProbe(string Check, string Group, CheckEndpoint From, CheckEndpoint To, ProbeProtocol Protocol, ushort? Port, CheckExpectation Expect, int Flows = 1);
