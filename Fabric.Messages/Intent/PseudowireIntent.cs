using System.Collections.Immutable;

namespace Fabric.Messages.Intent;

/// <summary>How an attachment reaches the outside world.</summary>
public enum PortKind
{
    /// <summary><c>tap</c>: a Linux TAP interface; the name is the interface name.</summary>
    Tap,

    /// <summary><c>simulated</c>: generated traffic for tests and benchmarks.</summary>
    Simulated,

    /// <summary>
    /// <c>logicalSwitch</c>: a tenant's logical switch (the MFEs' tenant network, VNI = the
    /// tenant's); the name is the tenant. Only a gateway tenant's downlink may be one: the gateway
    /// then is the switch's router (see <see cref="GatewayTenantIntent"/>).
    /// </summary>
    LogicalSwitch,
}

/// <summary>
/// A port on the element's node. <paramref name="Segment"/> optionally names the L2 segment the
/// port's device is wired to outside the fabric (a bridge, a switch VLAN): ports that name the
/// same segment are one wire to the ghost verifier, which cannot see outside cabling.
/// <paramref name="Traffic"/> (simulated ports only) is how many frames per second the port
/// generates towards its element (absent = none): steady low-rate traffic so counters move.
/// <paramref name="Namespace"/> (TAP ports only) names the network namespace the device lives in
/// (<c>/run/netns/NAME</c>, as <c>ip netns add</c> makes them): the node opens, or creates, the
/// device there and finds it there again after a restart; absent = the node's own namespace.
/// </summary>
public sealed record PortRef(PortKind Kind, string Name, string? Segment = null, int? Traffic = null, string? Namespace = null);

/// <summary>A provider edge. <paramref name="RouterId"/> is its loopback, unique in the fabric.</summary>
public sealed record PeIntent(
    string Name,
    string Node,
    Ipv4 RouterId,
    ImmutableArray<AttachmentCircuitIntent> AttachmentCircuits);

/// <summary>Where a CE attaches to a PE: a port, optionally one 802.1Q VLAN (1..4094) of it.</summary>
public sealed record AttachmentCircuitIntent(string Name, PortRef Port, ushort? Vlan = null);

/// <summary>
/// One direction-pair pseudowire as seen from <paramref name="Pe"/>: frames to
/// <paramref name="RemotePe"/> carry <paramref name="RemoteLabel"/>, frames from it arrive
/// with <paramref name="LocalLabel"/> (MPLS, 16..1048575; RFC 4448 with the control word of
/// RFC 4385 and the flow label of RFC 6391). <paramref name="Mtu"/> is the PW's MTU as LDP
/// signals it (RFC 4447 §5.1, the interface MTU parameter: the largest IP packet of the attachment
/// circuit, Ethernet header excluded); both directions of a PW pair must carry the same value, or
/// none: then each PE takes what its underlay carries, at most 1500.
/// </summary>
public sealed record PwIntent(
    string Name,
    string Pe,
    string RemotePe,
    uint LocalLabel,
    uint RemoteLabel,
    bool ControlWord = true,
    bool FlowLabel = false,
    int Weight = 1,
    int? Mtu = null);

/// <summary>How a trunk spreads traffic over its active PWs.</summary>
public enum TrunkMode
{
    /// <summary><c>perFlow</c>: every packet of a flow takes the same PW (no reordering).</summary>
    PerFlow,

    /// <summary><c>perPacket</c>: packets are sprayed over the PWs.</summary>
    PerPacket,
}

/// <summary>How a perFlow trunk gives flows to members.</summary>
public enum TrunkBalance
{
    /// <summary><c>hash</c>: stateless, the flow hash's bucket decides (every node and restart agrees; elephants may share a member while another idles).</summary>
    Hash,

    /// <summary><c>leastLoaded</c>: a new flow goes to the least-loaded active member and stays there; it moves only after an idle gap longer than the reordering window.</summary>
    LeastLoaded,
}

/// <summary>
/// A PW trunk interface on <paramref name="Pe"/>: the CE's traffic on
/// <paramref name="AttachmentCircuit"/> is shared over at least two member PWs of that PE; the
/// trunk is up while at least <paramref name="MinActive"/> members answer hellos sent every
/// <paramref name="HelloIntervalMs"/> ms (a member is down after <paramref name="Multiplier"/>
/// missed hellos). Member order is kept: it is the order the selector numbers PWs in.
/// </summary>
public sealed record TrunkIntent(
    string Name,
    string Pe,
    string AttachmentCircuit,
    ImmutableArray<string> Members,
    TrunkMode Mode = TrunkMode.PerFlow,
    int MinActive = 1,
    int HelloIntervalMs = 50,
    int Multiplier = 3,
    TrunkBalance? Balance = null);
