using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Hosting;
using Akka.Hosting;
using Akka.Remote.Hosting;
using Fabric.Actors.Cellular;
using Fabric.Actors.Config;
using Fabric.Actors.Gateway;
using Fabric.Actors.Ghost;
using Fabric.Actors.Guardian;
using Fabric.Actors.Pseudowire;
using Fabric.Messages.Serialization;
using Fabric.Node.Management;

namespace Fabric.Node.Hosting;

/// <summary>Builds a node: the Akka cluster member, its actors, and management HTTP, in one host.</summary>
public static class FabricNodeApp
{
    public const string SystemName = "fabric";

    public static WebApplication Build(NodeOptions options)
    {
        var dataDir = Path.GetFullPath(options.DataDir);
        Directory.CreateDirectory(dataDir);
        var database = StoreDatabase.Parse(options.Db, dataDir);
        var (token, tokenSource) = ManagementToken.Resolve(options with { DataDir = dataDir });
        var roles = options.Roles.ToArray();

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "fabric-node" });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; });
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        builder.WebHost.UseKestrel(k => k.Listen(ManagementEndpoint.Resolve(options.ManagementHost), options.ManagementPort));
        builder.Services.AddOpenApi();
        builder.Services.AddProblemDetails();
        builder.Services.AddSingleton(new NodeContext(options, database, token, tokenSource, dataDir));

        var elementKinds = new ElementKindRegistry();
        builder.Services.AddSingleton(elementKinds);
        builder.Services.AddPseudowires(elementKinds);
        builder.Services.AddCellular(elementKinds);
        builder.Services.AddAkka(SystemName, akka =>
        {
            akka.AddHoconFile(Path.Combine(AppContext.BaseDirectory, "hocon", "fabric.conf"), HoconAddMode.Append)
                .AddHocon(FabricSerialization.Config, HoconAddMode.Prepend);
            if (options.HoconFile is { } extra) akka.AddHoconFile(Path.GetFullPath(extra), HoconAddMode.Prepend);

            akka.WithRemoting(new RemoteOptions { HostName = options.Host, Port = options.Port })
                .WithClustering(new ClusterOptions
                {
                    Roles = roles,
                    SeedNodes = options.Seeds.Select(s => NodeOptions.SeedAddress(s, SystemName)).ToArray(),
                })
                .WithDistributedPubSub("")
                .AddConfigStore(database)
                .AddFabricGuardian(options.Name, roles, elementKinds)
                .AddGateways(elementKinds, roles)
                .AddGhostShadow(options.Name, roles)
                .WithActors((system, _) =>
                {
                    // No seed: this node starts a new cluster by joining itself.
                    if (options.Seeds.IsEmpty) Cluster.Get(system).Join(Cluster.Get(system).SelfAddress);
                });
        });
        builder.Services.AddHostedService<IntentBootstrapper>();

        var app = builder.Build();
        app.MapOpenApi();
        app.MapManagementApi();
        return app;
    }
}
