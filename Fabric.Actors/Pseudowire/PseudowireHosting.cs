using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.Guardian;
using Microsoft.Extensions.DependencyInjection;

namespace Fabric.Actors.Pseudowire;

public static class PseudowireHosting
{
    /// <summary>
    /// The pseudowire capability on this node: one <see cref="PseudowireNode"/> (underlay socket,
    /// pool, live state for management) as a singleton, and the "pe" element kind the guardian
    /// starts PEs through. The node (also one passed in) is disposed with the service provider.
    /// </summary>
    public static IServiceCollection AddPseudowires(this IServiceCollection services, ElementKindRegistry kinds, PseudowireNode? node = null, GhostPlaneContext? ghost = null)
    {
        node ??= new PseudowireNode();
        kinds.Add(new PeElementKind(node));
        if (ghost is not null)
        {
            // The ghost copy: same element kind, its own underlay port, ghost attachment ports.
            var ghostNode = PseudowireNode.Ghost(ghost.Ports, ghost.PwUnderlayPort);
            ghost.Kinds.Add(new PeElementKind(ghostNode));
            ghost.Attachments.Add(new PwGhostAttachments());
            ghost.Liveness.Add(() => (ghostNode.Pws.Values.Count(p => p.IsUp), ghostNode.Pws.Count));
            ghost.Publish(ghostNode);
        }
        // Registered through a factory so the container owns it: when the node stops, its
        // underlay socket closes (peers then see hellos stop and ICMP port unreachable).
        services.AddSingleton(_ => node);
        return services;
    }
}
