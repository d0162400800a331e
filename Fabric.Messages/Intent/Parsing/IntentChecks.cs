namespace Fabric.Messages.Intent.Parsing;

/// <summary>
/// Checks across elements: unique names per kind, references that must resolve (a PE's node,
/// a PW's PEs, trunk members, a gateway's tenants), and resources two elements must not share
/// (labels, ports, MACs, router ids).
/// </summary>
internal static partial class IntentChecks
{
    public static void Run(IntentDocument document, ReadContext context)
    {
        var nodes = Unique(context, document.Nodes, n => n.Name, "name", "node", "nodes");
        Unique(context, document.Nodes.Where(n => n.Address is not null), n => n.Address!.Value.ToString(), "address", "node address");
        var tenants = Unique(context, document.Tenants, t => t.Name, "name", "tenant", "tenants");
        Unique(context, document.Gateways, g => g.Name, "name", "gateway");
        Unique(context, document.Hosts, h => h.Name, "name", "host");
        Unique(context, document.Hypervisors, h => h.Name, "name", "hypervisor");
        Unique(context, document.Tenants, t => t.Vni.ToString(System.Globalization.CultureInfo.InvariantCulture), "vni", "tenant vni");

        foreach (var element in document.Pes.Cast<object>()
                     .Concat(document.Gateways).Concat(document.Hosts).Concat(document.Hypervisors))
        {
            var node = element switch
            {
                PeIntent pe => pe.Node,
                GatewayIntent gateway => gateway.Node,
                HostIntent host => host.Node,
                HypervisorIntent hypervisor => hypervisor.Node,
                _ => "",
            };
            if (nodes.Lacks(node)) context.ErrorAt(element, "node", $"unknown node '{node}'");
        }

        CheckPseudowires(document, context);
        CheckGateways(document, context, tenants);
        CheckHosts(document, context, tenants);
        CheckPorts(document, context);
        CheckMacs(document, context);
        CheckChecks(document, context);
        CheckLab(document, context);
    }

    /// <summary>A lab namespace stands behind one TAP port the document names, once.</summary>
    private static void CheckLab(IntentDocument document, ReadContext context)
    {
        var taps = document.TapPorts().ToHashSet(StringComparer.Ordinal);
        Unique(context, document.Lab, l => l.Port, "port", "lab port");
        foreach (var lab in document.Lab.Where(l => l.Port.Length > 0 && !taps.Contains(l.Port)))
            context.ErrorAt(lab, "port", $"'{lab.Port}' is not a TAP port of this document (a lab namespace stands behind a port of kind tap)");
    }


    /// <summary>
    /// Reports every element whose key repeats an earlier one; returns the names it found.
    /// Elements whose key field already failed are left out, so one bad value is one error.
    /// </summary>
    internal static Known<T> Unique<T>(
        ReadContext context, IEnumerable<T> elements, Func<T, string> key, string field, string what, string? listPath = null,
        Func<string, int, string>? duplicate = null)
        where T : class
    {
        var first = new Dictionary<string, T>(StringComparer.Ordinal);
        var incomplete = listPath is not null && context.IsIncomplete(listPath);
        foreach (var element in elements)
        {
            if (context.HasFailed(context.Origin(element).PathOf(field)))
            {
                incomplete = true;
                continue;
            }
            var value = key(element);
            if (first.TryGetValue(value, out var earlier))
                context.ErrorAt(element, field, duplicate?.Invoke(value, context.LineOf(earlier, field))
                    ?? $"duplicate {what} '{value}' (first at line {context.LineOf(earlier, field)})");
            else
                first[value] = element;
        }
        return new Known<T>(first, incomplete);
    }

    /// <summary>
    /// The names of one kind. When some element of the kind could not be read, a name that is
    /// not found may still be that element's: <see cref="Lacks"/> then stays quiet.
    /// </summary>
    internal sealed class Known<T>(Dictionary<string, T> byName, bool incomplete)
        where T : class
    {
        public bool Incomplete => incomplete;

        public bool TryGetValue(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out T? element) =>
            byName.TryGetValue(name, out element);

        public bool Contains(string name) => byName.ContainsKey(name);

        /// <summary>True when <paramref name="name"/> is certainly not one of the kind.</summary>
        public bool Lacks(string name) => !incomplete && !byName.ContainsKey(name);
    }

