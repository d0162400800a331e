using System.Text.Json;
using Akka.Actor;
using Akka.Cluster;
using Akka.Hosting;

namespace Fabric.Node.Management;

/// <summary>Cluster membership, shaped like Akka.Management's /cluster/members.</summary>
public static class ClusterEndpoints
{
    public sealed record MemberView(string Node, string NodeUid, string Status, IReadOnlyList<string> Roles);
    public sealed record UnreachableView(string Node, IReadOnlyList<string> ObservedBy);
    public sealed record MembersView(
        string SelfNode, IReadOnlyList<MemberView> Members, IReadOnlyList<UnreachableView> Unreachable,
        string? Leader, string? Oldest, IReadOnlyDictionary<string, string> OldestPerRole);
    public sealed record MemberOperation(string? Operation);
    public sealed record OperationResult(string Message);

    public static void MapClusterEndpoints(this WebApplication app)
    {
        app.MapGet("/cluster/members", (ActorSystem system) => Results.Ok(Members(Cluster.Get(system))))
            .WithSummary("Cluster members, leader, oldest and unreachable members (Akka.Management shape)");

        app.MapGet("/cluster/members/{address}", (string address, ActorSystem system) =>
        {
            var cluster = Cluster.Get(system);
            var member = Find(cluster, address);
            return member is null ? Problems.NotFound($"no member '{address}'") : Results.Ok(View(member));
        }).WithSummary("One member");

        app.MapPut("/cluster/members/{address}", async (string address, HttpRequest request, ActorSystem system) =>
        {
            if (!request.HasJsonContentType())
                return Problems.UnsupportedMediaType("the body must be application/json: {\"operation\":\"leave\"}");
            MemberOperation? body;
            try { body = await request.ReadFromJsonAsync<MemberOperation>(); }
            catch (JsonException) { return Problems.BadRequest("the body is not JSON; it must be {\"operation\":\"leave\"}"); }
            if (!string.Equals(body?.Operation, "leave", StringComparison.OrdinalIgnoreCase))
                return Problems.BadRequest("body must be {\"operation\":\"leave\"}");
            var cluster = Cluster.Get(system);
            var member = Find(cluster, address);
            if (member is null) return Problems.NotFound($"no member '{address}'");
            cluster.Leave(member.Address);
            return Results.Ok(new OperationResult($"Leaving {member.Address}"));
        }).RequireToken().WithSummary("Make a member leave the cluster gracefully");

        app.MapDelete("/cluster/members/{address}", (string address, ActorSystem system) =>
        {
            var cluster = Cluster.Get(system);
            var member = Find(cluster, address);
            if (member is null) return Problems.NotFound($"no member '{address}'");
            cluster.Down(member.Address);
            return Results.Ok(new OperationResult($"Downing {member.Address}"));
        }).RequireToken().WithSummary("Mark a member down");
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

    /// <summary>Finds a member by full address, <c>system@host:port</c>, or <c>host:port</c>.</summary>
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
}
