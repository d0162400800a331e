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

/// <summary>A VM that hosts containers, reached through its single VNIC.</summary>
public sealed record ContainerDcnIntent(string Name, Mac48 VnicMac);

/// <summary>A container in <paramref name="Dcn"/>; <paramref name="LocalTag"/> (a VLAN id, 1..4094) is unique within that DCN.</summary>
public sealed record ContainerIntent(string Name, string Dcn, ushort LocalTag, Mac48 Mac, Ipv4 Ip);
