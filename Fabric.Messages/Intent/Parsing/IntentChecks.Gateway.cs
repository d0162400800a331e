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
    }
}
