using System.Runtime.CompilerServices;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.Gateway.Pipeline;

public enum EntryAction : byte
{
    Forward,
    Drop,
}

/// <summary>
/// One synthesized flow-cache entry: the action list a hit applies with no stage involved —
/// header rewrites (RFC 1624 incremental checksums), TTL decrement, MACs, output port — or a
/// named drop. <see cref="Consulted"/> is the union of the fields the stages looked at.
/// </summary>
public struct CacheEntry
{
    public EntryAction Action;
    public GatewayDrop Reason;
    public RewriteFields Rewrite;
    /// <summary>Entry installed for the reply direction with the first packet.</summary>
    public bool IsReply;
    public Ipv4Address SourceAddress;
    public Ipv4Address DestinationAddress;
    public ushort SourcePort;
    public ushort DestinationPort;
    public ushort OutPort;
    /// <summary>
    /// What a lookup must match: <see cref="FlowFields.Exact"/>, or the fields the stages consulted
    /// (a megaflow), with <see cref="FlowFields.NoConnection"/> when the result holds only for a
    /// flow with no tracked connection.
    /// </summary>
    public FlowFields Mask;
    public MacAddress SourceMac;
    public MacAddress DestinationMac;
    /// <summary>The tracked connection (its idle timer is refreshed on hits; TCP FIN/RST leave the cache for the slow path).</summary>
    public Connection? Connection;
    /// <summary>The life of <see cref="Connection"/> the entry was made for (its table reuses the object once the connection is gone).</summary>
    public uint ConnectionGeneration;
    /// <summary>How many stage runs one hit saves.</summary>
    public byte Stages;
    /// <summary>The firewall rule that judged the flow, + 1 (0: none): a hit counts a packet for it (<see cref="StageCounters.Hit"/>).</summary>
    public int FirewallRule;

    /// <summary>Folds a pipeline outcome into an entry (the synthesizer).</summary>
    public static CacheEntry Synthesize(in PipelineOutcome o, MacAddress gatewayMac, MacAddress nextHopMac, bool isReply) => new()
    {
        Action = o.Verdict == StageVerdict.Forward ? EntryAction.Forward : EntryAction.Drop,
        Reason = o.Reason,
        Rewrite = o.Rewrites.Fields,
        SourceAddress = o.Rewrites.SourceAddress,
        DestinationAddress = o.Rewrites.DestinationAddress,
        SourcePort = o.Rewrites.SourcePort,
        DestinationPort = o.Rewrites.DestinationPort,
        OutPort = o.OutPort,
        Mask = MaskFor(o, isReply),
        SourceMac = gatewayMac,
        DestinationMac = nextHopMac,
        Connection = o.Connection,
        ConnectionGeneration = o.Connection?.Generation ?? 0,
        IsReply = isReply,
        Stages = (byte)o.Stages,
        FirewallRule = o.FirewallRule,
    };

    /// <summary>
    /// The fields a lookup must match for this result to hold for every flow that matches (the
    /// megaflow mask): every field a stage consulted, plus every field the action list reads or
    /// writes. When in doubt it stays exact (OVS xlate's "no wildcards" results): reply entries;
    /// anything that created or uses per-flow state (NAT binding, tracked connection); any rewrite
    /// beyond the TTL, since NAT's values depend on the flow's own addresses and ports; and an
    /// outcome that does not say what it consulted.
    /// </summary>
    /// A firewall drop was judged for a packet with no tracked connection: it holds for a flow only
    /// while it has none (the megaflow's conntrack state, OVS's ct_state=-est), checked on each hit.
    public static FlowFields MaskFor(in PipelineOutcome o, bool isReply) =>
        (isReply || o.Consulted == FlowFields.None || o.Connection is not null || o.Created != StateCreated.None || (o.Rewrites.Fields & ~RewriteFields.DecrementTtl) != 0
            ? FlowFields.Exact
            : o.Consulted | FlowFields.Base)
        | (o.Verdict == StageVerdict.Drop && o.Reason == GatewayDrop.FirewallDenied ? FlowFields.NoConnection : FlowFields.None);

    /// <summary>The result holds only while the flow has no tracked connection.</summary>
    public readonly bool RequiresNoConnection => (Mask & FlowFields.NoConnection) != 0;

    /// <summary>The entry's connection is gone (its object now tracks another one): the entry no longer holds, the stages decide.</summary>
    public readonly bool ConnectionGone => Connection is { } c && c.Generation != ConnectionGeneration;

    public override readonly string ToString() => Action == EntryAction.Drop
        ? $"drop({Reason})"
        : $"out={OutPort} {SourceMac}->{DestinationMac} rewrite={new Rewrites(Rewrite, SourceAddress, DestinationAddress, SourcePort, DestinationPort)}{(IsReply ? " reply" : "")}";
}

/// <summary>Applies an entry's actions to an untagged Ethernet/IPv4 frame in place. Allocates nothing.</summary>
public static class EntryActions
{
    /// <summary>False (frame unchanged) when the TTL would expire: the caller takes the slow path.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryApply(in CacheEntry e, Span<byte> frame)
    {
        var ipBytes = frame[EthernetLayout.HeaderLength..];
        var ip = new Ipv4Writer(ipBytes);
        if ((e.Rewrite & RewriteFields.DecrementTtl) != 0 && !ip.TryDecrementTtl()) return false;
        var rewrite = e.Rewrite & ~RewriteFields.DecrementTtl;
        if (rewrite != RewriteFields.None)
        {
            var l4 = ipBytes[ip.HeaderLength..];
            var protocol = ip.Protocol;
            if ((rewrite & RewriteFields.SourceAddress) != 0)
            {
                var old = ip.Source;
                ip.RewriteSource(e.SourceAddress);
                PseudoHeader(l4, protocol, old, e.SourceAddress);
            }
            if ((rewrite & RewriteFields.DestinationAddress) != 0)
            {
                var old = ip.Destination;
                ip.RewriteDestination(e.DestinationAddress);
                PseudoHeader(l4, protocol, old, e.DestinationAddress);
            }
            if ((rewrite & RewriteFields.IcmpIdentifier) != 0)
            {
                new Icmpv4Writer(l4).RewriteIdentifier(e.DestinationPort);
            }
            else if ((rewrite & (RewriteFields.SourcePort | RewriteFields.DestinationPort)) != 0)
            {
                if (protocol == IpProtocol.Tcp)
                {
                    var tcp = new TcpWriter(l4);
                    if ((rewrite & RewriteFields.SourcePort) != 0) tcp.RewriteSourcePort(e.SourcePort);
                    if ((rewrite & RewriteFields.DestinationPort) != 0) tcp.RewriteDestinationPort(e.DestinationPort);
                }
                else
                {
                    var udp = new UdpWriter(l4);
                    if ((rewrite & RewriteFields.SourcePort) != 0) udp.RewriteSourcePort(e.SourcePort);
                    if ((rewrite & RewriteFields.DestinationPort) != 0) udp.RewriteDestinationPort(e.DestinationPort);
                }
            }
        }
        var eth = new EthernetWriter(frame);
        eth.Source = e.SourceMac;
        eth.Destination = e.DestinationMac;
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PseudoHeader(Span<byte> l4, IpProtocol protocol, Ipv4Address old, Ipv4Address now)
    {
        if (protocol == IpProtocol.Tcp) new TcpWriter(l4).UpdateForAddressChange(old, now);
        else if (protocol == IpProtocol.Udp) new UdpWriter(l4).UpdateForAddressChange(old, now);
    }
}
