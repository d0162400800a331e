using System.Text.Json;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Fabric.Actors.Settings;

namespace Fabric.Node.Management;

/// <summary>
/// Cluster membership and sharding with Akka Management's cluster-HTTP meaning
/// (https://pekko.apache.org/docs/pekko-management/current/cluster-http-management.html; the .NET
/// Akka.Management ships no such routes, so the Fabric API serves them): <c>DELETE</c> a member =
/// it leaves; <c>PUT</c> with <c>operation</c> <c>Leave</c> or <c>Down</c>; <c>POST</c> an
/// <c>address</c> = this node joins it; <c>GET /cluster/shards/{region}</c> = the region's shards
/// and entity counts. Bodies are form fields (as Akka Management takes them) or JSON. A member is
/// named by its full address (URL-encoded or not), <c>system@host:port</c>, or <c>host:port</c>.
/// </summary>
public static class ClusterEndpoints
{
    public sealed record MemberView(string Node, string NodeUid, string Status, IReadOnlyList<string> Roles);
    public sealed record UnreachableView(string Node, IReadOnlyList<string> ObservedBy);
    public sealed record MembersView(
        string SelfNode, IReadOnlyList<MemberView> Members, IReadOnlyList<UnreachableView> Unreachable,
        string? Leader, string? Oldest, IReadOnlyDictionary<string, string> OldestPerRole);
    public sealed record OperationResult(string Message);
    public sealed record ShardInfo(string ShardId, int NumEntities);
    public sealed record ShardDetails(IReadOnlyList<ShardInfo> Regions);
    public sealed record RegionShards(string Node, IReadOnlyList<ShardInfo> Shards);
    public sealed record ClusterShardDetails(string Region, IReadOnlyList<RegionShards> Nodes);

    public static void MapClusterEndpoints(this WebApplication app)
    {
        var settings = app.Services.GetRequiredService<ManagementSettings>();

        app.MapGet("/cluster/members", (ActorSystem system) => Results.Ok(Members(Cluster.Get(system))))
            .WithSummary("Cluster members, leader, oldest and unreachable members (Akka Management shape)");

        app.MapGet("/cluster/members/{address}", (string address, ActorSystem system) =>
        {
            var cluster = Cluster.Get(system);
            var member = Find(cluster, address);
            return member is null ? Problems.NotFound($"no member '{Short(address)}'") : Results.Ok(View(member));
        }).WithSummary("One member");

        app.MapPost("/cluster/members", async (HttpRequest request, ActorSystem system) =>
        {
            var (fields, refusal) = await ReadFields(request, "address");
            if (refusal is not null) return refusal;
            var text = fields!.GetValueOrDefault("address");
            if (string.IsNullOrWhiteSpace(text)) return Problems.BadRequest("the body must name 'address': akka.tcp://fabric@HOST:PORT or HOST:PORT");
            if (ParseAddress(text, system) is not { } address)
                return Problems.BadRequest($"'{Short(text)}' is not an Akka address (akka.tcp://SYSTEM@HOST:PORT) or HOST:PORT");
            Cluster.Get(system).Join(address);
            return Results.Ok(new OperationResult($"Joining {address}"));
        }).RequireToken().WithSummary("This node joins the cluster at 'address' (form field or JSON)");

        app.MapPut("/cluster/members/{address}", async (string address, HttpRequest request, ActorSystem system) =>
        {
            var (fields, refusal) = await ReadFields(request, "operation");
            if (refusal is not null) return refusal;
            var operation = fields!.GetValueOrDefault("operation");
            var cluster = Cluster.Get(system);
            switch (operation?.ToLowerInvariant())
            {
                case "leave":
                    return Find(cluster, address) is { } leaving ? Leave(cluster, leaving) : Problems.NotFound($"no member '{Short(address)}'");
                case "down":
                    if (Find(cluster, address) is not { } down) return Problems.NotFound($"no member '{Short(address)}'");
                    cluster.Down(down.Address);
                    return Results.Ok(new OperationResult($"Downing {down.Address}"));
                default:
                    return Problems.BadRequest("'operation' must be Leave or Down (form field, or JSON {\"operation\":\"Leave\"})");
            }
        }).RequireToken().WithSummary("operation=Leave: the member leaves gracefully; operation=Down: it is marked down");

        app.MapDelete("/cluster/members/{address}", (string address, ActorSystem system) =>
        {
            var cluster = Cluster.Get(system);
            return Find(cluster, address) is { } member ? Leave(cluster, member) : Problems.NotFound($"no member '{Short(address)}'");
        }).RequireToken().WithSummary("The member leaves the cluster gracefully (Akka Management: DELETE = leave)");

        app.MapGet("/cluster/shards", (ActorSystem system) =>
                Results.Ok(new { regions = ClusterSharding.Get(system).ShardTypeNames.Order(StringComparer.Ordinal).ToArray() }))
            .WithSummary("The shard regions started on this node");

        app.MapGet("/cluster/shards/{region}", async (string region, bool? cluster, ActorSystem system, CancellationToken ct) =>
        {
            var sharding = ClusterSharding.Get(system);
            if (!sharding.ShardTypeNames.Contains(region)) return Problems.NotFound($"no shard region '{Short(region)}' on this node (see /cluster/shards)");
            var shardRegion = sharding.ShardRegion(region);
            if (cluster == true)
            {
                var stats = await shardRegion.Ask<ClusterShardingStats>(new GetClusterShardingStats(settings.AskTimeout), settings.AskTimeout + TimeSpan.FromSeconds(1), ct);
                return Results.Ok(new ClusterShardDetails(region, stats.Regions
                    .OrderBy(r => r.Key.ToString(), StringComparer.Ordinal)
                    .Select(r => new RegionShards(r.Key.ToString(), Shards(r.Value))).ToList()));
            }
            var local = await shardRegion.Ask<ShardRegionStats>(GetShardRegionStats.Instance, settings.AskTimeout, ct);
            return Results.Ok(new ShardDetails(Shards(local)));
        }).WithSummary("The region's shards on this node and their entity counts (Akka Management shape); ?cluster=true: every node's");
    }

