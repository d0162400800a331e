using System.Collections.Immutable;

namespace Fabric.Messages.Intent;

/// <summary>
/// A multi-tenant gateway; each tenant gets its own pipeline (routing, NAT, firewall).
/// <paramref name="Mac"/> is the gateway's MAC on every port (absent: derived from the name, see
/// <see cref="RouterMac"/>), which is also its router port's MAC on a logical switch.
/// </summary>
public sealed record GatewayIntent(string Name, string Node, ImmutableArray<GatewayTenantIntent> Tenants, Mac48? Mac = null)
{
    /// <summary>The gateway's MAC: <see cref="Mac"/>, else <see cref="DerivedMac"/> of its name.</summary>
    public Mac48 RouterMac => Mac ?? DerivedMac(Name);

    /// <summary>A stable locally administered unicast MAC from a gateway's name (02:xx:...; FNV-1a of the name).</summary>
    public static Mac48 DerivedMac(string name)
    {
        ulong h = 14695981039346656037;
        foreach (var c in name) h = (h ^ c) * 1099511628211;
        return new Mac48(0x0200_0000_0000UL | (h & 0x00FF_FFFF_FFFFUL));
    }
}

/// <summary>
/// One tenant's slice of a gateway. <paramref name="Networks"/> are interface addresses (the
/// gateway's address with the prefix length, <c>10.1.0.1/24</c>). Routes, NAT rules and
/// firewall rules keep their written order. <paramref name="Downlink"/> is the port the tenant's
/// networks are reached on (absent: the tenant has no data path on this gateway yet); a
/// <see cref="PortKind.LogicalSwitch"/> downlink makes the gateway the router of the tenant's
/// logical switch: a router port on it (MAC <see cref="GatewayIntent.RouterMac"/>, addresses the
/// tenant's <paramref name="Networks"/>) carried by the MFE of the host on the gateway's node.
/// <paramref name="DownlinkMtu"/> is the downlink's MTU (the largest IP packet it carries; absent:
/// the node's default, hocon <c>fabric.gateway.port-mtu</c>).
/// </summary>
public sealed record GatewayTenantIntent(
    string Tenant,
    ImmutableArray<Ipv4Cidr> Networks,
    ImmutableArray<RouteIntent> Routes,
    UplinkIntent? Uplink,
    ImmutableArray<Ipv4Cidr> SnatPool,
    ImmutableArray<DnatRuleIntent> Dnat,
    FirewallIntent? Firewall,
    PortRef? Downlink = null,
    int? DownlinkMtu = null);

/// <summary>A static route: <paramref name="Prefix"/> (a network) via an on-link <paramref name="NextHop"/>.</summary>
public sealed record RouteIntent(Ipv4Cidr Prefix, Ipv4 NextHop);

/// <summary>
/// The tenant's way out: a port (optionally a VLAN of it) and the gateway's address there.
/// <paramref name="Mtu"/> is the largest IP packet the uplink carries (absent: the node's default,
/// hocon <c>fabric.gateway.port-mtu</c>); a larger one with DF set is answered with ICMP
/// fragmentation needed (RFC 1191), one without DF is fragmented (RFC 791).
/// </summary>
public sealed record UplinkIntent(PortRef Port, Ipv4Cidr Address, ushort? Vlan = null, int? Mtu = null);

/// <summary>L4 protocols a destination NAT rule can match.</summary>
public enum DnatProtocol
{
    Tcp,
    Udp,
}

/// <summary>Traffic to the uplink address on <paramref name="ExternalPort"/> goes to an inside address and port.</summary>
public sealed record DnatRuleIntent(DnatProtocol Protocol, ushort ExternalPort, Ipv4 InternalAddress, ushort InternalPort);

/// <summary>What a firewall does with traffic no rule matched.</summary>
public enum FirewallPolicy
{
    Allow,
    Deny,
}

/// <summary>What a matching firewall rule does; <c>reject</c> answers (TCP RST / ICMP unreachable), <c>deny</c> drops silently.</summary>
public enum FirewallAction
{
    Allow,
    Deny,
    Reject,
}

/// <summary>The protocol a firewall rule matches.</summary>
public enum RuleProtocol
{
    Any,
    Tcp,
    Udp,
    Icmp,
}

/// <summary>A tenant firewall: rules are tried in order, the first match decides.</summary>
public sealed record FirewallIntent(FirewallPolicy DefaultPolicy, ImmutableArray<FirewallRuleIntent> Rules);

/// <summary>
/// A firewall rule. <paramref name="Source"/> and <paramref name="Destination"/> are networks
/// (default <c>0.0.0.0/0</c>); <paramref name="Ports"/> is the destination port range, only for tcp/udp.
/// </summary>
public sealed record FirewallRuleIntent(
    string Name,
    FirewallAction Action,
    RuleProtocol Protocol = RuleProtocol.Any,
    Ipv4Cidr Source = default,
    Ipv4Cidr Destination = default,
    PortRange? Ports = null);

/// <summary>The gateway routing a tenant's logical switch (a tenant slice whose downlink is <see cref="PortKind.LogicalSwitch"/>).</summary>
public static class LogicalSwitchRouters
{
    /// <summary>The gateway and tenant slice whose router port is on <paramref name="tenant"/>'s logical switch, or null (the checks allow one).</summary>
    public static (GatewayIntent Gateway, GatewayTenantIntent Slice)? RouterOf(this IntentDocument intent, string? tenant)
    {
        ArgumentNullException.ThrowIfNull(intent);
        foreach (var g in intent.Gateways)
        {
            foreach (var t in g.Tenants)
            {
                if (t.Tenant == tenant && t.Downlink is { Kind: PortKind.LogicalSwitch }) return (g, t);
            }
        }
        return null;
    }

    /// <summary>True when <paramref name="address"/> is on one of the slice's networks (on-link for the switch's containers).</summary>
    public static bool IsOnLink(this GatewayTenantIntent slice, Ipv4 address) => slice.Networks.Any(n => n.Contains(address));
}
