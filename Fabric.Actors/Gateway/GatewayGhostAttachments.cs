using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Guardian;
using Fabric.Messages.Intent;

namespace Fabric.Actors.Gateway;

/// <summary>
/// The gateway's ends for the ghost verifier: <c>gateway + tenant</c> is the tenant's downlink
/// (a probe from there is addressed to the gateway's MAC); an outside address checked against a
/// gateway tenant is that tenant's uplink (tagged with its VLAN). Implicit probes: every DNAT
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
            : (null, null, null);
        if (gateway is null || tenant is null || role is null) return false;
        var gw = intent.Gateways.FirstOrDefault(x => x.Name == gateway);
        var ti = gw?.Tenants.FirstOrDefault(x => x.Tenant == tenant);
        if (gw is null || ti is null) return false;
        var hasPort = role == "downlink" ? ti.Downlink is not null : ti.Uplink is not null;
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
                        yield return new ImplicitProbe("dnat-reachable", $"{gw.Name}/{t.Tenant} {d.Protocol.ToString().ToLowerInvariant()}/{d.ExternalPort}",
                            new CheckEndpoint(OutsideProbeSource),
                            inside with { Address = up.Address.Address },
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

    /// <summary>A host address of a tenant network that is not the gateway's own (the network's .200-ish).</summary>
    private static Ipv4 HostIn(Ipv4Cidr network)
    {
        var size = network.PrefixLength >= 31 ? 1u : (1u << (32 - network.PrefixLength)) - 2;
        var offset = Math.Min(200u, size);
        var candidate = new Ipv4(network.Network.Value + offset);
        return candidate == network.Address ? new Ipv4(network.Network.Value + Math.Max(1u, offset - 1)) : candidate;
    }
}
