using System.Net;
using System.Text.Json.Nodes;
using Fabric.Tests.Support;

namespace Fabric.Tests.Node;

/// <summary>The management HTTP API of one node, over a real socket.</summary>
public sealed class ManagementApiTests : IAsyncLifetime
{
    private readonly TempDir _dir = new();
    private TestNode _node = null!;

    public async Task InitializeAsync()
    {
        _node = await TestNode.StartAsync("node-a", _dir.Sub("a"));
        await Eventually.Holds(async () => await _node.UpCount() == 1, TimeSpan.FromSeconds(30), "node Up");
    }

    public async Task DisposeAsync()
    {
        await _node.DisposeAsync();
        _dir.Dispose();
    }

    [Fact]
    public async Task A_change_without_the_bearer_token_gets_401_problem_json_and_journals_nothing()
    {
        using var response = await _node.Http.PostAsync("/changes", new StringContent(Intents.WithTenant("blue")));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);

        using var wrong = new HttpRequestMessage(HttpMethod.Post, "/changes") { Content = new StringContent(Intents.WithTenant("blue")) };
        wrong.Headers.Authorization = new("Bearer", "not-the-token");
        Assert.Equal(HttpStatusCode.Unauthorized, (await _node.Http.SendAsync(wrong)).StatusCode);

        Assert.Empty((await _node.Get("/changes")).AsArray());
    }

    [Fact]
    public async Task A_bad_document_gets_400_problem_json_with_the_line_and_reason()
    {
        using var response = await _node.Http.SendAsync(_node.Authorized(HttpMethod.Post, "/changes", new StringContent(Intents.UnknownNode)));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        var error = problem["errors"]!.AsArray().Single()!;
        Assert.Equal(7, error["line"]!.GetValue<int>());
        Assert.Equal("pes[0].node", error["field"]!.ToString());
        Assert.Contains("node-zz", problem["detail"]!.ToString());
        Assert.Empty((await _node.Get("/changes")).AsArray());
    }

    [Fact]
    public async Task A_change_on_a_stale_base_version_gets_409()
    {
        using var response = await _node.Http.SendAsync(_node.Authorized(HttpMethod.Post, "/changes?baseVersion=7",
            new StringContent(Intents.WithTenant("blue"))));
        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Unknown_changes_and_members_are_404_problem_json()
    {
        using var change = await _node.Http.GetAsync("/changes/999");
        Assert.Equal(HttpStatusCode.NotFound, change.StatusCode);
        using var member = await _node.Http.SendAsync(_node.Authorized(HttpMethod.Delete, "/cluster/members/127.0.0.1:1"));
        Assert.Equal(HttpStatusCode.NotFound, member.StatusCode);
        Assert.Equal("application/problem+json", member.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task The_OpenAPI_document_lists_the_management_routes()
    {
        var openapi = await _node.Get("/openapi/v1.json");
        var paths = openapi["paths"]!.AsObject().Select(p => p.Key).ToList();
        Assert.Contains("/cluster/members", paths);
        Assert.Contains("/changes", paths);
        Assert.Contains("/health/ready", paths);
    }

    [Fact]
    public async Task Health_is_alive_and_ready_once_the_member_is_up_and_the_store_answers()
    {
        Assert.Equal("alive", (await _node.Get("/health/alive"))["status"]!.ToString());
        await Eventually.Holds(async () => (await _node.Http.GetAsync("/health/ready")).IsSuccessStatusCode,
            TimeSpan.FromSeconds(20), "ready");
    }

    [Fact]
    public async Task The_actor_tree_shows_the_guardian_and_the_ghost_shadow()
    {
        var tree = await _node.Get("/actors");
        var children = tree["children"]!.AsArray().Select(c => c!["path"]!.ToString()).ToList();
        Assert.Contains("/user/fabric", children);
        Assert.Contains("/user/ghost", children);
    }
}
