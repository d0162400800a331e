using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Cluster;
using Fabric.Tests.Support;

namespace Fabric.Tests.Node;

/// <summary>
/// The member routes with Akka Management's cluster-HTTP meaning, on real cluster nodes:
/// DELETE = leave, PUT operation Leave | Down, POST address = join, GET /cluster/shards/{region};
/// addresses URL-encoded or host:port; the token for every change.
/// </summary>
public class MemberRoutesTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private sealed class Recorder : ReceiveActor
    {
        public Recorder(ConcurrentQueue<ClusterEvent.IMemberEvent> events) => Receive<ClusterEvent.IMemberEvent>(events.Enqueue);
    }

    [Fact]
    public async Task Delete_makes_a_member_leave_put_Down_downs_one_and_post_joins_this_node()
    {
        using var dir = new TempDir();
        await using var a = await TestNode.StartAsync("node-a", dir.Sub("a"));
        await using var b = await TestNode.StartAsync("node-b", dir.Sub("b"), seeds: [a.Seed]);
        await using var c = await TestNode.StartAsync("node-c", dir.Sub("c"), seeds: [a.Seed]);
        // node-d bootstraps from a contact point that never answers: it stays out until told to join.
        await using var d = await TestNode.StartAsync("node-d", dir.Sub("d"), configure: o => o with { Discovery = ["127.0.0.1:9"] });
        await Eventually.Holds(async () => await a.UpCount() == 3, Wait, "a, b and c Up");

        var events = new ConcurrentQueue<ClusterEvent.IMemberEvent>();
        var recorder = a.System.ActorOf(Props.Create(() => new Recorder(events)));
        Akka.Cluster.Cluster.Get(a.System).Subscribe(recorder, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.IMemberEvent));

        // Reads name a member by host:port or by its URL-encoded full address.
        var bHostPort = $"127.0.0.1:{b.RemotingPort}";
        Assert.Equal(b.Address.ToString(), (await a.Get($"/cluster/members/{bHostPort}"))["node"]!.ToString());
        Assert.Equal(b.Address.ToString(), (await a.Get($"/cluster/members/{Uri.EscapeDataString(b.Address.ToString())}"))["node"]!.ToString());

        // Without the token nothing changes.
        using (var refused = await a.Http.DeleteAsync($"/cluster/members/{bHostPort}")) Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        using (var bad = await a.Http.SendAsync(a.Authorized(HttpMethod.Put, $"/cluster/members/{bHostPort}", Form(("operation", "Jump")))))
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            Assert.Equal("application/problem+json", bad.Content.Headers.ContentType!.MediaType);
        }
        using (var text = await a.Http.SendAsync(a.Authorized(HttpMethod.Put, $"/cluster/members/{bHostPort}", new StringContent("Leave"))))
            Assert.Equal(HttpStatusCode.UnsupportedMediaType, text.StatusCode);
        Assert.Equal(3, await a.UpCount());

        // DELETE = leave (Akka Management), not down: b goes through Left, never Downed.
        using (var leave = await a.Http.SendAsync(a.Authorized(HttpMethod.Delete, $"/cluster/members/{Uri.EscapeDataString(b.Address.ToString())}")))
        {
            Assert.Equal(HttpStatusCode.OK, leave.StatusCode);
            Assert.StartsWith("Leaving", JsonNode.Parse(await leave.Content.ReadAsStringAsync())!["message"]!.ToString());
        }
        await Eventually.Holds(() => events.Any(e => e is ClusterEvent.MemberRemoved r && r.Member.Address == b.Address), Wait, "b removed after leaving");
        Assert.Contains(events, e => e is ClusterEvent.MemberLeft l && l.Member.Address == b.Address);
        Assert.DoesNotContain(events, e => e is ClusterEvent.MemberDowned x && x.Member.Address == b.Address);

        // PUT operation=Down (form field, as Akka Management takes it): c is downed.
        using (var down = await a.Http.SendAsync(a.Authorized(HttpMethod.Put, $"/cluster/members/127.0.0.1:{c.RemotingPort}", Form(("operation", "Down")))))
            Assert.Equal(HttpStatusCode.OK, down.StatusCode);
        await Eventually.Holds(() => events.Any(e => e is ClusterEvent.MemberDowned x && x.Member.Address == c.Address), Wait, "c downed");

        // POST /cluster/members = this node joins the address given (JSON here; host:port form).
        Assert.Equal(0, await d.UpCount());
        using (var join = await d.Http.SendAsync(d.Authorized(HttpMethod.Post, "/cluster/members",
                   new StringContent($$"""{"address":"127.0.0.1:{{a.RemotingPort}}"}""", System.Text.Encoding.UTF8, "application/json"))))
        {
            Assert.Equal(HttpStatusCode.OK, join.StatusCode);
            Assert.StartsWith("Joining akka.tcp://fabric@127.0.0.1:", JsonNode.Parse(await join.Content.ReadAsStringAsync())!["message"]!.ToString());
        }
        try
        {
            await Eventually.Holds(async () => (await a.Members()).Any(m => m.Node == d.Address.ToString() && m.Status == "Up"), Wait, "d Up in a's cluster");
        }
        catch
        {
            output.WriteLine("a: " + (await a.Get("/cluster/members")).ToJsonString());
            output.WriteLine("d: " + (await d.Get("/cluster/members")).ToJsonString());
            output.WriteLine(string.Join("\n", (await d.Get("/logs?since=0"))["lines"]!.AsArray().Select(l => l!["message"]!.ToString())));
            throw;
        }
        using (var garbage = await d.Http.SendAsync(d.Authorized(HttpMethod.Post, "/cluster/members", Form(("address", "not an address")))))
            Assert.Equal(HttpStatusCode.BadRequest, garbage.StatusCode);
    }

    [Fact]
    public async Task Shard_routes_list_regions_and_show_a_regions_shards_with_entity_counts()
    {
        using var dir = new TempDir();
        await using var a = await TestNode.StartAsync("node-a", dir.Sub("a"));
        await Eventually.Holds(async () => await a.UpCount() == 1, Wait, "a Up");
        var regions = (await a.Get("/cluster/shards"))["regions"]!.AsArray().Select(r => r!.ToString()).ToList();
        Assert.Contains("flow-cache", regions);
        var local = await a.Get("/cluster/shards/flow-cache");
        Assert.NotNull(local["regions"]!.AsArray());
        // The coordinator learns of the node's region once the region registers with it (a moment after Up).
        await Eventually.Holds(async () =>
        {
            var cluster = await a.Get("/cluster/shards/flow-cache?cluster=true");
            return cluster["region"]!.ToString() == "flow-cache"
                && cluster["nodes"]!.AsArray().Select(n => n!["node"]!.ToString()).Contains(a.Address.ToString());
        }, Wait, "the cluster's stats of flow-cache list node-a");
        using var missing = await a.Http.GetAsync("/cluster/shards/no-such-region");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task With_token_for_reads_metrics_logs_and_shards_need_the_token_and_health_does_not()
    {
        using var dir = new TempDir();
        await using var a = await TestNode.StartAsync("node-a", dir.Sub("a"), configure: o => o with { TokenForReads = true });
        foreach (var path in new[] { "/metrics", "/logs", "/cluster/shards", "/trunks" })
        {
            using var response = await a.Http.GetAsync(path);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            using var allowed = await a.Http.SendAsync(a.Authorized(HttpMethod.Get, path));
            Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        }
        using var alive = await a.Http.GetAsync("/health/alive");
        Assert.Equal(HttpStatusCode.OK, alive.StatusCode);
    }

    private static FormUrlEncodedContent Form(params (string Key, string Value)[] fields) =>
        new(fields.Select(f => new KeyValuePair<string, string>(f.Key, f.Value)));
}
