using Akka.Actor;
using Akka.Hosting;
using Fabric.Actors.Gateway;
using Fabric.Actors.Gateway.Actors;
using Fabric.Actors.Guardian;
using Fabric.Actors.Settings;
using Fabric.Messages.Gateway;
using Fabric.Messages.Node;

namespace Fabric.Node.Management;

/// <summary>
/// The gateways this node hosts: per-stage counters and drop reasons, flow-cache statistics per
/// gateway and per bucket (NSX <c>get dataplane flow-cache stats</c>: active, insertions, hits,
/// misses, hit rate, evictions, collisions) with the node owning each bucket's entity, the
/// busiest buckets, and the opt-in per-packet trace.
/// </summary>
public static class GatewayEndpoints
{
    public sealed record GatewaySummary(string Name, string Node, string Mode, uint Generation, IReadOnlyList<string> Tenants, CacheStats Cache, long Dropped, int PendingMisses);

    /// <summary>
    /// A bucket as its flow-cache entity sees it (null fields: the entity did not answer): NAT
    /// bindings and the port blocks behind them (held by hosts, spare), bindings made and released,
    /// SNAT refusals for want of a port, connections expired; TCP mappings remembered for their
    /// inside endpoint, taken up again by it, and given to another endpoint before their time.
    /// </summary>
    public sealed record EntityView(int Bucket, string? Node, int? NatBindings, int? Connections, long? Resolved, long? Batches,
        int? PortBlocks = null, int? SpareBlocks = null, long? BindingsCreated = null, long? BindingsReleased = null, long? PortsExhausted = null, long? ConnectionsExpired = null,
        int? MappingsRemembered = null, long? MappingsRevived = null, long? MappingsReclaimed = null);

    public sealed record GatewayView(GatewayStatus Status, IReadOnlyList<EntityView> Entities);

    public sealed record TraceRequest(int Packets);

    public sealed record FlowTopRow(string Gateway, int Bucket, int Active, long Hits, long Misses, double HitRate, long Evictions, int Connections, string? Owner);

    /// <summary>How long a route waits for a gateway or the guardian (<c>fabric.management.ask-timeout</c>).</summary>
    private static TimeSpan AskTimeout(ActorSystem system) => FabricSettings.Get(system).Management.AskTimeout;

    public static void MapGatewayEndpoints(this WebApplication app)
    {
        app.MapGet("/gateways", async (ActorSystem system, ActorRegistry registry, CancellationToken ct) =>
        {
            var list = new List<GatewaySummary>();
            foreach (var s in await Statuses(system, registry, ct))
                list.Add(new GatewaySummary(s.Name, s.Node, s.Mode, s.Generation, s.Tenants, s.Cache, s.Counters.GetValueOrDefault("dropped"), s.PendingMisses));
            return Results.Ok(list);
        }).WithSummary("The gateways this node hosts, with their flow-cache totals");

        app.MapGet("/gateways/{name}", async (string name, ActorSystem system, ActorRegistry registry, CancellationToken ct) =>
        {
            if (Problems.BadName("gateway", name) is { } bad) return bad;
            var gw = await Resolve(system, name, ct);
            if (gw is null) return Problems.NotFound($"gateway '{name}' does not run on this node");
            var status = await gw.Ask<GatewayStatus>(GetGatewayStatus.Instance, AskTimeout(system), ct);
            return Results.Ok(new GatewayView(status, await Entities(registry, status, FabricSettings.Get(system).Management.EntityTimeout, ct)));
        }).WithSummary("One gateway: ports, per-stage counters, drop reasons, flow-cache stats per bucket and its entities");

        // The body is read in the handler, not bound: binding runs before the token filter, and an
        // unauthenticated caller must learn nothing, not even that its JSON was malformed.
        app.MapPost("/gateways/{name}/trace", async (string name, HttpRequest http, ActorSystem system, CancellationToken ct) =>
        {
            if (Problems.BadName("gateway", name) is { } bad) return bad;
            if (!http.HasJsonContentType()) return Problems.UnsupportedMediaType("the body must be application/json: {\"packets\": N}");
            TraceRequest? request;
            try { request = await http.ReadFromJsonAsync<TraceRequest>(ct); }
            catch (System.Text.Json.JsonException) { return Problems.BadRequest("the body is not JSON; it must be {\"packets\": N}"); }
            if (request is null || request.Packets is < 0 or > 10_000) return Problems.BadRequest("packets must be 0..10000");
            var gw = await Resolve(system, name, ct);
            if (gw is null) return Problems.NotFound($"gateway '{name}' does not run on this node");
            return Results.Ok(await gw.Ask<GatewayTraces>(new ArmTrace(request.Packets), AskTimeout(system), ct));
        }).RequireToken().WithSummary("Arms the per-packet trace for the next N packets (each stage's record); 0 disarms");

        app.MapGet("/gateways/{name}/trace", async (string name, ActorSystem system, CancellationToken ct) =>
        {
            if (Problems.BadName("gateway", name) is { } bad) return bad;
            var gw = await Resolve(system, name, ct);
            if (gw is null) return Problems.NotFound($"gateway '{name}' does not run on this node");
            return Results.Ok(await gw.Ask<GatewayTraces>(GetGatewayTraces.Instance, AskTimeout(system), ct));
        }).WithSummary("The packet traces recorded so far (newest 256)");

        app.MapGet("/flows/top", async (int? n, ActorSystem system, ActorRegistry registry, CancellationToken ct) =>
        {
            var rows = (await Statuses(system, registry, ct))
                .SelectMany(s => s.Shards.Select(b => new FlowTopRow(s.Name, b.Bucket, b.Active, b.Hits, b.Misses, b.HitRate, b.Evictions, b.Connections, b.Owner)))
                .OrderByDescending(r => r.Hits + r.Misses).ThenBy(r => r.Gateway).ThenBy(r => r.Bucket)
                .Take(Math.Clamp(n ?? 20, 1, 1000));
            return Results.Ok(rows);
        }).WithSummary("The busiest flow-cache buckets of this node's gateways (by packets looked up)");
    }

