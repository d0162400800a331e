using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Hosting;
using Akka.Hosting;
using Akka.Remote.Hosting;
using Fabric.Actors.Cellular;
using Fabric.Actors.Config;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.Gateway;
using Fabric.Actors.Ghost;
using Fabric.Actors.Guardian;
using Fabric.Actors.Pseudowire;
using Fabric.Actors.Settings;
using Fabric.Actors.Switching;
using Fabric.Messages.Serialization;
using Fabric.Node.Management;

namespace Fabric.Node.Hosting;

/// <summary>Builds a node: the Akka cluster member, its actors, and management HTTP, in one host.</summary>
public static class FabricNodeApp
{
    public const string SystemName = "fabric";

    /// <summary>The host's switch for watching its configuration files (set to false unless the operator set it).</summary>
    private const string ReloadConfigVariable = "DOTNET_hostBuilder__reloadConfigOnChange";

    /// <summary>
    /// Builds the node. Throws <see cref="ArgumentException"/> with a one-line reason when the
    /// options do not hold together (management exposure, token file, database).
    /// </summary>
    public static WebApplication Build(NodeOptions options)
    {
        ManagementEndpoint.Validate(options);
        RemotingPort.EnsureFree(options.Host, options.Port);
        var dataDir = Path.GetFullPath(options.DataDir);
        var dataDirWarning = DataDirectory.Create(dataDir);
        var database = StoreDatabase.Parse(options.Db, dataDir);
        var (token, tokenSource) = ManagementToken.Resolve(options with { DataDir = dataDir });
        var roles = options.Roles.ToArray();
        var hocon = NodeHocon.Load(options);
        // Every fabric.* setting, read and checked once: a bad value stops the node here, naming its key.
        var settings = FabricSettings.From(hocon);
        var intentLimits = settings.Intent;
        var management = settings.Management;
        var certificate = ManagementEndpoint.Certificate(options);

        // No configuration reload: the host would watch its content root (the directory the node
        // was started from, recursively, where ./data usually is) with inotify and wake on every
        // write the node makes there; the node reads no appsettings file. The slim builder reads
        // the switch from DOTNET_ variables only (a command-line switch comes after the files).
        if (Environment.GetEnvironmentVariable(ReloadConfigVariable) is null)
        {
            Environment.SetEnvironmentVariable(ReloadConfigVariable, "false");
        }

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "fabric-node" });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; });
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        var logRing = new NodeLogRing(management.LogLines);
        builder.Logging.AddProvider(new NodeLogRingProvider(logRing));
        // Kestrel without HTTP/3 (UseKestrel would add it, loading QUIC): management is HTTP/1.1.
        builder.WebHost.UseKestrelCore().UseKestrelHttpsConfiguration().ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = ManagementPipeline.MaxRequestBody;
            k.Limits.MaxRequestLineSize = ManagementPipeline.KestrelRequestLineLimit;
            k.Limits.MaxRequestHeadersTotalSize = ManagementPipeline.KestrelHeadersLimit;
            k.Limits.KeepAliveTimeout = management.KeepAliveTimeout;
            k.Limits.RequestHeadersTimeout = management.RequestHeadersTimeout;
            var gate = new ConnectionGate(options.ManagementMaxConnections,
                k.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger("fabric-node.management"));
            k.Listen(ManagementEndpoint.Resolve(options.ManagementHost), options.ManagementPort, listen =>
            {
                listen.Protocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http1;
                listen.Use(gate.Wrap);
                if (certificate is not null) listen.UseHttps(certificate);
            });
        });
        builder.Services.AddOpenApi();
        builder.Services.AddProblemDetails();
        builder.Services.AddSingleton(new NodeContext(options, database, token, tokenSource, dataDir));
        builder.Services.AddSingleton(intentLimits);
        builder.Services.AddSingleton(management);
        builder.Services.AddSingleton(logRing);
        builder.Services.AddSingleton(new StartupNotes(dataDirWarning));

        builder.Services.AddSingleton(settings);
        Fabric.Actors.DataPlane.Io.TapPort.OffloadsByDefault = settings.Tap.Offloads;
        Fabric.Actors.DataPlane.Io.TapPort.IoUring = settings.Tap.IoUring;
        Fabric.Actors.DataPlane.Io.TapPort.TxQueueLength = settings.Tap.TxQueueLength;
        var ghostSettings = settings.Ghost;
        var ghostPlane = GhostHosting.GhostPlane(options.Name, roles, ghostSettings);
        var elementKinds = new ElementKindRegistry();
        builder.Services.AddSingleton(elementKinds);
        if (ghostPlane is not null) builder.Services.AddSingleton(_ => ghostPlane); // the container disposes it (ghost sockets)
        // The I/O loops are process-wide; configured once before any port receives.
        IoLoops.Configure(settings.Io);
        // TAPs the node creates outlive it (persistent) when fabric.tap.persistent is on; the record
        // of which ones it created lives in the data directory (see AttachmentDevices).
        var attachmentDevices = settings.Tap.Persistent ? AttachmentDevices.InDataDir(dataDir) : null;
        builder.Services.AddPseudowires(elementKinds, new PseudowireNode { Liveness = settings.Pseudowire.Liveness, UnderlayQueueDelay = settings.Pseudowire.UnderlayQueueDelay, Devices = attachmentDevices }, ghost: ghostPlane);
        var switching = settings.Switching;
        builder.Services.AddSingleton(switching);
        // Where a gateway's router port on a logical switch meets the MFE carrying it (one panel per plane).
        var patches = new PatchPanel();
        builder.Services.AddSwitching(elementKinds, new SwitchingNode(genevePort: switching.GenevePort, patches: patches, poolRetainedBatches: switching.PoolRetainedBatches),
            ghostKinds: ghostPlane?.Kinds, ghostPortFactory: ghostPlane?.Ports.Factory(),
            ghostGenevePort: switching.GhostGenevePort == 0 ? null : switching.GhostGenevePort, ghostTracer: ghostPlane?.Tracer,
            ghostPatches: ghostPlane?.Patches, ghostLiveness: ghostPlane?.Liveness);
        if (ghostPlane is not null) ghostPlane.Attachments.Add(new MfeGhostAttachments(switching.GhostIsolationProbes));
        builder.Services.AddCellular(elementKinds, new CellularNode(settings: settings.Cellular), ghostKinds: ghostPlane?.Kinds, ghostPortFactory: ghostPlane?.Ports.Factory(), ghost: ghostPlane);
        builder.Services.AddAkka(SystemName, akka =>
        {
            akka.AddHoconFile(NodeHocon.BaseFile, HoconAddMode.Append)
                .AddHocon(FabricSerialization.Config, HoconAddMode.Prepend);
            if (options.HoconFile is { } extra) akka.AddHoconFile(Path.GetFullPath(extra), HoconAddMode.Prepend);

            akka.WithRemoting(new RemoteOptions { HostName = options.Host, Port = options.Port })
                .WithRemotingTls(options)
                .WithClustering(new ClusterOptions
                {
                    Roles = roles,
                    SeedNodes = options.Seeds.Select(s => NodeOptions.SeedAddress(s, SystemName, options.RemotingTls)).ToArray(),
                })
                .WithDistributedPubSub("")
                .AddConfigStore(database)
                .AddFabricGuardian(options.Name, roles, elementKinds, Path.Combine(dataDir, LastAppliedIntent.FileName))
                .AddGateways(elementKinds, roles, ghostPlane, patches, attachmentDevices)
                .AddGhostShadow(options.Name, ghostPlane, ghostSettings)
                .AddClusterBootstrap(options, hocon)
                .AddNodeLog(logRing)
                .WithActors((system, registry) =>
                {
                    // No seed and no discovery: this node starts a new cluster by joining itself.
                    // With discovery, Cluster Bootstrap decides who starts it and who joins.
                    if (options.Seeds.IsEmpty && options.Discovery.IsEmpty) Cluster.Get(system).Join(Cluster.Get(system).SelfAddress);
                    // Every capability is registered by now: a restarted node may start its elements
                    // from the intent it applied last, before the config store answers.
                    if (registry.TryGet<FabricGuardianActor>(out var guardian)) guardian.Tell(FabricGuardianActor.HostingStarted.Instance);
                });
        });
        builder.Services.AddHostedService<AkkaManagementServer>();
        builder.Services.AddHostedService<IntentBootstrapper>();

        var app = builder.Build();
        // Resolved now so the container owns (and on shutdown disposes) the ghost plane: its ghost
        // underlay sockets must close with the node, or a restarted node would share their port.
        app.Services.GetService<GhostPlaneContext>();
        // The same for main's PW underlay and Geneve sockets: resolved only by some routes before,
        // a node that never served one left them open after it stopped (and a later node on the
        // same address joined their SO_REUSEPORT group, losing hellos to them).
        app.Services.GetService<PseudowireNode>();
        app.Services.GetService<SwitchingNode>();
        app.Services.GetKeyedService<SwitchingNode>(SwitchingHosting.GhostKey);
        // A node without CAP_SYS_NICE runs its I/O loops at normal priority: said once.
        var ioLog = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("fabric-node.io");
        Fabric.Actors.DataPlane.Io.IoLoop.ReportRealtimeRefused = refusal => ioLog.LogWarning(
            "{Refusal}: the I/O loops run at normal priority (grant CAP_SYS_NICE, or set fabric.io.realtime-priority = 0)", refusal);
        app.UseManagementPipeline();
        app.MapOpenApi();
        app.MapManagementApi();
        return app;
    }
}
