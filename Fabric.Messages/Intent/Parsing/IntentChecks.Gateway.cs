namespace Fabric.Messages.Intent.Parsing;

internal static partial class IntentChecks
{
    private static void CheckGateways(IntentDocument document, ReadContext context, Known<TenantIntent> tenants)
    {
        foreach (var gateway in document.Gateways)
        {
            Unique(context, gateway.Tenants, t => t.Tenant, "tenant", "tenant", duplicate: (tenant, line) =>
                $"tenant '{tenant}' is already on this gateway (first at line {line})");
            foreach (var tenant in gateway.Tenants)
            {
                if (tenants.Lacks(tenant.Tenant))
                    context.ErrorAt(tenant, "tenant", $"unknown tenant '{tenant.Tenant}'");
                Unique(context, tenant.Routes, r => r.Prefix.ToString(), "prefix", "route prefix");
                Unique(context, tenant.Dnat, d => $"{IntentText.DnatProtocol.Of(d.Protocol)} port {d.ExternalPort}", "externalPort", "dnat rule", duplicate: (port, line) =>
                    $"{port} already has a dnat rule (first at line {line})");
                if (tenant.Firewall is not null)
                    Unique(context, tenant.Firewall.Rules, r => r.Name, "name", "firewall rule");
            }
        }

        CheckRouterPorts(document, context);
    }

    /// <summary>
    /// A gateway tenant whose downlink is its logical switch puts a router port on that switch
    /// (NSX: a segment connected to a tier-1; OVN: a router-type switch port): the MFE of the
    /// host on the gateway's node carries it, so that node must run a host; the switch has one
    /// router; the port's addresses (the tenant's networks) must exist and belong to no container.
    /// </summary>
    private static void CheckRouterPorts(IntentDocument document, ReadContext context)
    {
        var routers = document.Gateways
            .SelectMany(g => g.Tenants.Where(t => t.Downlink is { Kind: PortKind.LogicalSwitch }).Select(t => (Gateway: g, Tenant: t)))
            .Where(x => context.TryOrigin(x.Tenant, out var o) && !context.HasFailedWithin(o.PathOf("downlink")))
            .ToList();
        var first = new Dictionary<string, GatewayTenantIntent>(StringComparer.Ordinal);
        foreach (var (gateway, tenant) in routers)
        {
            if (first.TryGetValue(tenant.Tenant, out var earlier))
            {
                context.ErrorAt(tenant, "downlink",
                    $"logical switch '{tenant.Tenant}' already has a router (first at line {context.LineOf(earlier, "downlink")}); a switch has one router port");
                continue;
            }
            first[tenant.Tenant] = tenant;

            if (!context.HasFailed(context.Origin(gateway).PathOf("node")) && document.Hosts.All(h => h.Node != gateway.Node))
                context.ErrorAt(tenant, "downlink",
                    $"gateway '{gateway.Name}' is on node '{gateway.Node}', which runs no host: a logicalSwitch downlink is a router port on the MFE of the gateway node's host");
            if (tenant.Networks.IsEmpty && !context.HasFailedWithin(context.Origin(tenant).PathOf("networks")))
                context.ErrorAt(tenant, "networks", "a logicalSwitch downlink needs networks: they are the router port's addresses, the containers' default gateway");

            for (var i = 0; i < tenant.Networks.Length; i++)
            {
                var address = tenant.Networks[i].Address;
                var owner = document.Hosts
                    .SelectMany(h => h.Containers.Select(c => (Host: h, Container: c)))
                    .FirstOrDefault(x => x.Container.Tenant == tenant.Tenant && x.Container.Ip == address);
                if (owner.Container is not null)
                    context.ErrorAtItem(tenant, "networks", i,
                        $"{address} is container {owner.Host.Name}/{owner.Container.Name}'s address on logical switch '{tenant.Tenant}'; the router port needs its own");
            }
        }
    }
}