    private static IReadOnlyList<ShardInfo> Shards(ShardRegionStats stats) =>
        stats.Stats.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => new ShardInfo(s.Key, s.Value)).ToList();

    private static IResult Leave(Cluster cluster, Member member)
    {
        cluster.Leave(member.Address);
        return Results.Ok(new OperationResult($"Leaving {member.Address}"));
    }

    /// <summary>
    /// The request's form fields (application/x-www-form-urlencoded, as Akka Management takes them)
    /// or the string properties of its JSON object; 415 for any other body, 400 for one that does not parse.
    /// </summary>
    private static async Task<(Dictionary<string, string?>? Fields, IResult? Refusal)> ReadFields(HttpRequest request, string field)
    {
        if (request.HasFormContentType)
        {
            try
            {
                var form = await request.ReadFormAsync();
                return (form.ToDictionary(f => f.Key.ToLowerInvariant(), f => (string?)f.Value.ToString()), null);
            }
            catch (InvalidDataException)
            {
                return (null, Problems.BadRequest("the form body could not be read"));
            }
        }
        if (!request.HasJsonContentType())
            return (null, Problems.UnsupportedMediaType($"the body must be a form (application/x-www-form-urlencoded) or JSON naming '{field}'"));
        try
        {
            using var json = await JsonDocument.ParseAsync(request.Body);
            if (json.RootElement.ValueKind != JsonValueKind.Object) return (null, Problems.BadRequest($"the body must be a JSON object naming '{field}'"));
            return (json.RootElement.EnumerateObject()
                .Where(p => p.Value.ValueKind == JsonValueKind.String)
                .GroupBy(p => p.Name.ToLowerInvariant())
                .ToDictionary(g => g.Key, g => g.Last().Value.GetString()), null);
        }
        catch (JsonException)
        {
            return (null, Problems.BadRequest($"the body is not JSON; it must be a JSON object naming '{field}'"));
        }
    }

    public static MembersView Members(Cluster cluster)
    {
        var state = cluster.State;
        var up = state.Members.Where(m => m.Status is MemberStatus.Up or MemberStatus.Leaving).ToList();
        var oldest = up.OrderBy(m => m, Member.AgeOrdering).FirstOrDefault();
        var oldestPerRole = up.SelectMany(m => m.Roles.Select(r => (Role: r, Member: m)))
            .GroupBy(x => x.Role)
            .ToDictionary(g => g.Key, g => g.Select(x => x.Member).OrderBy(m => m, Member.AgeOrdering).First().Address.ToString());
        return new MembersView(
            cluster.SelfAddress.ToString(),
            state.Members.Select(View).ToList(),
            state.Unreachable.Select(m => new UnreachableView(m.Address.ToString(),
                state.SeenBy.Where(a => a != m.Address).Select(a => a.ToString()).ToList())).ToList(),
            state.Leader?.ToString(),
            oldest?.Address.ToString(),
            oldestPerRole);
    }

    private static MemberView View(Member m) =>
        new(m.Address.ToString(), m.UniqueAddress.Uid.ToString(), m.Status.ToString(), m.Roles.OrderBy(r => r).ToList());

    /// <summary>Finds a member by full address, <c>system@host:port</c>, or <c>host:port</c> (URL-encoded or not).</summary>
    private static Member? Find(Cluster cluster, string address)
    {
        var wanted = Uri.UnescapeDataString(address);
        return cluster.State.Members.FirstOrDefault(m =>
        {
            var full = m.Address.ToString();
            return full == wanted
                || full.EndsWith("://" + wanted, StringComparison.Ordinal)
                || $"{m.Address.Host}:{m.Address.Port}" == wanted;
        });
    }

    /// <summary>A full Akka address, or <c>host:port</c> of a node of this system.</summary>
    private static Address? ParseAddress(string text, ActorSystem system)
    {
        var value = Uri.UnescapeDataString(text.Trim());
        if (value.Contains("://", StringComparison.Ordinal))
        {
            try
            {
                var address = Address.Parse(value);
                return address.HasGlobalScope ? address : null;
            }
            catch (Exception e) when (e is UriFormatException or ArgumentException or FormatException)
            {
                return null;
            }
        }
        try
        {
            var (host, port) = Hosting.NodeOptions.ParseEndpoint(value, "address");
            return port == 0 ? null : new Address(Cluster.Get(system).SelfAddress.Protocol, system.Name, host, port);
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    private static string Short(string text) => text.Length <= 64 ? text : text[..64] + "…";
}
