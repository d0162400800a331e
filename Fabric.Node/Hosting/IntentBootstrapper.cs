using Akka.Actor;
using Akka.Hosting;
using Fabric.Actors.Config;
using Fabric.Actors.Settings;
using Fabric.Messages.Config;
using Fabric.Messages.Intent;

namespace Fabric.Node.Hosting;

/// <summary>
/// Proposes <c>--intent FILE</c> once the config store answers. The shipped sample
/// (<c>--intent sample</c>, the embedded default) is proposed only into an empty store, so a
/// restarted node never overwrites what operators committed since.
/// </summary>
public sealed class IntentBootstrapper(
    NodeContext node, ActorRegistry registry, ActorSystem system, IntentParseLimits limits, ManagementSettings management, ILogger<IntentBootstrapper> log) : BackgroundService
{
    public const string Sample = "sample";

    public static string SamplePath => Path.Combine(AppContext.BaseDirectory, "samples", "sample-intent.yaml");

    public static string? ResolvePath(string? intentFile) => intentFile switch
    {
        null or "" or "none" => null,
        Sample => SamplePath,
        _ => Path.GetFullPath(intentFile),
    };

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var path = ResolvePath(node.Options.IntentFile);
        if (path is null) return;
        var store = await registry.GetAsync<ConfigStoreActor>(stoppingToken);
        var document = IntentNormalizer.Normalize(await File.ReadAllBytesAsync(path, stoppingToken), limits);
        if (!document.IsValid)
        {
            log.LogError("{Path} refused: {Reason}", path, document.ToRefusal().Reason);
            return;
        }
        // One key per node and document: a retry after the store did not answer returns the
        // change the first attempt journaled, if it did, instead of proposing it twice.
        var key = $"intent-file:{node.Options.Name}:{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(document.Canonical!)))[..32]}";
        var proposer = new ChangeProposer(store, management.ProposeTimeout, management.LookupTimeout, management.ProposeMargin);
        await WaitForNamedNodes(path, document.Canonical!, stoppingToken);

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var current = await store.Ask<CurrentIntent>(GetIntent.Instance, TimeSpan.FromSeconds(3), stoppingToken);
                if (node.Options.IntentFile == Sample && current.Version > 0)
                {
                    log.LogInformation("Intent is at version {Version}; the sample intent is not proposed again", current.Version);
                    return;
                }

                var reply = await proposer.ProposeAsync(document.ToProposal(null, $"{node.Options.Name}:--intent", key), stoppingToken);
                switch (reply)
                {
                    case StoreSilent:
                        log.LogInformation("The config store did not answer the proposal of {Path}; trying again", path);
                        continue;
                    case ChangeAccepted a:
                        log.LogInformation("Proposed {Path} as change {Change} (on intent version {Base})", path, a.ChangeId, a.BaseVersion);
                        break;
                    case ChangeUnchanged u:
                        log.LogInformation("{Path} equals the committed intent (version {Version}); nothing proposed", path, u.Version);
                        break;
                    case ChangeRefused r:
                        log.LogError("{Path} refused: {Reason}", path, r.Reason);
                        break;
                }
                return;
            }
            catch (AskTimeoutException)
            {
                log.LogInformation("Waiting for the config store before proposing {Path}", path);
            }
        }
    }

    /// <summary>
    /// Waits (at most <see cref="ManagementSettings.IntentFileWait"/>) until as many members are Up
    /// as the intent names nodes: proposed before the other nodes of a forming cluster have joined,
    /// the ghost copy would reject it for nodes that are down.
    /// </summary>
    private async Task WaitForNamedNodes(string path, string canonical, CancellationToken ct)
    {
        var intent = IntentParser.Parse(canonical, IntentParseLimits.Trusted).Document;
        if (intent is null) return;
        int named = intent.Pes.Select(p => p.Node).Concat(intent.Gateways.Select(g => g.Node))
            .Concat(intent.Hosts.Select(h => h.Node)).Concat(intent.Hypervisors.Select(h => h.Node))
            .Where(n => !string.IsNullOrEmpty(n)).Distinct(StringComparer.Ordinal).Count();
        var cluster = Akka.Cluster.Cluster.Get(system);
        int Up() => cluster.State.Members.Count(m => m.Status == Akka.Cluster.MemberStatus.Up);
        if (Up() >= named || management.IntentFileWait <= TimeSpan.Zero) return;
        log.LogInformation("{Path} names {Named} node(s); waiting up to {Wait} for them to join (Up members: {Up})", path, named, management.IntentFileWait, Up());
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (Up() < named && waited.Elapsed < management.IntentFileWait) await Task.Delay(250, ct);
        if (Up() < named)
            log.LogWarning("{Path}: only {Up} of the {Named} node(s) it names are Up after {Wait}; proposing anyway", path, Up(), named, management.IntentFileWait);
    }
}
