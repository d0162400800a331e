using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.Gateway.Pipeline;

/// <summary>The stages of a tenant pipeline, in the order a packet from the tenant meets them.</summary>
public enum GatewayStage : byte
{
    /// <summary>Distributed router: the tenant's own networks (east-west, and delivery inside).</summary>
    DistributedRouter,
    /// <summary>Stateful firewall: ordered rules, then connection tracking.</summary>
    Firewall,
    /// <summary>Service (centralized) router: static and uplink routes, north-south.</summary>
    ServiceRouter,
    /// <summary>SNAT to the pool (port blocks per inside host, on demand) and DNAT port-forwards.</summary>
    Nat,
}

/// <summary>
/// Why the gateway dropped (or answered instead of forwarding) a frame. One counter each;
/// the names are the wire names in the management API (kebab-case of the member).
/// </summary>
public enum GatewayDrop : byte
{
    None = 0,
    /// <summary>The frame did not parse (the Wire reason is counted separately).</summary>
    Malformed,
    /// <summary>The frame came in on a port no tenant of this gateway uses.</summary>
    UnknownPort,
    /// <summary>Unicast to a MAC other than the gateway's.</summary>
    NotForGatewayMac,
    /// <summary>Neither IPv4 nor ARP.</summary>
    NotIpv4,
    /// <summary>An IPv4 fragment: the gateway does not reassemble (NAT needs the ports).</summary>
    Fragment,
    /// <summary>No route to the destination (an ICMP net unreachable is sent back).</summary>
    NoRoute,
    /// <summary>TTL would reach 0 (an ICMP time exceeded is sent back).</summary>
    TtlExceeded,
    /// <summary>A firewall rule (or the default policy) denied it.</summary>
    FirewallDenied,
    /// <summary>A firewall rule rejected it (a TCP RST or ICMP admin-prohibited is sent back).</summary>
    FirewallRejected,
    /// <summary>Inbound to a NAT address with no binding and no DNAT rule.</summary>
    NoNatBinding,
    /// <summary>Every port of the inside address's port block is bound.</summary>
    SnatPortsExhausted,
    /// <summary>The tenant's SNAT pool cannot give every inside address a block.</summary>
    SnatPoolTooSmall,
    /// <summary>The next hop's MAC is not known yet (an ARP request was sent).</summary>
    NeighborUnresolved,
    /// <summary>A TCP segment that no connection expects (not a SYN, connection closed).</summary>
    ConntrackInvalid,
    /// <summary>ICMP to a gateway address other than echo, or an IP protocol the gateway does not serve.</summary>
    LocalUnhandled,
    /// <summary>The output batch for the port was full.</summary>
    NoRoom,
    /// <summary>Sharded mode: too many missed frames were already waiting for flow-cache entities.</summary>
    ResolverBacklog,
    /// <summary>Sharded mode: the flow-cache entity did not answer in time (it was moving or its node went away).</summary>
    ResolverTimeout,
    /// <summary>A tagged port received a frame without its 802.1Q tag (or with another VLAN).</summary>
    WrongVlan,
    /// <summary>The output port is down: its device went away and it is being re-opened with backoff.</summary>
    PortDown,
    /// <summary>Sharded mode: the flow-cache entity's answer covered fewer frames than were sent to it.</summary>
    ResolverNoAnswer,
    /// <summary>A port's receive thread found the data path busy (held by another port or by the gateway's control work) for longer than fabric.gateway.ingress-wait: the batch is dropped at ingress, not queued.</summary>
    IngressBusy,
    /// <summary>Longer than its output port's MTU with DF set: dropped, and an ICMP fragmentation needed with the port's MTU sent back (RFC 1191).</summary>
    FragmentationNeeded,
    /// <summary>Sharded mode: a miss while the node is shutting down (its flow-cache region is handing its shards off; nothing is sent to it).</summary>
    NodeStopping,
}

