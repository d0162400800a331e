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

/// <summary>
/// A VM whose MAC the hypervisor maps to the bridge's. It attaches on <see cref="Port"/> (a TAP
/// the VM's NIC is plugged into) and is carried by <see cref="Modem"/>; the parser fills both
/// defaults (a simulated port named after the VM, the hypervisor's first modem).
/// </summary>
public sealed record VmIntent(string Name, Mac48 Mac)
{
    public PortRef Port { get; init; } = new(PortKind.Simulated, Name);

    /// <summary>The modem whose data call the VM uses (a modem of the same hypervisor).</summary>
    public string Modem { get; init; } = "";

    public VmMode Mode { get; init; } = VmMode.Passthrough;
}

/// <summary>How a VM gets the cellular connection.</summary>
public enum VmMode
{
    /// <summary>The VM itself holds the cellular address (DHCP from the bridge), and moves when it changes.</summary>
    Passthrough,

    /// <summary>
    /// The VM keeps a private address and the bridge translates it to whatever the cellular
    /// address is (several VMs may share a modem). Named in the schema, refused until it is built.
    /// </summary>
    Nat,
}
