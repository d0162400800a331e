using System.Collections.Immutable;

namespace Fabric.Messages.Intent;

/// <summary>
/// The desired network: every element names the node that hosts it. Parsed and validated as a
/// whole by <see cref="IntentParser"/>; two documents are the same intent when
/// <see cref="IntentJson.Write"/> gives the same text (record equality does not look inside
/// the immutable arrays, so do not compare documents with <c>==</c>).
/// </summary>
public sealed record IntentDocument : IFabricMessage
{
    /// <summary>The only schema version this code reads.</summary>
    public const int CurrentVersion = 1;

    /// <summary>Schema version of the document (<c>version</c>, default 1).</summary>
    public int Version { get; init; } = CurrentVersion;

    /// <summary>The intent version this change was written against (<c>baseVersion</c>), if any.</summary>
    public long? BaseVersion { get; init; }

    public ImmutableArray<NodeIntent> Nodes { get; init; } = [];

    public ImmutableArray<TenantIntent> Tenants { get; init; } = [];

    public ImmutableArray<PeIntent> Pes { get; init; } = [];

    public ImmutableArray<PwIntent> Pws { get; init; } = [];

    public ImmutableArray<TrunkIntent> Trunks { get; init; } = [];

    public ImmutableArray<GatewayIntent> Gateways { get; init; } = [];

    public ImmutableArray<HostIntent> Hosts { get; init; } = [];

    public ImmutableArray<HypervisorIntent> Hypervisors { get; init; } = [];

    /// <summary>Declared checks every change is verified against on the ghost network.</summary>
    public ImmutableArray<CheckIntent> Checks { get; init; } = [];

    /// <summary>
    /// A lab around the fabric (<c>fabric-node lab up</c>): network namespaces behind some of its
    /// TAP ports. The runtime ignores it; only the lab command reads it.
    /// </summary>
    public ImmutableArray<LabAttachmentIntent> Lab { get; init; } = [];

    /// <summary>Every TAP port's name, wherever the document attaches one.</summary>
    public IEnumerable<string> TapPorts()
    {
        var ports = Pes.SelectMany(p => p.AttachmentCircuits.Select(a => a.Port))
            .Concat(Gateways.SelectMany(g => g.Tenants.SelectMany(t => new[] { t.Uplink?.Port, t.Downlink })))
            .Concat(Hosts.SelectMany(h => h.ContainerDcns.Select(d => d.VnicPort)))
            .Concat(Hypervisors.SelectMany(h => h.Vms.Select(v => v.Port)));
        return ports.Where(p => p is { Kind: PortKind.Tap }).Select(p => p!.Name).Distinct();
    }
}

/// <summary>
/// One lab namespace: it stands behind the TAP port <paramref name="Port"/> (a port of kind
/// <c>tap</c> named in the document) with <paramref name="Address"/>, and a default route via
/// <paramref name="Gateway"/> when given.
/// </summary>
public sealed record LabAttachmentIntent(string Port, Ipv4Cidr Address, Ipv4? Gateway = null);

/// <summary>Cluster roles a node carries; they decide which intent publications it receives.</summary>
public enum NodeRole
{
    /// <summary><c>fabric</c>: runs the main elements (committed changes only).</summary>
    Fabric,

    /// <summary><c>ghost-shadow</c>: runs ghost elements and verifies proposed changes.</summary>
    GhostShadow,
}

/// <summary>A Fabric.Node process. <paramref name="Address"/> is its underlay (UDP) address.</summary>
public sealed record NodeIntent(
    string Name,
    ImmutableArray<NodeRole> Roles,
    Ipv4? Address = null,
    string? Description = null);

/// <summary>A tenant; <paramref name="Vni"/> is its id and its Geneve/VXLAN VNI (1..16777215).</summary>
public sealed record TenantIntent(string Name, uint Vni);