/// <summary>What a stage decided.</summary>
public enum StageVerdict : byte
{
    /// <summary>Go on to the next stage.</summary>
    Next,
    /// <summary>Send it out of <see cref="StageRecord.OutPort"/> towards <see cref="StageRecord.NextHop"/>; the pipeline ends.</summary>
    Forward,
    /// <summary>Drop silently with a named reason.</summary>
    Drop,
    /// <summary>Drop and answer: ICMP error or TCP RST (see <see cref="StageRecord.Reject"/>).</summary>
    Reject,
}

/// <summary>The answer a reject sends.</summary>
public enum RejectKind : byte
{
    None,
    /// <summary>ICMP destination unreachable, net unreachable (RFC 792).</summary>
    NetUnreachable,
    /// <summary>ICMP destination unreachable, communication administratively prohibited (RFC 1812 §5.2.7.1).</summary>
    AdminProhibited,
    /// <summary>ICMP time exceeded in transit.</summary>
    TimeExceeded,
    /// <summary>TCP RST|ACK to the sender.</summary>
    TcpReset,
}

/// <summary>Flow-key fields a stage looked at: an entry applies to every flow that agrees on them (OVS megaflow).</summary>
[Flags]
public enum FlowFields : ushort
{
    None = 0,
    Tenant = 0x001,
    IngressPort = 0x002,
    EtherType = 0x004,
    SourceAddress = 0x008,
    DestinationAddress = 0x010,
    IpProtocol = 0x020,
    SourcePort = 0x040,
    DestinationPort = 0x080,
    Flags = 0x100,
    /// <summary>What every entry depends on: where it came from and what it is.</summary>
    Base = Tenant | IngressPort | EtherType | Flags,
    FiveTuple = SourceAddress | DestinationAddress | IpProtocol | SourcePort | DestinationPort,
    All = Base | FiveTuple,
    /// <summary>A cache entry's mask only: match every bit of the key (per-flow state or rewrites; never widened).</summary>
    Exact = 0x8000,
    /// <summary>A cache entry's mask only: the flow must have no tracked connection (conntrack state as part of the match).</summary>
    NoConnection = 0x4000,
}

/// <summary>Header rewrites a stage wants; the synthesizer folds them (a later stage's value wins per field).</summary>
[Flags]
public enum RewriteFields : byte
{
    None = 0,
    SourceAddress = 0x01,
    DestinationAddress = 0x02,
    SourcePort = 0x04,
    DestinationPort = 0x08,
    /// <summary>The ICMP echo identifier (NAT of pings); its value is in DestinationPort, as in the flow key.</summary>
    IcmpIdentifier = 0x10,
    DecrementTtl = 0x20,
}

/// <summary>State a stage created while deciding (kept by the flow-cache shard that ran it).</summary>
[Flags]
public enum StateCreated : byte
{
    None = 0,
    NatBinding = 0x01,
    Connection = 0x02,
}

/// <summary>Rewrites as values: which fields, and their new contents.</summary>
public readonly record struct Rewrites(
    RewriteFields Fields,
    Ipv4Address SourceAddress = default,
    Ipv4Address DestinationAddress = default,
    ushort SourcePort = 0,
    ushort DestinationPort = 0)
{
    public static Rewrites None => default;

    public static Rewrites Ttl => new(RewriteFields.DecrementTtl);

    /// <summary>This, then <paramref name="later"/> (its fields win).</summary>
    public Rewrites Then(in Rewrites later) => new(
        Fields | later.Fields,
        (later.Fields & RewriteFields.SourceAddress) != 0 ? later.SourceAddress : SourceAddress,
        (later.Fields & RewriteFields.DestinationAddress) != 0 ? later.DestinationAddress : DestinationAddress,
        (later.Fields & RewriteFields.SourcePort) != 0 ? later.SourcePort : SourcePort,
        (later.Fields & (RewriteFields.DestinationPort | RewriteFields.IcmpIdentifier)) != 0 ? later.DestinationPort : DestinationPort);

    public override string ToString()
    {
        var parts = new List<string>();
        if ((Fields & RewriteFields.SourceAddress) != 0) parts.Add($"src={SourceAddress}");
        if ((Fields & RewriteFields.SourcePort) != 0) parts.Add($"sport={SourcePort}");
        if ((Fields & RewriteFields.DestinationAddress) != 0) parts.Add($"dst={DestinationAddress}");
        if ((Fields & RewriteFields.DestinationPort) != 0) parts.Add($"dport={DestinationPort}");
        if ((Fields & RewriteFields.IcmpIdentifier) != 0) parts.Add($"icmp-id={DestinationPort}");
        if ((Fields & RewriteFields.DecrementTtl) != 0) parts.Add("ttl-1");
        return parts.Count == 0 ? "-" : string.Join(",", parts);
    }
}

