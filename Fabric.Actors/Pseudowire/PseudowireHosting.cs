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
            var ghostNode = PseudowireNode.Ghost(ghost.Ports, ghost.PwUnderlayPort, node.Liveness);
            ghost.Kinds.Add(new PeElementKind(ghostNode));
            ghost.Attachments.Add(new PwGhostAttachments());
            // Ready when every trunk's selector has every member active (the trunk actor swaps the
            // selector after BFD comes up) and every PW outside a trunk is up.
            ghost.Liveness.Add(() =>
            {
                var trunks = ghostNode.Trunks.Values.ToList();
                var inTrunks = trunks.SelectMany(t => t.Forwarder.Members.Select(m => m.Name)).ToHashSet();
                var single = ghostNode.Pws.Values.Where(p => !inTrunks.Contains(p.Name)).ToList();
                return (trunks.Sum(t => t.Forwarder.Selector.ActiveCount) + single.Count(p => p.IsUp),
                        trunks.Sum(t => t.Forwarder.Members.Count) + single.Count);
            });
            ghost.LivenessPace.Add(new GhostLivenessPace(
                quiet => ghostNode.LivenessQuiet = quiet,
                urgent => ghostNode.LivenessUrgent = urgent,
                () => ghostNode.Underlay?.Liveness.LongestDetectionTime ?? TimeSpan.Zero));
            ghost.Publish(ghostNode);
        }
        // Registered through a factory so the container owns it: when the node stops, its
        // underlay socket closes (peers then see hellos stop and ICMP port unreachable).
        services.AddSingleton(_ => node);
        return services;
    }
}
