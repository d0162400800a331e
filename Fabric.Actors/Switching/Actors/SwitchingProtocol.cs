namespace Fabric.Actors.Switching.Actors;

// Messages between the switching actors of one node. They carry live objects (ports, VNICs), so
// they never leave the process and are not Fabric.Messages contracts.

/// <summary>The host's MFE must follow a new spec (host → MFE).</summary>
internal sealed record MfeSpecChanged(MfeSpec Spec);

/// <summary>A DCN's VNIC port is open and receiving (VNIC → MFE).</summary>
internal sealed record VnicUp(DcnVnic Vnic);

/// <summary>A DCN's VNIC port went away; the VNIC actor re-opens it with backoff (VNIC → MFE).</summary>
internal sealed record VnicDown(string Dcn);

/// <summary>A container's port exists (port → MFE).</summary>
internal sealed record PortUp(ContainerPort Port);

/// <summary>A container's configuration changed in a way its port keeps (MFE → port).</summary>
internal sealed record ContainerChanged(ContainerSpec Spec);
