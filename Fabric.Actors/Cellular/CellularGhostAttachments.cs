using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Guardian;
using Fabric.Messages.Intent;

namespace Fabric.Actors.Cellular;

/// <summary>
/// The cellular capability's ends for the ghost verifier: <c>vm: HYPERVISOR/NAME</c> is the VM's
/// ghost port; a probe from it leaves with the VM's MAC towards the bridge's MAC, from the
/// cellular address the ghost modem dialed (the network assigns it: the check's address is not
/// used). An outside address checked from a VM is reached when its answer comes back to the VM
/// (the carrier side of a VM is the modem's raw-IP bearer, not a port the verifier can watch):
/// the ghost carrier answers pings to its server, <see cref="SimulatedCarrier.ServerAddress"/>.
/// </summary>
public sealed class CellularGhostAttachments : IGhostAttachments
{
    public bool TryResolve(IntentDocument intent, CheckEndpoint end, CheckEndpoint peer, out GhostAttachment attachment)
    {
        attachment = null!;
        var vm = end.Vm ?? (end.IsOutside ? peer.Vm : null);
        if (vm is null || CellularGhost.Attachment(intent, vm, out _) is not { } a) return false;
        attachment = new GhostAttachment(
            a.Node,
            GhostPortSet.PortKey(a.Port.Name),
            end.Vm is not null ? $"vm {vm}" : $"{end.Address} answering vm {vm} (through the carrier)",
            new MacAddress(a.VmMac.Value),
            new MacAddress(a.BridgeMac.Value),
            null,
            a.Port.Name,
            end.Vm is not null ? a.Address : null);
        return true;
    }

    public IEnumerable<ImplicitProbe> Implicit(IntentDocument intent) => [];
}
