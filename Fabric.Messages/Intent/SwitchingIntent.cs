using System.Collections.Immutable;

namespace Fabric.Messages.Intent;

/// <summary>
/// A host (one per node) with its managed forwarding element. Containers run inside container
/// DCNs (VMs with one VNIC); each container gets its own MFE port, and its traffic towards the
/// VNIC is told apart by its local tag.
/// </summary>
public sealed record HostIntent(
    string Name,
    string Node,
    MfeIntent Mfe,
    ImmutableArray<ContainerDcnIntent> ContainerDcns,
    ImmutableArray<ContainerIntent> Containers);

/// <summary>The host's managed forwarding element.</summary>
public sealed record MfeIntent(string Name);

/// <summary>
/// A VM that hosts containers, reached through its single VNIC. <paramref name="Port"/> is the
/// MFE's side of that VNIC (a TAP, or a simulated port); absent means a simulated port named
/// after the DCN (<see cref="VnicPort"/>).
/// </summary>
public sealed record ContainerDcnIntent(string Name, Mac48 VnicMac, PortRef? Port = null)
{
    /// <summary>The VNIC's port, with the default filled in.</summary>
    public PortRef VnicPort => Port ?? new PortRef(PortKind.Simulated, Name);
}

/// <summary>
/// A container in <paramref name="Dcn"/>; <paramref name="LocalTag"/> (a VLAN id, 1..4094) is
/// unique within that DCN. <paramref name="Tenant"/> names the logical switch the container is
/// on (its Geneve VNI is the tenant's <c>vni</c>, so containers of one tenant on other hosts are
/// reachable); without one the container only reaches tenant-less containers of its own host.
/// <paramref name="Ingress"/> filters what is delivered to the container, <paramref name="Egress"/>
/// what it sends (absent: everything passes; rules have the gateway firewall's shape, stateless).
/// <paramref name="Capture"/> is a pcap file every frame of the port is copied into.
/// </summary>
public sealed record ContainerIntent(
    string Name,
    string Dcn,
    ushort LocalTag,
    Mac48 Mac,
    Ipv4 Ip,
    string? Tenant = null,
    FirewallIntent? Ingress = null,
    FirewallIntent? Egress = null,
    string? Capture = null);
