using System.Collections.Immutable;

namespace Fabric.Messages.Intent;

/// <summary>
/// A hypervisor that gives its VMs cellular connectivity: it dials a data call on a modem, puts
/// the cellular IP on the virtual L2 bridge interface (its own MAC) and maps each VM's MAC to it.
/// </summary>
public sealed record HypervisorIntent(
    string Name,
    string Node,
    ImmutableArray<ModemIntent> Modems,
    BridgeIntent Bridge,
    ImmutableArray<VmIntent> Vms);

/// <summary>A modem: <paramref name="Device"/> is a serial device path (<c>/dev/ttyUSB2</c>) or <c>simulated</c>.</summary>
public sealed record ModemIntent(string Name, string Device, string Apn)
{
    /// <summary>The <see cref="Device"/> value that selects the simulated modem.</summary>
    public const string SimulatedDevice = "simulated";

    public bool IsSimulated => Device == SimulatedDevice;
}

/// <summary>The hypervisor's virtual L2 bridge interface, which carries the cellular IP.</summary>
public sealed record BridgeIntent(string Name, Mac48 Mac);

/// <summary>A VM whose MAC the hypervisor maps to the bridge's.</summary>
public sealed record VmIntent(string Name, Mac48 Mac);