    /// <summary>
    /// The gateway actor named exactly <paramref name="name"/>. Callers check the name first
    /// (<see cref="Problems.BadName"/>): an actor selection treats '*' and '?' as wildcards.
    /// </summary>
    private static async Task<IActorRef?> Resolve(ActorSystem system, string name, CancellationToken ct)
    {
        if (!Fabric.Messages.Intent.IntentNames.IsValid(name)) return null;
        try
        {
            return await system.ActorSelection($"/user/fabric/gw-{name}").ResolveOne(TimeSpan.FromSeconds(2), ct);
        }
        catch (ActorNotFoundException)
        {
            return null;
        }
    }

    internal static async Task<IReadOnlyList<GatewayStatus>> Statuses(ActorSystem system, ActorRegistry registry, CancellationToken ct)
    {
        if (!registry.TryGet<FabricGuardianActor>(out var guardian)) return [];
        var applied = await guardian.Ask<AppliedIntent>(GetAppliedIntent.Instance, AskTimeout(system), ct);
        var result = new List<GatewayStatus>();
        foreach (var e in applied.Elements.Where(e => e.Kind == "gateway"))
        {
            var gw = await Resolve(system, e.Name, ct);
            if (gw is not null) result.Add(await gw.Ask<GatewayStatus>(GetGatewayStatus.Instance, AskTimeout(system), ct));
        }
        return result;
    }

    private static async Task<IReadOnlyList<EntityView>> Entities(ActorRegistry registry, GatewayStatus status, TimeSpan entityTimeout, CancellationToken ct)
    {
        if (!registry.TryGet<FlowCacheRegion>(out var region)) return [];
        var asks = status.Shards.Select(async s =>
        {
            try
            {
                var e = await region.Ask<FlowCacheEntityStats>(new GetFlowCacheStats(status.Name, s.Bucket), entityTimeout, ct);
                return new EntityView(s.Bucket, e.Node, e.NatBindings, e.Connections, e.Resolved, e.Batches,
                    e.PortBlocks, e.SpareBlocks, e.BindingsCreated, e.BindingsReleased, e.PortsExhausted, e.ConnectionsExpired,
                    e.MappingsRemembered, e.MappingsRevived, e.MappingsReclaimed);
            }
            catch (TaskCanceledException)
            {
                return new EntityView(s.Bucket, null, null, null, null, null);
            }
            catch (AskTimeoutException)
            {
                return new EntityView(s.Bucket, null, null, null, null, null);
            }
        });
        return await Task.WhenAll(asks);
    }
}