    private static void CheckHosts(IntentDocument document, ReadContext context, Known<TenantIntent> tenants)
    {
        // The node guardian runs one MFE (`/user/fabric/mfe`), so a node hosts at most one host.
        Unique(context, document.Hosts, h => h.Node, "node", "host", duplicate: (node, line) =>
            $"node '{node}' already has a host (first at line {line}); a node runs one MFE");

        foreach (var host in document.Hosts)
        {
            var dcns = Unique(context, host.ContainerDcns, d => d.Name, "name", "container DCN", context.Origin(host).PathOf("containerDcns"));
            Unique(context, host.Containers, c => c.Name, "name", "container");
            Unique(context, host.Containers, c => c.Ip.ToString(), "ip", "container ip");
            foreach (var container in host.Containers)
            {
                if (dcns.Lacks(container.Dcn))
                    context.ErrorAt(container, "dcn", $"unknown container DCN '{container.Dcn}' on host '{host.Name}'");
            }
            // The local tag is what tells a DCN's containers apart on its one VNIC.
            foreach (var group in host.Containers.GroupBy(c => c.Dcn))
                Unique(context, group, c => c.LocalTag.ToString(System.Globalization.CultureInfo.InvariantCulture), "localTag", "local tag", duplicate: (tag, line) =>
                    $"local tag {tag} is already used in DCN '{group.Key}' (first at line {line})");
            foreach (var container in host.Containers)
            {
                if (container.Tenant is { } tenant && tenants.Lacks(tenant))
                    context.ErrorAt(container, "tenant", $"unknown tenant '{tenant}'");
                foreach (var acl in new[] { container.Ingress, container.Egress })
                {
                    if (acl is not null) Unique(context, acl.Rules, r => r.Name, "name", "acl rule");
                }
            }
            Unique(context, host.Containers.Where(c => c.Capture is not null), c => c.Capture!, "capture", "capture file");
        }

        // A tenant is one logical switch across hosts: the MFEs answer ARP for its addresses.
        var byTenant = document.Hosts.SelectMany(h => h.Containers).Where(c => c.Tenant is not null).GroupBy(c => c.Tenant!);
        foreach (var group in byTenant)
        {
            var first = new Dictionary<Ipv4, ContainerIntent>();
            foreach (var container in group)
            {
                if (!context.TryOrigin(container, out var origin) || context.HasFailed(origin.PathOf("ip"))) continue;
                if (first.TryGetValue(container.Ip, out var earlier))
                {
                    // Two containers of one host are already reported by the per-host check.
                    if (!document.Hosts.Any(h => h.Containers.Contains(earlier) && h.Containers.Contains(container)))
                        context.ErrorAt(container, "ip", $"ip {container.Ip} is already used in tenant '{group.Key}' by {context.Origin(earlier).Path}");
                }
                else
                {
                    first[container.Ip] = container;
                }
            }
        }

        foreach (var hypervisor in document.Hypervisors)
        {
            var modems = Unique(context, hypervisor.Modems, m => m.Name, "name", "modem", context.Origin(hypervisor).PathOf("modems"));
            Unique(context, hypervisor.Modems.Where(m => !m.IsSimulated), m => m.Device, "device", "modem device");
            Unique(context, hypervisor.Vms, v => v.Name, "name", "vm");
            foreach (var vm in hypervisor.Vms)
            {
                if (vm.Modem.Length > 0 && modems.Lacks(vm.Modem))
                    context.ErrorAt(vm, "modem", $"unknown modem '{vm.Modem}' on hypervisor '{hypervisor.Name}'");
            }
            // Passthrough gives the VM the modem's one cellular address: one VM per modem.
            Unique(context, hypervisor.Vms.Where(v => v.Mode == VmMode.Passthrough && v.Modem.Length > 0), v => v.Modem, "modem", "modem",
                duplicate: (modem, line) => $"modem '{modem}' already carries a passthrough VM (first at line {line}); one VM per modem in passthrough mode");
        }
    }

