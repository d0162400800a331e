using Akka.Actor;
using Akka.Hosting;
using Fabric.Actors.Config;

namespace Fabric.Actors.Guardian;

public static class GuardianHosting
{
    public const string Role = "fabric";

    /// <summary>Registers a capability's element kind; the guardian starts those elements from the intent.</summary>
    public static AkkaConfigurationBuilder AddElementKind(this AkkaConfigurationBuilder builder, ElementKindRegistry registry, IElementKind kind)
    {
        registry.Add(kind);
        return builder;
    }

    /// <summary>
    /// Starts /user/fabric when this node carries the fabric role. With <paramref name="lastAppliedPath"/>
    /// the guardian keeps the intent it applied there and, after a restart, starts its elements from
    /// it before the config store answers (<see cref="LastAppliedIntent"/>).
    /// </summary>
    public static AkkaConfigurationBuilder AddFabricGuardian(
        this AkkaConfigurationBuilder builder, string node, IReadOnlyCollection<string> roles, ElementKindRegistry kinds, string? lastAppliedPath = null)
    {
        if (!roles.Contains(Role)) return builder;
        return builder.WithActors((system, registry) =>
        {
            var guardian = system.ActorOf(
                ActorProps.Of(() => new FabricGuardianActor(registry.Get<ConfigStoreActor>(), node, TimeSpan.FromSeconds(1), kinds, lastAppliedPath)),
                "fabric");
            registry.Register<FabricGuardianActor>(guardian);
        });
    }
}
