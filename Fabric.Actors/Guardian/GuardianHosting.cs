using Akka.Actor;
using Akka.Hosting;
using Fabric.Actors.Config;

namespace Fabric.Actors.Guardian;

public static class GuardianHosting
{
    public const string Role = "fabric";

    /// <summary>Starts /user/fabric when this node carries the fabric role.</summary>
    public static AkkaConfigurationBuilder AddFabricGuardian(this AkkaConfigurationBuilder builder, string node, IReadOnlyCollection<string> roles)
    {
        if (!roles.Contains(Role)) return builder;
        return builder.WithActors((system, registry) =>
        {
            var guardian = system.ActorOf(
                Props.Create(() => new FabricGuardianActor(registry.Get<ConfigStoreActor>(), node, TimeSpan.FromSeconds(1))),
                "fabric");
            registry.Register<FabricGuardianActor>(guardian);
        });
    }
}
