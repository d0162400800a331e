using System.Collections.Immutable;

namespace Fabric.Messages.Switching;

/// <summary>
/// A container's MFE port as management shows it. Counters are the container's view: rx = frames
/// it sent (tag removed), tx = frames delivered to it. <paramref name="State"/>: <c>up</c>
/// (forwarding), <c>vnic-down</c> (its DCN's VNIC port is not up), <c>starting</c> (not in the
/// MFE's table yet).
/// </summary>
public sealed record MfePortStatus(
    string Host,
    string Name,
    string Dcn,
    int Tag,
    string Mac,
    string Ip,
    string? Tenant,
    uint Vni,
    string State,
    long RxFrames,
    long RxBytes,
    long TxFrames,
    long TxBytes,
    IReadOnlyDictionary<string, long> Drops,
    int IngressRules,
    int EgressRules,
    string? Capture);

/// <summary>A container DCN's VNIC: its MFE port, the port's own counters, and the frames that belonged to no container.</summary>
public sealed record DcnStatus(
    string Name,
    string VnicMac,
    string PortKind,
    string Port,
    string PortState,
    string? PortDetail,
    long RxFrames,
    long RxBytes,
    long TxFrames,
    long TxBytes,
    long PortDrops,
    IReadOnlyDictionary<string, long> Drops,
    ImmutableArray<string> Containers);

/// <summary>The host's Geneve overlay socket and what it carried.</summary>
public sealed record OverlayStatus(
    string Local,
    long RxFrames,
    long RxBytes,
    long TxFrames,
    long TxBytes,
    IReadOnlyDictionary<string, long> Drops);

/// <summary>
/// A gateway's router port on a tenant's logical switch: carried by this MFE (<paramref name="Remote"/>
/// null; <paramref name="State"/> <c>up</c> once the gateway's end is open, else <c>gateway-absent</c>)
/// or reached on another node's underlay. Counters are the router's view: rx = frames the gateway
/// sent onto the switch, tx = frames delivered to it.
/// </summary>
public sealed record RouterPortStatus(
    string Gateway,
    string Tenant,
    uint Vni,
    string Mac,
    ImmutableArray<string> Addresses,
    string? Remote,
    string State,
    long RxFrames,
    long TxFrames,
    IReadOnlyDictionary<string, long> Drops);

/// <summary>A host's MFE: its DCNs, its container ports, the router ports on its switches and its overlay.</summary>
public sealed record HostStatus(
    string Name,
    string Node,
    string Mfe,
    bool Ghost,
    long TableGeneration,
    int RemoteContainers,
    OverlayStatus? Overlay,
    ImmutableArray<DcnStatus> Dcns,
    ImmutableArray<MfePortStatus> Ports,
    ImmutableArray<RouterPortStatus> Routers);

/// <summary>One line per host in <c>GET /hosts</c>.</summary>
public sealed record HostSummary(string Name, string Node, string Mfe, string? Overlay, int Dcns, int Ports, int PortsUp, long TableGeneration);
