using Fabric.Actors.DataPlane.Wire;
using Fabric.Messages.Intent;

namespace Fabric.Actors.Gateway.Pipeline;

/// <summary>
/// The pipeline stages as functions of (packet facts, the tenant's compiled configuration, and
/// for NAT and firewall the shard's state tables). Each returns the record of what it did; none
/// touches packet bytes. Order from the tenant: DR → firewall → SR → NAT (post-routing); from
/// the uplink: NAT → firewall → DR.
/// </summary>
public static class GatewayStages
{
    private const FlowFields RouteFields = FlowFields.Base | FlowFields.DestinationAddress;

    /// <summary>Distributed router: destinations on the tenant's own networks are delivered on the downlink.</summary>
    public static StageRecord DistributedRouter(in PacketFacts p, TenantPlan t)
    {
        var dst = p.Key.DestinationAddress;
        var network = t.Dr.NetworkOf(dst);
        if (network >= 0)
        {
            return StageRecord.Forward(GatewayStage.DistributedRouter, RouteFields, t.Dr.DownlinkPort, dst, "connected", network);
        }
        return p.Ingress == PortRole.Downlink
            ? StageRecord.Next(GatewayStage.DistributedRouter, RouteFields, note: "not on a tenant network")
            : StageRecord.Rejected(GatewayStage.DistributedRouter, RouteFields, GatewayDrop.NoRoute, RejectKind.NetUnreachable);
    }

    /// <summary>Service router: longest prefix match over connected and static routes.</summary>
    public static StageRecord ServiceRouter(in PacketFacts p, TenantPlan t)
    {
        if (!t.Sr.Routes.TryLookup(p.Key.DestinationAddress, out var route, out var index) || route.Port == 0)
        {
            return StageRecord.Rejected(GatewayStage.ServiceRouter, RouteFields, GatewayDrop.NoRoute, RejectKind.NetUnreachable, item: index);
        }
        var hop = route.Connected ? p.Key.DestinationAddress : route.NextHop;
        return StageRecord.Forward(GatewayStage.ServiceRouter, RouteFields, route.Port, hop, t.Sr.Routes.NoteOf(index), index);
    }

