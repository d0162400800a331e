using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Guardian;
using Fabric.Messages.Intent;

namespace Fabric.Actors.Gateway;

/// <summary>
/// The gateway's ends for the ghost verifier: <c>gateway + tenant</c> is the tenant's downlink
/// (a probe from there is addressed to the gateway's MAC); an outside address checked against a
/// gateway tenant, or against a container whose logical switch the gateway routes, is that
/// tenant's uplink (tagged with its VLAN). A DNAT rule behind a logical switch must reach the
/// container holding its inside address. Implicit probes: every DNAT
/// rule is reached from outside (<c>dnat-reachable</c>), and no tenant's inside reaches another
/// tenant's inside (<c>tenant-isolation</c>, one probe per ordered pair of tenants on a gateway).
/// </summary>
public sealed class GatewayGhostAttachments : IGhostAttachments
{
    /// <summary>The outside address DNAT probes come from (TEST-NET-1, RFC 5737).</summary>
    public static readonly Ipv4 OutsideProbeSource = new((192u << 24) | (0u << 16) | (2u << 8) | 77);

    public bool TryResolve(IntentDocument intent, CheckEndpoint end, CheckEndpoint peer, out GhostAttachment attachment)
    {
        attachment = null!;
        var (gateway, tenant, role) = end.Gateway is { } g && end.Tenant is { } t ? (g, t, "downlink")
            : end.IsOutside && peer.Gateway is { } pg && peer.Tenant is { } pt ? (pg, pt, "uplink")
            : end.IsOutside && RoutedContainer(intent, peer) is { } routed ? (routed.Gateway.Name, routed.Slice.Tenant, "uplink")
            : (null, null, null);
        if (gateway is null || tenant is null || role is null) return false;
        var gw = intent.Gateways.FirstOrDefault(x => x.Name == gateway);
        var ti = gw?.Tenants.FirstOrDefault(x => x.Tenant == tenant);
        if (gw is null || ti is null) return false;
        // A logical switch downlink has no ghost port of the gateway's: its containers are the MFE's ends.
        var hasPort = role == "downlink" ? ti.Downlink is { Kind: not PortKind.LogicalSwitch } : ti.Uplink is not null;
        attachment = new GhostAttachment(
            gw.Node,
            hasPort ? GhostPlaneContext.GatewayPortKey(gateway, tenant, role) : "",
            role == "downlink" ? $"gateway {gateway} tenant {tenant} inside" : $"gateway {gateway} tenant {tenant} uplink (outside)",
            GhostProbe.EndpointMac(new Ipv4Address(end.Address.Value)),
            new MacAddress(gw.RouterMac.Value),
            role == "uplink" && ti.Uplink?.Vlan is { } v ? new VlanId(v) : null,
            $"{gateway}/{tenant}/{role}");
        return true;
    }

    public IEnumerable<ImplicitProbe> Implicit(IntentDocument intent)
    {
        foreach (var gw in intent.Gateways.OrderBy(g => g.Name, StringComparer.Ordinal))
        {
            foreach (var t in gw.Tenants.OrderBy(t => t.Tenant, StringComparer.Ordinal))
            {
                var inside = new CheckEndpoint(default, Gateway: gw.Name, Tenant: t.Tenant);
                if (t.Uplink is { } up)
                {
                    foreach (var d in t.Dnat)
                    {
                        // Behind a logical switch the port-forward must reach the container holding the address.
                        var target = t.Downlink is { Kind: PortKind.LogicalSwitch } ? ContainerAt(intent, t.Tenant, d.InternalAddress) : inside;
                        if (target is null) continue; // no container has it (yet): nothing to reach
                        yield return new ImplicitProbe("dnat-reachable", $"{gw.Name}/{t.Tenant} {d.Protocol.ToString().ToLowerInvariant()}/{d.ExternalPort}",
                            new CheckEndpoint(OutsideProbeSource),
                            target with { Address = up.Address.Address },
                            d.Protocol == DnatProtocol.Tcp ? ProbeProtocol.Tcp : ProbeProtocol.Udp, d.ExternalPort, CheckExpectation.Reach);
                    }
                }
                foreach (var other in gw.Tenants.Where(o => o.Tenant != t.Tenant).OrderBy(o => o.Tenant, StringComparer.Ordinal))
                {
                    if (t.Networks.IsEmpty || other.Networks.IsEmpty) continue;
                    yield return new ImplicitProbe("tenant-isolation", $"{gw.Name}: {t.Tenant} -> {other.Tenant}",
                        new CheckEndpoint(HostIn(t.Networks[0]), Gateway: gw.Name, Tenant: t.Tenant),
                        new CheckEndpoint(HostIn(other.Networks[0]), Gateway: gw.Name, Tenant: other.Tenant),
                        ProbeProtocol.Icmp, null, CheckExpectation.Blocked);
                }
            }
        }
    }

    /// <summary>The router of the logical switch of container end <paramref name="end"/> (<c>HOST/NAME</c>), or null.</summary>
    private static (GatewayIntent Gateway, GatewayTenantIntent Slice)? RoutedContainer(IntentDocument intent, CheckEndpoint end)
    {
        if (end.Container is not { } name || name.Split('/') is not [var host, var container]) return null;
        var tenant = intent.Hosts.FirstOrDefault(h => h.Name == host)?.Containers.FirstOrDefault(c => c.Name == container)?.Tenant;
        return intent.RouterOf(tenant);
    }

    /// <summary>The container end of <paramref name="tenant"/>'s switch whose address is <paramref name="address"/>, or null.</summary>
    private static CheckEndpoint? ContainerAt(IntentDocument intent, string tenant, Ipv4 address) =>
        intent.Hosts.SelectMany(h => h.Containers.Where(c => c.Tenant == tenant && c.Ip == address).Select(c => new CheckEndpoint(c.Ip, Container: $"{h.Name}/{c.Name}")))
            .FirstOrDefault();

    /// <summary>A host address of a tenant network that is not the gateway's own (the network's .200-ish).</summary>
    private static Ipv4 HostIn(Ipv4Cidr network)
    {
        var size = network.PrefixLength >= 31 ? 1u : (1u << (32 - network.PrefixLength)) - 2;
        var offset = Math.Min(200u, size);
        var candidate = new Ipv4(network.Network.Value + offset);
        return candidate == network.Address ? new Ipv4(network.Network.Value + Math.Max(1u, offset - 1)) : candidate;
    }
}
