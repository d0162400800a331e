using System.Collections.Immutable;
using System.Text;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Messages.Intent;

namespace Fabric.Actors.Switching;

/// <summary>
/// A host's MFE as its node runs it: the container DCNs (each a VNIC port), the containers on
/// them (each an MFE port), and the containers of the same tenants on other hosts, reached over
/// Geneve at their node's underlay address. Built from the intent by <see cref="MfeElementKind"/>.
/// </summary>
public sealed record MfeSpec(
    string Host,
    string Mfe,
    string Node,
    Ipv4Address Underlay,
    ImmutableArray<DcnSpec> Dcns,
    ImmutableArray<ContainerSpec> Containers,
    ImmutableArray<RemoteContainer> Remotes)
{
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
