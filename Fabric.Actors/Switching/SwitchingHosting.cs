using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.Guardian;
using Fabric.Messages.Intent;
using Microsoft.Extensions.DependencyInjection;

namespace Fabric.Actors.Switching;

public static class SwitchingHosting
{
    /// <summary>Service key of the ghost plane's <see cref="SwitchingNode"/> (when registered).</summary>
    public const string GhostKey = "ghost";

    /// <summary>
    /// The switching capability on this node: the main plane's <see cref="SwitchingNode"/> (Geneve
    /// underlay, pool, live MFEs for management) as a singleton and the "host" element kind the
    /// guardian starts hosts through. With <paramref name="ghostKinds"/> a second element kind is
    /// registered there, built on a ghost plane (ghost: true, every port from
    /// <paramref name="ghostPortFactory"/>, its own Geneve underlay on
    /// <paramref name="ghostGenevePort"/>, default the main port + 1), available as the keyed
    /// service <see cref="GhostKey"/>, whose router ports count as ghost links in
    /// <paramref name="ghostLiveness"/> (the verifier waits for their gateways to attach). Both
    /// are disposed with the service provider.
    /// </summary>
    public static IServiceCollection AddSwitching(
        this IServiceCollection services,
        ElementKindRegistry kinds,
        SwitchingNode? node = null,
        ElementKindRegistry? ghostKinds = null,
        Func<PortRef, ushort, IPort>? ghostPortFactory = null,
        ushort? ghostGenevePort = null,
        IHopTracer? ghostTracer = null,
        PatchPanel? ghostPatches = null,
        ICollection<Func<(int Up, int Total)>>? ghostLiveness = null)
    {
        ArgumentNullException.ThrowIfNull(kinds);
        node ??= new SwitchingNode();
        kinds.Add(new MfeElementKind(node));
        services.AddSingleton(_ => node);
        if (ghostKinds is not null)
        {
            var ghost = GhostPlane(node, ghostPortFactory, ghostGenevePort, ghostTracer, ghostPatches);
            ghostKinds.Add(new MfeElementKind(ghost));
            ghostLiveness?.Add(ghost.RouterLiveness);
            services.AddKeyedSingleton(GhostKey, (_, _) => ghost);
        }

        return services;
    }

    /// <summary>
    /// The ghost plane that goes with <paramref name="main"/>: ghost mode, the given ports, the
    /// Geneve port + 1 unless told, and the ghost gateways' patch panel (<paramref name="patches"/>).
    /// </summary>
    public static SwitchingNode GhostPlane(
        SwitchingNode main, Func<PortRef, ushort, IPort>? portFactory, ushort? genevePort = null, IHopTracer? tracer = null, PatchPanel? patches = null)
    {
        ArgumentNullException.ThrowIfNull(main);
        ushort port = genevePort ?? (ushort)(main.GenevePort == ushort.MaxValue ? main.GenevePort - 1 : main.GenevePort + 1);
        return new SwitchingNode(ghost: true, portFactory ?? SwitchingNode.IdlePort, port, patches, main.Pool.MaxRetained) { Tracer = tracer };
    }
}
