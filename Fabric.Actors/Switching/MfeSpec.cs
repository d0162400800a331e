using System.Collections.Immutable;
using System.Text;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Messages.Intent;

namespace Fabric.Actors.Switching;

/// <summary>
/// A host's MFE as its node runs it: the container DCNs (each a VNIC port), the containers on
/// them (each an MFE port), the containers of the same tenants on other hosts, reached over
/// Geneve at their node's underlay address, and the router ports of the gateways whose downlink
/// is one of those tenants' logical switch (carried here when the gateway runs on this node).
/// Built from the intent by <see cref="MfeElementKind"/>.
/// </summary>
public sealed record MfeSpec(
    string Host,
    string Mfe,
    string Node,
    Ipv4Address Underlay,
    ImmutableArray<DcnSpec> Dcns,
    ImmutableArray<ContainerSpec> Containers,
    ImmutableArray<RemoteContainer> Remotes,
    ImmutableArray<RouterPortSpec> Routers = default)
{
    /// <summary>The router ports this MFE carries (none when not given).</summary>
    public ImmutableArray<RouterPortSpec> RouterPorts => Routers.IsDefault ? [] : Routers;

    /// <summary>Changes exactly when something the data path forwards on changes.</summary>
    public string Fingerprint()
    {
        var text = new StringBuilder();
        text.Append(Host).Append('|').Append(Mfe).Append('|').Append(Node).Append('|').Append(Underlay).Append('\n');
        foreach (var d in Dcns)
        {
            text.Append("dcn ").Append(d.Fingerprint).Append('\n');
        }

        foreach (var c in Containers)
        {
            text.Append("port ").Append(c.Fingerprint).Append('\n');
        }

        foreach (var r in Remotes)
        {
            text.Append("remote ").Append(r).Append('\n');
        }

        foreach (var r in RouterPorts)
        {
            text.Append("router ").Append(r).Append('\n');
        }

        return text.ToString();
    }
}

/// <summary>A container DCN: its VNIC's MAC and the MFE port the VNIC is (TAP or simulated).</summary>
public sealed record DcnSpec(string Name, MacAddress VnicMac, PortRef Port)
{
    public string Fingerprint => $"{Name}|{VnicMac}|{Port.Kind}|{Port.Name}";
}

/// <summary>
/// A container on this host: its DCN and local tag, MAC, IP, logical switch (<see cref="Vni"/>
/// is its tenant's VNI, 0 without a tenant: then it reaches only tenant-less containers of this
/// host), port ACLs and optional capture file.
/// </summary>
public sealed record ContainerSpec(
    string Name,
    string Dcn,
    VlanId Tag,
    MacAddress Mac,
    Ipv4Address Ip,
    string? Tenant,
    uint Vni,
    FirewallIntent? Ingress,
    FirewallIntent? Egress,
    string? Capture)
{
    public string Fingerprint =>
        $"{Name}|{Dcn}|{Tag}|{Mac}|{Ip}|{Tenant}|{Vni}|{PortAcl.Describe(Ingress)}|{PortAcl.Describe(Egress)}|{Capture}";
}

/// <summary>A container of one of this host's tenants on another host: reached over Geneve at <see cref="Remote"/>.</summary>
public sealed record RemoteContainer(string Host, string Name, MacAddress Mac, Ipv4Address Ip, uint Vni, UnderlayEndpoint Remote)
{
    public override string ToString() => $"{Host}/{Name}|{Mac}|{Ip}|{Vni}|{Remote}";
}

/// <summary>
/// A gateway's router port on a tenant's logical switch: its MAC (the gateway's) and addresses
/// (the tenant's networks on the gateway) are answered in ARP and forwarded to like a
/// container's. <see cref="Remote"/> null: this MFE carries it (the gateway runs on this node)
/// and frames go to the gateway over the node's patch link <see cref="Link"/>; otherwise it is
/// on another node, reached over Geneve there.
/// </summary>
public sealed record RouterPortSpec(string Gateway, string Tenant, uint Vni, MacAddress Mac, ImmutableArray<Ipv4Address> Addresses, UnderlayEndpoint? Remote = null)
{
    public bool IsLocal => Remote is null;

    /// <summary>The patch link between this port and the gateway (<see cref="PatchPanel.RouterPort"/>).</summary>
    public string Link => PatchPanel.RouterPort(Gateway, Tenant);

    public override string ToString() => $"{Gateway}/{Tenant}|{Vni}|{Mac}|{string.Join(",", Addresses)}|{Remote?.ToString() ?? "local"}";
}
