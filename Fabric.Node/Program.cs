using System.Runtime.InteropServices;
using Fabric.Actors.Config;
using Fabric.Actors.Settings;
using Fabric.Node.Cli;
using Fabric.Node.Hosting;

// fabric-node: the agent (`run`, the default) and the operator verbs, one binary like consul or nomad.
if (args is ["run", "--help" or "-h", ..])
{
    Console.WriteLine(NodeOptions.Usage);
    return 0;
}
if (args is [] or ["run", ..])
{
    // The first thing the agent does: SIGTERM or Ctrl+C at any later moment of the start is a
    // clean stop (exit 0), as after it. Until the host listens for them itself, these handlers
    // turn them into a cancelled start. (Without them the runtime ends the process with 143, or a
    // start cancelled inside Kestrel's bind crashed it with 134.)
    using var stopping = new CancellationTokenSource();
    void Stop(PosixSignalContext context)
    {
        context.Cancel = true;
        // A signal handled while the process is already on its way out (the source disposed).
        try { stopping.Cancel(); } catch (ObjectDisposedException) { }
    }
    using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
    using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
    return await RunNode(args is [] ? [] : args[1..], stopping.Token);
}
// The operator palette; its help is generated from the command tree (`fabric-node help cluster` = `fabric-node cluster --help`).
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };
return await OperatorCommands.RunAsync(args is ["help", .. var topic] ? [.. topic, "--help"] : args, Console.Out, Console.Error, cancel.Token);

static async Task<int> RunNode(string[] args, CancellationToken stopping)
{
    NodeOptions options;
    WebApplication app;
    try
    {
        options = NodeOptions.Parse(args, Environment.GetEnvironmentVariable);
        // The embedded default: a new cluster (no seed, no discovery) with no intent file named gets the sample intent.
        if (options.IntentFile is null && options.Seeds.IsEmpty && options.Discovery.IsEmpty) options = options with { IntentFile = IntentBootstrapper.Sample };
        if (IntentBootstrapper.ResolvePath(options.IntentFile) is { } path)
        {
            if (!File.Exists(path)) throw new ArgumentException($"--intent: no such file '{path}'");
            var limits = FabricSettings.From(NodeHocon.Load(options)).Intent;
            var normalized = IntentNormalizer.Normalize(await File.ReadAllBytesAsync(path), limits);
            if (!normalized.IsValid)
            {
                await Console.Error.WriteLineAsync($"fabric-node: {path} is not a valid intent document:");
                foreach (var e in normalized.Problems) await Console.Error.WriteLineAsync($"  {e}");
                if (normalized.OmittedProblems > 0) await Console.Error.WriteLineAsync($"  (and {normalized.OmittedProblems} more)");
                return 2;
            }
        }
        if (stopping.IsCancellationRequested) return 0;
        app = FabricNodeApp.Build(options);
    }
    catch (ArgumentException e)
    {
        await Console.Error.WriteLineAsync($"fabric-node: {e.Message}");
        return 2;
    }

    var node = app.Services.GetRequiredService<NodeContext>();
    var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("fabric-node");
    if (ManagementEndpoint.IsInsecure(options))
        log.LogWarning(
            "WARNING: management HTTP listens on {Host}:{Port} without TLS (--insecure-management): the bearer token and every " +
            "reply cross the network in clear text. Give it --management-cert/--management-key, or bind it to 127.0.0.1",
            options.ManagementHost, options.ManagementPort);
    if (app.Services.GetRequiredService<StartupNotes>().DataDirectoryWarning is { } warning) log.LogWarning("{Warning}", warning);

    // Asked to stop: by our signal handlers, or by the host's own (which can run first and cancel
    // a start before ours have cancelled `stopping`).
    var lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();
    bool StopAsked() => stopping.IsCancellationRequested || lifetime.ApplicationStopping.IsCancellationRequested;
    try
    {
        await app.StartAsync(stopping);
    }
    // A signal during the start: the start is cancelled, or (when the host's own signal handling
    // has begun Akka's coordinated shutdown) a hosted service's start finds the actor system
    // terminating ("Cannot create child while terminating"). Either way a clean stop, exit 0.
    catch (Exception e) when (e is OperationCanceledException or InvalidOperationException && StopAsked())
    {
        log.LogInformation("Stopped while starting (signal)");
        await StopQuietly(app);
        return 0;
    }
    catch (ArgumentException e)
    {
        // A setting only found wrong while starting (e.g. the Akka.Management port is taken).
        await Console.Error.WriteLineAsync($"fabric-node: {e.Message}");
        await StopQuietly(app);
        return 2;
    }
    // A signal that came while StartAsync finished its last step: the host did not see it.
    stopping.Register(lifetime.StopApplication);
    log.LogInformation(
        "Node {Name} up: remoting {Host}:{Port}, roles {Roles}, data {Data}, store {Store}, token {TokenSource}, management {Scheme}://{MHost}:{MPort} (OpenAPI /openapi/v1.json)",
        options.Name, options.Host, options.Port, string.Join(",", options.Roles), node.DataDir, node.Database.Describe(),
        node.TokenSource, ManagementEndpoint.UsesTls(options) ? "https" : "http", options.ManagementHost, options.ManagementPort);
    var dashboard = $"{(ManagementEndpoint.UsesTls(options) ? "https" : "http")}://{options.ManagementHost}:{options.ManagementPort}/dashboard";
    log.LogInformation("Dashboard: {Dashboard}", dashboard);
    // On a terminal, a compact status line every few seconds (trunks, gateways, hit rate).
    var status = Fabric.Node.Dashboard.LiveStatus.Wanted
        ? Fabric.Node.Dashboard.LiveStatus.Run(app.Services, dashboard, lifetime.ApplicationStopping)
        : Task.CompletedTask;
    await app.WaitForShutdownAsync();
    await status;
    // Stopped by the cluster rather than by a signal: the split-brain resolver (or an operator's
    // `cluster down`) downed this node. Exit non-zero so an init system restarts it and it rejoins.
    const int DownedExitCode = 3;
    var shutdown = Akka.Actor.CoordinatedShutdown.Get(app.Services.GetRequiredService<Akka.Actor.ActorSystem>());
    if (!stopping.IsCancellationRequested && shutdown.ShutdownReason is Akka.Actor.CoordinatedShutdown.ClusterDowningReason)
    {
        log.LogError("This node was downed by the cluster (partitioned away from the majority, or downed by an operator); exiting {Code} so that it is restarted and rejoins", DownedExitCode);
        return DownedExitCode;
    }
    return 0;
}

static async Task StopQuietly(WebApplication app)
{
    try
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await app.StopAsync(timeout.Token);
    }
    catch (Exception e) when (e is OperationCanceledException or InvalidOperationException or ObjectDisposedException)
    {
        // Stopping a host whose start was cut short: whatever did not start has nothing to stop.
    }
}
