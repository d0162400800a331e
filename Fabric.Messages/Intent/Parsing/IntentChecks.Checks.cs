namespace Fabric.Messages.Intent.Parsing;

internal static partial class IntentChecks
{
    /// <summary>Check names are unique and every attachment point a check names exists.</summary>
    private static void CheckChecks(IntentDocument document, ReadContext context)
    {
        Unique(context, document.Checks, c => c.Name, "name", "check", "checks");
        var circuits = document.Pes.SelectMany(p => p.AttachmentCircuits.Select(a => $"{p.Name}/{a.Name}")).ToHashSet(StringComparer.Ordinal);
        var gatewayTenants = document.Gateways.SelectMany(g => g.Tenants.Select(t => (g.Name, t.Tenant))).ToHashSet();
        var containers = document.Hosts.SelectMany(h => h.Containers.Select(c => $"{h.Name}/{c.Name}")).ToHashSet(StringComparer.Ordinal);
        var vms = document.Hypervisors.SelectMany(h => h.Vms.Select(v => $"{h.Name}/{v.Name}")).ToHashSet(StringComparer.Ordinal);
        foreach (var check in document.Checks)
        {
            foreach (var (end, field) in new[] { (check.From, "from"), (check.To, "to") })
            {
                if (end.AttachmentCircuit is { } ac && ac.Contains('/') && !circuits.Contains(ac))
                    context.ErrorAt(check, field, $"unknown attachment circuit '{ac}'");
                if (end.Gateway is { } g && end.Tenant is { } t && !gatewayTenants.Contains((g, t)))
                    context.ErrorAt(check, field, $"gateway '{g}' has no tenant '{t}'");
                if (end.Container is { } c && c.Contains('/') && !containers.Contains(c))
                    context.ErrorAt(check, field, $"unknown container '{c}'");
                if (end.Vm is { } v && v.Contains('/') && !vms.Contains(v))
                    context.ErrorAt(check, field, $"unknown vm '{v}'");
            }
            if (check.From.IsOutside && check.To.IsOutside)
                context.ErrorAt(check, "from", "a check needs an attachment point at one end at least");
        }
    }
}