    /// <summary>A port (and VLAN) on a node carries one attachment: an AC, a gateway uplink or a DCN's VNIC.</summary>
    private static void CheckPorts(IntentDocument document, ReadContext context)
    {
        var claims = new List<(object Owner, string Port, ushort? Vlan, bool WholePort)>();
        foreach (var pe in document.Pes)
        {
            foreach (var ac in pe.AttachmentCircuits)
                claims.Add((ac, PortClaim(pe.Node, ac.Port), ac.Vlan, false));
        }
        foreach (var gateway in document.Gateways)
        {
            foreach (var tenant in gateway.Tenants.Where(t => t.Uplink is not null))
                claims.Add((tenant.Uplink!, PortClaim(gateway.Node, tenant.Uplink!.Port), tenant.Uplink.Vlan, false));
        }
        // A DCN's VNIC port carries all its containers' tags: the whole port is the DCN's.
        foreach (var host in document.Hosts)
        {
            foreach (var dcn in host.ContainerDcns)
                claims.Add((dcn, PortClaim(host.Node, dcn.VnicPort), null, true));
        }
        foreach (var hypervisor in document.Hypervisors)
        {
            // A VM's TAP is one attachment like any other; a simulated port has no device to share.
            foreach (var vm in hypervisor.Vms.Where(v => v.Port.Kind == PortKind.Tap))
                claims.Add((vm, PortClaim(hypervisor.Node, vm.Port), null, true));
        }
        var first = new Dictionary<string, object>();
        var anyOnPort = new Dictionary<string, object>();
        var wholePort = new Dictionary<string, object>();
        foreach (var (owner, port, vlan, whole) in claims)
        {
            if (!context.TryOrigin(owner, out var origin) || context.HasFailedWithin(origin.PathOf("port"))) continue;
            var key = vlan is null ? port : $"{port} vlan {vlan}";
            var earlier = wholePort.GetValueOrDefault(port)
                ?? (whole ? anyOnPort.GetValueOrDefault(port) : null)
                ?? first.GetValueOrDefault(key);
            if (earlier is not null)
            {
                context.ErrorAt(owner, "port", $"port {(whole || wholePort.ContainsKey(port) ? port : key)} is already used (first at line {context.LineOf(earlier, "port")})");
                continue;
            }
            first[key] = owner;
            anyOnPort.TryAdd(port, owner);
            if (whole) wholePort[port] = owner;
        }
    }

    private static string PortClaim(string node, PortRef port) =>
        $"{IntentText.PortKind.Of(port.Kind)}:{port.Name} on node '{node}'";

    /// <summary>An interface MAC is unique in the whole fabric: the switching and bridge tables key on it.</summary>
    private static void CheckMacs(IntentDocument document, ReadContext context)
    {
        var owners = new List<(object Owner, string Field, Mac48 Mac)>();
        foreach (var host in document.Hosts)
        {
            owners.AddRange(host.ContainerDcns.Select(d => ((object)d, "vnicMac", d.VnicMac)));
            owners.AddRange(host.Containers.Select(c => ((object)c, "mac", c.Mac)));
        }
        // A gateway's MAC is its router port's on a logical switch: one more MAC the MFEs forward to.
        foreach (var gateway in document.Gateways.Where(g => g.Mac is not null || g.Tenants.Any(t => t.Downlink is { Kind: PortKind.LogicalSwitch })))
            owners.Add((gateway, "mac", gateway.RouterMac));
        foreach (var hypervisor in document.Hypervisors)
        {
            owners.Add((hypervisor.Bridge, "mac", hypervisor.Bridge.Mac));
            owners.AddRange(hypervisor.Vms.Select(v => ((object)v, "mac", v.Mac)));
        }
        var first = new Dictionary<Mac48, (object Owner, string Field)>();
        foreach (var (owner, field, mac) in owners)
        {
            if (!context.TryOrigin(owner, out var origin) || context.HasFailed(origin.PathOf(field))) continue;
            if (first.TryGetValue(mac, out var earlier))
                context.ErrorAt(owner, field, $"MAC {mac} is already used by {context.Origin(earlier.Owner).PathOf(earlier.Field)}");
            else
                first[mac] = (owner, field);
        }
    }
}
