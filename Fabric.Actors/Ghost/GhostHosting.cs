using Akka.Actor;
using Akka.Hosting;
using Fabric.Actors.Config;

namespace Fabric.Actors.Ghost;

public static class GhostHosting
{
    public const string Role = "ghost-shadow";

    /// <summary>Starts /user/ghost when this node carries the ghost-shadow role.</summary>
    public static AkkaConfigurationBuilder AddGhostShadow(this AkkaConfigurationBuilder builder, string node, IReadOnlyCollection<string> roles)
    {
        if (!roles.Contains(Role)) return builder;
        return builder.WithActors((system, registry) =>
        {
            var ghost = system.ActorOf(Props.Create(() => new GhostShadowActor(registry.Get<ConfigStoreActor>(), node)), "ghost");
            registry.Register<GhostShadowActor>(ghost);
        });
    }
}
