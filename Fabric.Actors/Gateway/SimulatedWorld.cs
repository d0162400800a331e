using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Messages.Intent;

namespace Fabric.Actors.Gateway;

/// <summary>
/// What stands behind a gateway's simulated downlink that has <c>traffic</c> in the intent: a
/// few inside hosts (the tenant's first network, from host .10 on) sending TCP to port 80 of an
/// outside address (198.18.0.80, RFC 2544's benchmarking range) at the port's rate, and the
/// outside router that answers for the tenant's default route. The simulated uplink cannot
/// answer ARP, so the router's address is known to the gateway as a static neighbour; with it
/// the flows go out through SNAT and, repeating, hit the flow cache.
/// </summary>
public static class SimulatedWorld
{
    /// <summary>Inside hosts (flows) of a simulated downlink.</summary>
    public const int Hosts = 8;

    /// <summary>The MAC the simulated outside router and inside hosts answer with (locally administered).</summary>
    public static readonly MacAddress RouterMac = MacAddress.Parse("02:00:00:5e:00:01");

    /// <summary>The generated traffic of <paramref name="port"/>, or null when it generates none (not a downlink, no rate, no network).</summary>
    public static TrafficProfile? Profile(GatewayPlan plan, GatewayTenantIntent tenant, GatewayPort port)
    {
        if (port.Role != PortRole.Downlink || port.Ref.Traffic is not { } rate || tenant.Networks.IsDefaultOrEmpty) return null;
        var network = tenant.Networks[0];
        return new TrafficProfile
        {
            Flows = Hosts,
            FramesPerSecond = rate,
            Protocol = IpProtocol.Tcp,
            SourceMac = MacAddress.Parse("02:00:00:5e:10:01"),
            DestinationMac = plan.Mac,
            SourceAddress = new Ipv4Address(network.Network.Value + 10),
            DestinationAddress = Ipv4Address.Parse("198.18.0.80"),
            SourcePort = 40000,
            DestinationPort = 80,
            Vlan = port.Vlan == 0 ? null : new VlanId(port.Vlan),
        };
    }

    /// <summary>The neighbours the simulated world answers for: the tenant's next hops on its uplink, when that uplink is simulated.</summary>
    public static IEnumerable<(ushort Port, Ipv4Address Address, MacAddress Mac)> Neighbors(GatewayPlan plan, GatewayTenantIntent tenant, int tenantIndex)
    {
        var uplink = plan.Ports.FirstOrDefault(p => p.TenantIndex == tenantIndex && p.Role == PortRole.Uplink && p.Ref.Kind == PortKind.Simulated);
        if (uplink is null) yield break;
        foreach (var route in tenant.Routes) yield return (uplink.Id, GatewayPlan.Address(route.NextHop), RouterMac);
    }
}
