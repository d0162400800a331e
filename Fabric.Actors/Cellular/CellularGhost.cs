using Fabric.Actors.Cellular.Bridge;
using Fabric.Actors.Cellular.Emulator;
using Fabric.Actors.Cellular.Modem;
using Fabric.Messages.Intent;

namespace Fabric.Actors.Cellular;

/// <summary>
/// How a verifier speaks as VM <c>HYPERVISOR/NAME</c> on the ghost network, worked out from the
/// intent alone: the frame goes into the port the ghost element asks the verifier's port
/// factory for (<see cref="Port"/>, with the id the element chooses), from <see cref="VmMac"/>;
/// the VM gets <see cref="Address"/> by DHCP (DISCOVER/REQUEST from <see cref="VmMac"/>), or may
/// use it directly, with <see cref="Gateway"/> as its router (the bridge answers ARP for it with
/// <see cref="BridgeMac"/>). IPv4 from <see cref="Address"/> to any destination leaves on the
/// modem's raw-IP side, where the ghost's in-memory carrier answers pings to
/// <see cref="CarrierServer"/>.
/// </summary>
/// <param name="Address">
/// The first address of the modem's simulated carrier pool: what a freshly started ghost modem
/// dials (a ghost whose bearer was re-dialed has moved to the next one).
/// </param>
public sealed record VmAttachment(
    string Hypervisor,
    string Vm,
    string Node,
    string Modem,
    PortRef Port,
    Mac48 VmMac,
    Mac48 BridgeMac,
    Ipv4 Address,
    Ipv4 Gateway,
    Ipv4 CarrierServer);

public static class CellularGhost
{
    /// <summary>
    /// How many of a ghost node's modems and VMs are ready for the verifier's probes (up, of
    /// total): a modem once its bearer is up with an address, a VM once its bridge holds the
    /// cellular address. The bridge learns the address from its modem's actor a message after the
    /// modem has it; counting modems alone, a VM probe sent in between was dropped at the bridge
    /// as no-address, and the sample intent's valid first change was rejected.
    /// </summary>
    public static (int Up, int Total) Readiness(CellularNode node)
    {
        int up = 0, total = 0;
        foreach (var hypervisor in node.Hypervisors.Values)
        {
            foreach (var modem in hypervisor.Modems.Values)
            {
                total++;
                if (modem.State is { Phase: ModemPhase.Connected, Address: not null }) up++;
            }

            foreach (var vm in hypervisor.Vms.Values)
            {
                total++;
                if (vm.Bridge?.Address is not null) up++;
            }
        }

        return (up, total);
    }

    /// <summary>The attachment of <paramref name="endpoint"/> (<c>HYPERVISOR/VM</c>), or null with the reason.</summary>
    public static VmAttachment? Attachment(IntentDocument intent, string endpoint, out string reason)
    {
        reason = "";
        var parts = endpoint.Split('/');
        if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0)
        {
            reason = $"'{endpoint}' is not HYPERVISOR/VM";
            return null;
        }
        var hv = intent.Hypervisors.FirstOrDefault(h => h.Name == parts[0]);
        if (hv is null)
        {
            reason = $"no hypervisor '{parts[0]}'";
            return null;
        }
        var vm = hv.Vms.FirstOrDefault(v => v.Name == parts[1]);
        if (vm is null)
        {
            reason = $"hypervisor '{hv.Name}' has no VM '{parts[1]}'";
            return null;
        }
        var address = CarrierPool.FirstAddressOf(hv.Name, vm.Modem);
        return new VmAttachment(
            hv.Name, vm.Name, hv.Node, vm.Modem, vm.Port, vm.Mac, hv.Bridge.Mac,
            new Ipv4(address.ToUInt32()),
            new Ipv4(LeaseTerms.DefaultGateway.ToUInt32()),
            new Ipv4(SimulatedCarrier.ServerAddress.ToUInt32()));
    }
}
