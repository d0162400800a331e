using System.Collections.Immutable;

namespace Fabric.Messages.Intent.Parsing;

internal static partial class IntentReader
{
    internal static readonly string[] GatewayKeys = ["name", "node", "mac", "tenants"];

    internal static readonly string[] GatewayTenantKeys = ["tenant", "networks", "routes", "uplink", "snatPool", "dnat", "firewall", "downlink"];

    internal static readonly string[] RouteKeys = ["prefix", "nextHop"];

    internal static readonly string[] UplinkKeys = ["port", "address", "vlan", "mtu"];

    /// <summary>A gateway downlink: a port plus its MTU.</summary>
    internal static readonly string[] DownlinkKeys = [.. PortKeys, "mtu"];

    /// <summary>
    /// Gateway port MTU bounds: the smallest datagram every IPv4 router must forward unfragmented
    /// (RFC 791, 68 octets) and the largest IPv4 packet.
    /// </summary>
    internal const long MinPortMtu = 68, MaxPortMtu = 65_535;

    internal static readonly string[] DnatKeys = ["protocol", "externalPort", "internalAddress", "internalPort"];

    internal static readonly string[] FirewallKeys = ["defaultPolicy", "rules"];

    internal static readonly string[] RuleKeys = ["name", "action", "protocol", "source", "destination", "ports"];

    private static GatewayIntent ReadGateway(Fields f) =>
        new(f.Name(), f.String("node"), f.Elements("tenants", false, GatewayTenantKeys, ReadGatewayTenant), f.Mac("mac", false));

    private static GatewayTenantIntent ReadGatewayTenant(Fields f)
    {
        var tenant = f.String("tenant");
        var networks = Cidrs(f, "networks", (raw, _) => (Checks.InterfaceAddress(raw, out var reason), reason));
        for (var i = 0; i < networks.Length; i++)
        {
            for (var j = 0; j < i; j++)
            {
                if (networks[i] is { } a && networks[j] is { } b && a.Overlaps(b))
                    f.Context.Error(ItemAt(f, "networks", i), $"{f.PathOf("networks")}[{i}]", $"network {a} overlaps {b}");
            }
        }

        var uplinkFields = f.Object("uplink", false, UplinkKeys);
        UplinkIntent? uplink = null;
        if (uplinkFields is not null)
        {
            var port = uplinkFields.Object("port", true, PortKeys);
            uplink = new UplinkIntent(
                port is null ? new PortRef(PortKind.Simulated, "") : ReadPort(port),
                uplinkFields.InterfaceAddress("address", true) ?? default,
                (ushort?)uplinkFields.Integer("vlan", false, 1, 4094, "vlan"),
                (int?)uplinkFields.Integer("mtu", false, MinPortMtu, MaxPortMtu, "mtu"));
            f.Context.Remember(uplink, uplinkFields);
        }

        // The on-link checks below only speak when every network (and the uplink) read cleanly.
        var networksKnown = networks.All(n => n is not null) && !f.Context.HasFailed(f.PathOf("networks"));
        var onLinkKnown = networksKnown && !f.Context.HasFailed(f.PathOf("uplink")) && (uplinkFields is null || !f.Context.HasFailed(uplinkFields.PathOf("address")));
        var onLink = networks.Where(n => n is not null).Select(n => n!.Value).ToList();
        if (uplink is not null) onLink.Add(uplink.Address);

        var routes = f.Elements("routes", false, RouteKeys, r =>
        {
            var route = new RouteIntent(r.Network("prefix", true) ?? default, r.Ipv4("nextHop", true) ?? default);
            if (onLinkKnown && r.Has("nextHop") && !r.Context.HasFailed(r.PathOf("nextHop")) && !onLink.Any(n => n.Contains(route.NextHop)))
                r.Fail("nextHop", $"next hop {route.NextHop} is not on any network of this tenant or its uplink");
            return route;
        });

        var snatPool = Cidrs(f, "snatPool", (raw, _) => (Checks.Network(raw, bareAddressIsHost: true, out var reason), reason));

        var dnat = f.Elements("dnat", false, DnatKeys, d =>
        {
            var rule = new DnatRuleIntent(
                d.Enum("protocol", IntentText.DnatProtocol, true) ?? DnatProtocol.Tcp,
                (ushort)(d.Integer("externalPort", true, 1, 65_535, "port") ?? 0),
                d.Ipv4("internalAddress", true) ?? default,
                (ushort)(d.Integer("internalPort", true, 1, 65_535, "port") ?? 0));
            if (networksKnown && d.Has("internalAddress") && !d.Context.HasFailed(d.PathOf("internalAddress"))
                && !networks.Any(n => n is { } net && net.Contains(rule.InternalAddress)))
                d.Fail("internalAddress", $"{rule.InternalAddress} is not on any network of this tenant");
            return rule;
        });

        var firewallFields = f.Object("firewall", false, FirewallKeys);
        var firewall = firewallFields is null
            ? null
            : new FirewallIntent(
                firewallFields.Enum("defaultPolicy", IntentText.Policy, true) ?? FirewallPolicy.Deny,
                firewallFields.Elements("rules", false, RuleKeys, ReadRule));

        var downlinkFields = f.Object("downlink", false, DownlinkKeys);
        var downlink = downlinkFields is null ? null : ReadPort(downlinkFields, logicalSwitch: true);
        var downlinkMtu = (int?)downlinkFields?.Integer("mtu", false, MinPortMtu, MaxPortMtu, "mtu");
        if (downlink is { Kind: PortKind.LogicalSwitch } && tenant.Length > 0 && downlink.Name.Length > 0 && downlink.Name != tenant
            && !f.Context.HasFailedWithin(f.PathOf("downlink")))
            downlinkFields!.Fail("name", $"a tenant's router is on its own logical switch: '{downlink.Name}' is not tenant '{tenant}'");
        if (downlink is { Kind: PortKind.LogicalSwitch, Segment: not null })
            downlinkFields!.Fail("segment", "a logical switch is no cable: segment is for tap and simulated ports");
        if (downlink is not null && uplink is not null && (downlink.Kind, downlink.Name) == (uplink.Port.Kind, uplink.Port.Name) && !f.Context.HasFailed(f.PathOf("downlink")))
            f.Fail("downlink", $"downlink {IntentText.PortKind.Of(downlink.Kind)}:{downlink.Name} is the tenant's uplink port too");

        return new GatewayTenantIntent(tenant, [.. networks.Select(n => n ?? default)], routes, uplink, [.. snatPool.Select(n => n ?? default)], dnat, firewall, downlink, downlinkMtu);
    }

