using System.Collections.Immutable;

namespace Fabric.Messages.Cellular;

/// <summary>A modem's dialogue counters.</summary>
public sealed record ModemCountersStatus(
    long CommandsSent,
    long Timeouts,
    long Errors,
    long GarbageLines,
    long Urcs,
    long Reopens,
    long Dials,
    long BearerDrops,
    long AddressChanges,
    long Reboots);

/// <summary>One modem as management shows it: where the dialogue is, what the modem said, the bearer.</summary>
public sealed record ModemStatus(
    string Name,
    string Device,
    string Link,
    string Apn,
    string Phase,
    long PhaseForMs,
    string? Imei,
    string? Sim,
    string? Registration,
    int? SignalDbm,
    string Bearer,
    string? Address,
    string? LastError,
    ModemCountersStatus Counters,
    ModemDataStatus Data);

/// <summary>The modem's raw-IP data interface: what went to and came from the network, and what it dropped.</summary>
public sealed record ModemDataStatus(string Port, long TxPackets, long RxPackets, long Drops);

/// <summary>A VM mapped to the bridge: its port, the address it leased, what crossed, what was dropped and why.</summary>
public sealed record VmStatus(
    string Name,
    string Mac,
    string Mode,
    string Modem,
    string PortKind,
    string Port,
    string PortState,
    string? PortError,
    long PortRestarts,
    string? CellularAddress,
    string? LeasedAddress,
    long ToModem,
    long ToVm,
    long Translated,
    long DhcpOffers,
    long DhcpAcks,
    long DhcpNaks,
    long ArpReplies,
    long LastMoveMs,
    ImmutableSortedDictionary<string, long> Drops);

/// <summary>The hypervisor's virtual L2 bridge interface.</summary>
public sealed record BridgeStatus(string Name, string Mac, string Gateway, uint LeaseSeconds, uint RenewSeconds);

/// <summary>A hypervisor: its bridge, modems and VMs.</summary>
public sealed record HypervisorStatus(
    string Name,
    string Node,
    BridgeStatus Bridge,
    ImmutableArray<ModemStatus> Modems,
    ImmutableArray<VmStatus> Vms);
