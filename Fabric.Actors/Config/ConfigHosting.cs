using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Hosting;

namespace Fabric.Actors.Config;

public static class ConfigHosting
{
    public const string SingletonName = "config-store";

    /// <summary>
    /// The config store: a persistent cluster singleton journaling to <paramref name="database"/>,
    /// and a proxy to it on every node (registered as <see cref="ConfigStoreActor"/>).
    /// </summary>
    public static AkkaConfigurationBuilder AddConfigStore(this AkkaConfigurationBuilder builder, StoreDatabase database)
    {
        database.Prepare();
        return builder
            .AddHocon(database.ToHocon(), HoconAddMode.Prepend)
            .WithSingleton<ConfigStoreActor>(
                SingletonName,
                (system, _, _) => ActorProps.Of(() => new ConfigStoreActor(Settings.FabricSettings.Get(system).ConfigStore)),
                // Readiness (/health/ready) reports an unreachable store; the proxy's own periodic
                // warning fires misleadingly during start and hand-over.
                new ClusterSingletonOptions { LogSingletonIdentificationFailure = false },
                createProxyToo: true);
    }
}