/// <summary>
/// What one stage did with one packet: the verdict, the rewrites it wants, the state it created
/// and the key fields it consulted, and <see cref="Item"/>: which item of the stage's table
/// decided (a network, route, NAT rule or firewall rule: <see cref="StageTable.Items"/>; -1 none),
/// counted by the table. The synthesizer folds a pipeline's records into one cache entry; a trace
/// lists them.
/// </summary>
public readonly record struct StageRecord(
    GatewayStage Stage,
    StageVerdict Verdict,
    GatewayDrop Reason,
    Rewrites Rewrites,
    FlowFields Consulted,
    StateCreated Created = StateCreated.None,
    ushort OutPort = 0,
    Ipv4Address NextHop = default,
    RejectKind Reject = RejectKind.None,
    string? Note = null,
    int Item = StageRecord.NoItem)
{
    public const int NoItem = -1;

    public static StageRecord Next(GatewayStage stage, FlowFields consulted, in Rewrites rewrites = default, StateCreated created = StateCreated.None, string? note = null,
        int item = NoItem) =>
        new(stage, StageVerdict.Next, GatewayDrop.None, rewrites, consulted, created, Note: note, Item: item);

    public static StageRecord Forward(GatewayStage stage, FlowFields consulted, ushort port, Ipv4Address nextHop, string? note = null, int item = NoItem) =>
        new(stage, StageVerdict.Forward, GatewayDrop.None, Rewrites.Ttl, consulted, OutPort: port, NextHop: nextHop, Note: note, Item: item);

    public static StageRecord Drop(GatewayStage stage, FlowFields consulted, GatewayDrop reason, string? note = null, int item = NoItem) =>
        new(stage, StageVerdict.Drop, reason, default, consulted, Note: note, Item: item);

    public static StageRecord Rejected(GatewayStage stage, FlowFields consulted, GatewayDrop reason, RejectKind reject, string? note = null, int item = NoItem) =>
        new(stage, StageVerdict.Reject, reason, default, consulted, Reject: reject, Note: note, Item: item);

    /// <summary>Stage, verdict and item in one number (what a flow-cache entity's answer carries per stage run, <see cref="StageTally"/>).</summary>
    public uint Tally => StageTally.Pack(Stage, Verdict, Item);

    public override string ToString() =>
        $"{Stage}: {Verdict}{(Reason != GatewayDrop.None ? $"({Reason})" : "")} rewrite={Rewrites} consulted={Consulted}"
        + (Created != StateCreated.None ? $" created={Created}" : "")
        + (Verdict == StageVerdict.Forward ? $" out={OutPort} via={NextHop}" : "")
        + (Item >= 0 ? $" item={Item}" : "")
        + (Note is null ? "" : $" [{Note}]");
}

/// <summary>
/// One stage run as a number: stage (4 bits), verdict (4 bits), item + 1 (24 bits, 0 = none).
/// The in-process miss and a flow-cache entity's answer (FlowResolution.StageTally) count through
/// the same list, so the stage tables' counters read alike in both modes.
/// </summary>
public static class StageTally
{
    private const int MaxItem = (1 << 24) - 2;

    public static uint Pack(GatewayStage stage, StageVerdict verdict, int item) =>
        (uint)stage << 28 | (uint)verdict << 24 | (uint)(item is >= 0 and <= MaxItem ? item + 1 : 0);

    public static GatewayStage Stage(uint tally) => (GatewayStage)(tally >> 28);

    public static StageVerdict Verdict(uint tally) => (StageVerdict)((tally >> 24) & 0xF);

    /// <summary>The item, or <see cref="StageRecord.NoItem"/>.</summary>
    public static int Item(uint tally) => (int)(tally & 0xFFFFFF) - 1;
}