    /// <summary>
    /// NAT. Out on the uplink: un-DNAT replies of port-forwards (stateless, from the rules), else
    /// SNAT to the next free port of the inside host's port blocks (<see cref="NatTable.TryBind"/>).
    /// In from the uplink: DNAT rules on the uplink address, un-SNAT through a binding, or plain
    /// routing to an inside destination. The binding used is left in <see cref="PacketFacts.Binding"/>
    /// for the pipeline to tie to the packet's connection.
    /// </summary>
    public static StageRecord Nat(ref PacketFacts p, TenantPlan t, NatTable nat)
    {
        const FlowFields consulted = FlowFields.Base | FlowFields.FiveTuple;
        var k = p.Key;
        var icmp = p.IsIcmpEcho;
        var table = t.Nat;
        var snatItem = table.SnatItem;
        if (p.Ingress == PortRole.Downlink)
        {
            // What the "no snat" outcomes looked at (the others rewrite, so their entries stay exact).
            var plain = FlowFields.Base | (t.Dnat.Length > 0 ? FlowFields.IpProtocol | FlowFields.SourceAddress | FlowFields.SourcePort : FlowFields.None);
            for (var i = 0; i < table.Dnat.Length; i++)
            {
                var d = table.Dnat[i];
                if (d.Protocol == k.IpProtocol && d.InternalAddress == k.SourceAddress && d.InternalPort == k.SourcePort)
                {
                    return StageRecord.Next(GatewayStage.Nat, consulted,
                        new Rewrites(RewriteFields.SourceAddress | RewriteFields.SourcePort, SourceAddress: table.UplinkAddress, SourcePort: d.ExternalPort), note: "un-dnat", item: i);
                }
            }
            if (table.Snat is not { } snat)
            {
                return StageRecord.Next(GatewayStage.Nat, plain, note: "no snat");
            }
            if (!t.IsInside(k.SourceAddress))
            {
                return StageRecord.Next(GatewayStage.Nat, plain | FlowFields.SourceAddress, note: "no snat");
            }
            if (!snat.IsUsable) return StageRecord.Drop(GatewayStage.Nat, consulted, GatewayDrop.SnatPoolTooSmall, item: snatItem);
            if (k.IpProtocol is not (IpProtocol.Tcp or IpProtocol.Udp) && !icmp)
            {
                // Port-less protocols keep one pool address per host, not a port (RFC 7422 covers TCP/UDP/ICMP only).
                return StageRecord.Next(GatewayStage.Nat, consulted, new Rewrites(RewriteFields.SourceAddress, SourceAddress: snat.AddressFor(k.SourceAddress)), note: "snat address only",
                    item: snatItem);
            }
            var insidePort = icmp ? k.DestinationPort : k.SourcePort;
            NatBinding? b;
            bool created;
            if (p.Probe)
            {
                if (!nat.TryGetByInside(k.Tenant, k.IpProtocol, k.SourceAddress, insidePort, out b)) return StageRecord.Drop(GatewayStage.Nat, consulted, GatewayDrop.NoNatBinding, "probe");
                created = false;
            }
            else if (k.IpProtocol == IpProtocol.Tcp && (p.TcpFlags & TcpFlags.Rst) != 0 && !nat.TryGetByInside(k.Tenant, k.IpProtocol, k.SourceAddress, insidePort, out b))
            {
                // A reset of nothing this NAT translated: no port to give it, and none to make for it.
                return StageRecord.Drop(GatewayStage.Nat, consulted, GatewayDrop.ConntrackInvalid, "rst without binding");
            }
            else if (!nat.TryBind(snat, k.Tenant, k.IpProtocol, k.SourceAddress, insidePort, out b, out created))
            {
                return StageRecord.Drop(GatewayStage.Nat, consulted, GatewayDrop.SnatPortsExhausted, item: snatItem);
            }
            p.Binding = b;
            var rw = icmp
                ? new Rewrites(RewriteFields.SourceAddress | RewriteFields.IcmpIdentifier, SourceAddress: b.ExternalAddress, DestinationPort: b.ExternalPort)
                : new Rewrites(RewriteFields.SourceAddress | RewriteFields.SourcePort, SourceAddress: b.ExternalAddress, SourcePort: b.ExternalPort);
            return StageRecord.Next(GatewayStage.Nat, consulted, rw, created ? StateCreated.NatBinding : StateCreated.None, "snat", snatItem);
        }

        var routed = FlowFields.Base | FlowFields.DestinationAddress;
        if (k.DestinationAddress == table.UplinkAddress && !icmp)
        {
            routed |= FlowFields.IpProtocol | FlowFields.SourcePort | FlowFields.DestinationPort;
            for (var i = 0; i < table.Dnat.Length; i++)
            {
                var d = table.Dnat[i];
                if (d.Protocol == k.IpProtocol && d.ExternalPort == k.DestinationPort)
                {
                    return StageRecord.Next(GatewayStage.Nat, consulted,
                        new Rewrites(RewriteFields.DestinationAddress | RewriteFields.DestinationPort, DestinationAddress: d.InternalAddress, DestinationPort: d.InternalPort), note: "dnat",
                        item: i);
                }
            }
        }
        if (table.Snat is { } pool && pool.PoolIndex(k.DestinationAddress) >= 0)
        {
            if (!nat.TryGetByExternal(k.Tenant, k.IpProtocol, k.DestinationAddress, k.DestinationPort, out var b))
            {
                return StageRecord.Drop(GatewayStage.Nat, consulted, GatewayDrop.NoNatBinding, item: snatItem);
            }
            p.ReversedSnat = true;
            p.Binding = b;
            return StageRecord.Next(GatewayStage.Nat, consulted, icmp
                ? new Rewrites(RewriteFields.DestinationAddress | RewriteFields.IcmpIdentifier, DestinationAddress: b.InsideAddress, DestinationPort: b.InsidePort)
                : new Rewrites(RewriteFields.DestinationAddress | RewriteFields.DestinationPort, DestinationAddress: b.InsideAddress, DestinationPort: b.InsidePort), note: "un-snat",
                item: snatItem);
        }
        return t.IsInside(k.DestinationAddress)
            ? StageRecord.Next(GatewayStage.Nat, routed | (k.DestinationAddress == t.UplinkAddress ? FlowFields.IpProtocol | FlowFields.SourcePort : FlowFields.None), note: "routed, no nat")
            : StageRecord.Drop(GatewayStage.Nat, consulted, GatewayDrop.NoNatBinding, "not a gateway address");
    }

    /// <summary>A tracked connection's state as the firewall's record names it (made once, not per packet).</summary>
    private static readonly string[] StateNotes = [.. Enum.GetValues<ConnectionState>().Select(s => s.ToString().ToLowerInvariant())];

