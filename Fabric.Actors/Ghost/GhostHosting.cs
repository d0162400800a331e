using Akka.Actor;
using Akka.Hosting;
using Fabric.Actors.Config;
using Fabric.Actors.Guardian;

namespace Fabric.Actors.Ghost;

public static class GhostHosting
{
    public const string Role = "ghost-shadow";

    /// <summary>
    /// This node's ghost plane (ghost routing) when it carries the ghost-shadow role, else null:
    /// capabilities register their ghost element kinds and attachment resolvers in it.
    /// </summary>
    public static GhostPlaneContext? GhostPlane(string node, IReadOnlyCollection<string> roles, GhostSettings settings) =>
        roles.Contains(Role) ? new GhostPlaneContext(new ProbeTracer(node), settings.PwUnderlayPort) : null;

    /// <summary>Starts /user/ghost when this node carries the ghost-shadow role.</summary>
    public static AkkaConfigurationBuilder AddGhostShadow(this AkkaConfigurationBuilder builder, string node, GhostPlaneContext? plane, GhostSettings settings)
    {
        if (plane is null) return builder;
        return builder.WithActors((system, registry) =>
        {
            var ghost = system.ActorOf(GhostShadowActor.Props(registry.Get<ConfigStoreActor>(), node, plane, (ProbeTracer)plane.Tracer, settings), "ghost");
            registry.Register<GhostShadowActor>(ghost);
        });
    }
}
