using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Guardian;
using Fabric.Messages.Intent;

namespace Fabric.Actors.Switching;

/// <summary>
/// The MFE's ends for the ghost verifier: <c>container: HOST/NAME</c> is its DCN's VNIC ghost
/// port, frames tagged with the container's local tag (a probe from a container to another
/// carries the peer's MAC: the MFE forwards by the intent's MACs; one to an address off the
/// container's switch carries the MAC of the switch's router, the gateway). Implicit probes: containers
/// of different tenants must not reach each other (<c>tenant-isolation</c>, at most
/// <paramref name="maxIsolationProbes"/> pairs, <c>fabric.switching.ghost-isolation-probes</c>).
/// </summary>
public sealed class MfeGhostAttachments(int maxIsolationProbes) : IGhostAttachments
{
    public bool TryResolve(IntentDocument intent, CheckEndpoint end, CheckEndpoint peer, out GhostAttachment attachment)
    {
        attachment = null!;
        if (end.Container is not { } name || MfeAttachments.Resolve(intent, name) is not { } a) return false;
        // The first hop: the peer container itself, the switch's router for an address off the
        // switch's networks (the container's default gateway), else the peer's own MAC on the switch.
        var peerMac = peer.Container is { } p && MfeAttachments.Resolve(intent, p) is { } b
            ? new MacAddress(b.Mac.Value)
            : intent.RouterOf(a.Tenant) is { } router && !router.Slice.IsOnLink(peer.Address)
                ? new MacAddress(router.Gateway.RouterMac.Value)
                : GhostProbe.EndpointMac(new Ipv4Address(peer.Address.Value));
        attachment = new GhostAttachment(
            a.Node,
            GhostPortSet.PortKey(a.VnicPort.Name),
            $"container {name}",
            new MacAddress(a.Mac.Value),
            peerMac,
            new VlanId(a.Tag),
            a.VnicPort.Name);
        return true;
    }

    public IEnumerable<ImplicitProbe> Implicit(IntentDocument intent)
    {
        var all = MfeAttachments.All(intent).Where(a => a.Tenant is not null).ToList();
        var n = 0;
        foreach (var a in all)
        {
            foreach (var b in all.Where(b => b.Tenant != a.Tenant))
            {
                if (n++ >= maxIsolationProbes) yield break;
                yield return new ImplicitProbe("tenant-isolation", $"container {a.Host}/{a.Container} ({a.Tenant}) -> {b.Host}/{b.Container} ({b.Tenant})",
                    new CheckEndpoint(a.Ip, Container: $"{a.Host}/{a.Container}"),
                    new CheckEndpoint(b.Ip, Container: $"{b.Host}/{b.Container}"),
                    ProbeProtocol.Icmp, null, CheckExpectation.Blocked);
            }
        }
    }
}