    /// <summary>
    /// Stateful firewall: a packet of a tracked connection passes; a new one is judged by the
    /// rules in order (first match), then the default policy; allowed ones become connections.
    /// Replies to SNAT bindings and mid-stream TCP with no connection are picked up (loose), so a
    /// shard that moved keeps its connections without a journal.
    /// </summary>
    public static StageRecord Firewall(in PacketFacts p, TenantPlan t, ConnectionTable connections, long now, out Connection? connection)
    {
        const FlowFields consulted = FlowFields.Base | FlowFields.FiveTuple;
        connection = null;
        if (!t.HasFirewall) return StageRecord.Next(GatewayStage.Firewall, FlowFields.None, note: "no firewall");
        var key = p.Connection(p.Key.Tenant);
        var existing = connections.Find(key);
        if (existing is not null)
        {
            connection = existing;
            if (existing.State == ConnectionState.Closed && !p.Probe && p.Key.IpProtocol == IpProtocol.Tcp && ConnectionTracking.IsOpening(p.TcpFlags))
            {
                // The same endpoints again within the closed hold: a new connection on the held binding.
                connections.Reopen(existing, now);
                return StageRecord.Next(GatewayStage.Firewall, consulted, note: "reopened");
            }
            return StageRecord.Next(GatewayStage.Firewall, consulted, note: StateNotes[(int)existing.State]);
        }
        if (!ConnectionTracking.MayStart(p.Key.IpProtocol, p.TcpFlags, loosePickup: true, out var pickedUp))
        {
            return StageRecord.Drop(GatewayStage.Firewall, consulted, GatewayDrop.ConntrackInvalid);
        }
        var ruleIndex = StageRecord.NoItem; // a reply to a SNAT binding is not judged by the rules
        if (!p.ReversedSnat)
        {
            var (action, rule, index) = Judge(p, t.Fw, out var judged);
            // A deny depends on the rules' fields and on the flow having no connection; the cache
            // entry checks the latter on every hit (CacheEntry.RequiresNoConnection), so the
            // conntrack lookup's five-tuple need not be in its mask.
            if (action == FirewallAction.Deny) return StageRecord.Drop(GatewayStage.Firewall, FlowFields.Base | judged, GatewayDrop.FirewallDenied, rule, index);
            if (action == FirewallAction.Reject)
            {
                return StageRecord.Rejected(GatewayStage.Firewall, consulted, GatewayDrop.FirewallRejected,
                    p.Key.IpProtocol == IpProtocol.Tcp ? RejectKind.TcpReset : RejectKind.AdminProhibited, rule, index);
            }
            ruleIndex = index;
        }
        if (p.Probe) return StageRecord.Drop(GatewayStage.Firewall, consulted, GatewayDrop.ConntrackInvalid, "probe: no connection");
        var fromInside = p.Ingress == PortRole.Downlink || p.ReversedSnat;
        connection = connections.Add(key, fromInside, pickedUp || p.ReversedSnat, now);
        return StageRecord.Next(GatewayStage.Firewall, consulted, created: StateCreated.Connection, note: pickedUp || p.ReversedSnat ? "picked up" : "new", item: ruleIndex);
    }

    /// <summary>The first matching rule's action and name, else the default policy.</summary>
    public static (FirewallAction Action, string Rule) Judge(in PacketFacts p, TenantPlan t)
    {
        var (action, rule, _) = Judge(p, t.Fw, out _);
        return (action, rule);
    }

    /// <summary>
    /// The first matching rule's action, name and index, else the default policy (index
    /// <see cref="FirewallTable.DefaultItem"/>); <paramref name="consulted"/> is every key field a
    /// rule test read on the way (the source port never is).
    /// </summary>
    public static (FirewallAction Action, string Rule, int Index) Judge(in PacketFacts p, FirewallTable table, out FlowFields consulted)
    {
        var k = p.Key;
        consulted = FlowFields.None;
        var rules = table.Rules;
        for (var i = 0; i < rules.Length; i++)
        {
            var r = rules[i];
            if (r.Protocol != RuleProtocol.Any) consulted |= FlowFields.IpProtocol;
            if (r.Protocol switch
                {
                    RuleProtocol.Any => false,
                    RuleProtocol.Tcp => k.IpProtocol != IpProtocol.Tcp,
                    RuleProtocol.Udp => k.IpProtocol != IpProtocol.Udp,
                    _ => k.IpProtocol != IpProtocol.Icmp,
                }) continue;
            if (r.SourcePrefix > 0) consulted |= FlowFields.SourceAddress;
            if (r.DestinationPrefix > 0) consulted |= FlowFields.DestinationAddress;
            if (!k.SourceAddress.IsInSubnet(r.Source, r.SourcePrefix) || !k.DestinationAddress.IsInSubnet(r.Destination, r.DestinationPrefix)) continue;
            if (r.Protocol is RuleProtocol.Tcp or RuleProtocol.Udp) consulted |= FlowFields.DestinationPort;
            if (r.Protocol is RuleProtocol.Tcp or RuleProtocol.Udp && (k.DestinationPort < r.PortFrom || k.DestinationPort > r.PortTo)) continue;
            return (r.Action, r.Name, i);
        }
        return (table.DefaultPolicy == FirewallPolicy.Allow ? FirewallAction.Allow : FirewallAction.Deny, "default", table.DefaultItem);
    }
}
