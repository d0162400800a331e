using Akka.Actor;
using Fabric.Actors.Cellular.Actors;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.Guardian;
using Fabric.Messages.Intent;
using Microsoft.Extensions.DependencyInjection;

namespace Fabric.Actors.Cellular;

/// <summary>A hypervisor as its node runs it.</summary>
public sealed record HypervisorElement(HypervisorIntent Intent);

/// <summary>
/// The <c>hv</c> element kind: every hypervisor whose <c>node</c> is this node runs as
/// /user/fabric/hv-NAME (and, in a ghost registry, as its ghost copy). The fingerprint is the
/// hypervisor's canonical JSON, so any change to its modems, bridge or VMs reconfigures it.
/// </summary>
public sealed class HypervisorElementKind(CellularNode node) : IElementKind
{
    public string Kind => "hv";

    public CellularNode Node => node;

    public IEnumerable<ElementSpec> Desired(IntentDocument intent, string nodeName) =>
        intent.Hypervisors.Where(h => h.Node == nodeName).Select(h =>
            new ElementSpec(Kind, h.Name, new HypervisorElement(h), IntentJson.Write(new IntentDocument { Hypervisors = [h] })));

    public Props Props(ElementSpec spec) => HypervisorActor.Props(((HypervisorElement)spec.Spec).Intent, node);
}

public static class CellularHosting
{
    /// <summary>
    /// Cellular connectivity on this node: the <c>hv</c> element kind (hypervisors, their modems
    /// and bridge) with its node context as a singleton. With <paramref name="ghostKinds"/>, a
    /// second element kind runs the ghost copies: a <see cref="CellularNode"/> in ghost mode whose
    /// VM ports come from <paramref name="ghostPortFactory"/> (default: in-memory ports), every
    /// modem an in-memory emulator, nothing opened on the host.
    /// </summary>
    public static IServiceCollection AddCellular(
        this IServiceCollection services,
        ElementKindRegistry kinds,
        CellularNode? node = null,
        ElementKindRegistry? ghostKinds = null,
        Func<PortRef, ushort, IPort>? ghostPortFactory = null,
        GhostPlaneContext? ghost = null)
    {
        node ??= new CellularNode();
        kinds.Add(new HypervisorElementKind(node));
        services.AddSingleton(node);
        if (ghostKinds is not null)
        {
            var ghostNode = new CellularNode(ghost: true, ghostPortFactory ?? CellularNode.MemoryPorts, node.Settings) { Tracer = ghost?.Tracer };
            ghostKinds.Add(new HypervisorElementKind(ghostNode));
            if (ghost is not null)
            {
                ghost.Attachments.Add(new CellularGhostAttachments());
                // Ready when every ghost modem has its bearer up and every VM's bridge holds the address (a VM probe needs it).
                ghost.Liveness.Add(() => CellularGhost.Readiness(ghostNode));
            }
        }
        return services;
    }
}
