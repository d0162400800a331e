using System.Globalization;
using Akka.Actor;
using Fabric.Actors.Gateway.Actors;
using Fabric.Actors.Pseudowire;
using Akka.Hosting;
using Fabric.Actors.Guardian;
using Fabric.Actors.Settings;
using Fabric.Messages.Gateway;
using Fabric.Messages.Node;

namespace Fabric.Node.Dashboard;

/// <summary>
/// While the node runs on a terminal: one compact line every few seconds (<c>fabric.management.live-status-interval</c>) with frames/s per trunk
/// (and its members' states) and per gateway (with its flow-cache hit rate), and where the
/// dashboard is. Off when the output goes to a file or a pipe (logs stay plain there).
/// </summary>
public static class LiveStatus
{
    public static bool Wanted => !Console.IsOutputRedirected;

    public static async Task Run(IServiceProvider services, string dashboard, CancellationToken stopping)
    {
        var pw = services.GetRequiredService<PseudowireNode>();
        var system = services.GetRequiredService<ActorSystem>();
        var last = new Dictionary<string, long>();
        var at = DateTime.UtcNow;
        using var timer = new PeriodicTimer(services.GetRequiredService<ManagementSettings>().LiveStatusInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping))
            {
                var now = DateTime.UtcNow;
                var seconds = (now - at).TotalSeconds;
                at = now;
                var parts = new List<string>();
                foreach (var trunk in pw.Trunks.Keys.Order(StringComparer.Ordinal).Select(pw.TrunkStatus).OfType<Fabric.Messages.Pseudowire.TrunkStatus>())
                {
                    var frames = trunk.Members.Sum(m => m.TxFrames);
                    parts.Add($"{trunk.Name} {trunk.State} {Rate(last, $"t/{trunk.Name}", frames, seconds)} f/s [{string.Join(' ', trunk.Members.Select(m => m.State))}]");
                }
                var (version, gateways) = await Gateways(services, system, stopping);
                foreach (var gateway in gateways)
                {
                    var frames = gateway.Ports.Sum(p => p.RxFrames);
                    parts.Add($"{gateway.Name} {Rate(last, $"g/{gateway.Name}", frames, seconds)} f/s hit {gateway.Cache.HitRate.ToString("P0", CultureInfo.InvariantCulture)}");
                }
                var running = version > 0 ? $"intent v{version}" : "no intent applied yet (fabric-node change list)";
                Console.WriteLine($"status {now:HH:mm:ss} | {running} | {(parts.Count == 0 ? "no trunk or gateway here" : string.Join(" | ", parts))} | {dashboard}");
            }
        }
        catch (OperationCanceledException)
        {
            // The node stops.
        }
    }

    private static string Rate(Dictionary<string, long> last, string key, long value, double seconds)
    {
        var rate = last.TryGetValue(key, out var before) && seconds > 0 ? (value - before) / seconds : 0;
        last[key] = value;
        return rate.ToString("F0", CultureInfo.InvariantCulture);
    }

    /// <summary>The intent version this node runs and the status of each gateway it runs.</summary>
    private static async Task<(long Version, IReadOnlyList<GatewayStatus> Gateways)> Gateways(IServiceProvider services, ActorSystem system, CancellationToken stopping)
    {
        var result = new List<GatewayStatus>();
        long version = 0;
        if (!services.GetRequiredService<ActorRegistry>().TryGet<FabricGuardianActor>(out var guardian)) return (version, result);
        try
        {
            var applied = await guardian.Ask<AppliedIntent>(GetAppliedIntent.Instance, TimeSpan.FromSeconds(2), stopping);
            version = applied.Version;
            foreach (var gateway in applied.Elements.Where(e => e.Kind == "gateway"))
            {
                var actor = await system.ActorSelection($"/user/fabric/gw-{gateway.Name}").ResolveOne(TimeSpan.FromSeconds(1), stopping);
                result.Add(await actor.Ask<GatewayStatus>(GetGatewayStatus.Instance, TimeSpan.FromSeconds(2), stopping));
            }
        }
        catch (Exception e) when (e is AskTimeoutException or ActorNotFoundException)
        {
            // A gateway starting or stopping: the next line shows it.
        }
        return (version, result);
    }
}