    private static FirewallRuleIntent ReadRule(Fields f)
    {
        var rule = new FirewallRuleIntent(
            f.Name(),
            f.Enum("action", IntentText.Action, true) ?? FirewallAction.Deny,
            f.Enum("protocol", IntentText.RuleProtocol, false) ?? RuleProtocol.Any,
            f.Network("source", false) ?? default,
            f.Network("destination", false) ?? default,
            f.Ports("ports"));
        if (rule.Ports is not null && rule.Protocol is not (RuleProtocol.Tcp or RuleProtocol.Udp) && !f.Context.HasFailed(f.PathOf("protocol")))
            f.Fail("ports", $"ports need protocol tcp or udp, not {IntentText.RuleProtocol.Of(rule.Protocol)}");
        return rule;
    }

    /// <summary>A list of CIDR strings checked by <paramref name="check"/>; a bad item stays null so indexes match.</summary>
    private static ImmutableArray<Ipv4Cidr?> Cidrs(Fields f, string key, Func<string, int, (Ipv4Cidr? Value, string? Reason)> check)
    {
        var texts = f.Strings(key, required: false);
        var builder = ImmutableArray.CreateBuilder<Ipv4Cidr?>();
        for (var i = 0; i < texts.Length; i++)
        {
            if (texts[i].Length == 0)
            {
                builder.Add(null);
                continue;
            }
            var (value, reason) = check(texts[i], i);
            if (value is null) f.Context.Error(ItemAt(f, key, i), $"{f.PathOf(key)}[{i}]", reason ?? "invalid value");
            builder.Add(value);
        }
        return builder.ToImmutable();
    }
}
