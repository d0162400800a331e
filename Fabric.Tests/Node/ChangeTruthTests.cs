using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Fabric.Tests.Support;

namespace Fabric.Tests.Node;

/// <summary>
/// A retry of <c>POST /changes</c> with the same Idempotency-Key returns the original change,
/// also after the store restarted (issue 15). ChangeProposerTests cover a store that answers late.
/// </summary>
public sealed class ChangeTruthTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(45);

    private static HttpRequestMessage Proposal(TestNode node, string document, string? key)
    {
        var request = node.Authorized(HttpMethod.Post, "/changes", new StringContent(document, Encoding.UTF8, "application/json"));
        if (key is not null) request.Headers.Add("Idempotency-Key", key);
        return request;
    }

    [Fact]
    public async Task With_a_store_that_cannot_answer_in_time_every_answer_is_202_and_journaled_or_503_and_never_journaled()
    {
        using var dir = new TempDir();
        // 1 ms: the answer never comes in time, and a proposal the store reads more than 0.5 ms
        // after it was sent is refused (its deadline); which happens depends on the machine.
        await using var node = await TestNode.StartAsync("node-a", dir.Sub("a"), extraHocon: "fabric.management.propose-timeout = 1ms");
        await Eventually.Holds(async () => (await node.Http.GetAsync("/health/ready")).IsSuccessStatusCode, Wait, "ready");

        var answers = new List<(string Key, HttpStatusCode Status, JsonNode Body)>();
        for (var i = 0; i < 12; i++)
        {
            var key = $"late-{i}";
            using var request = Proposal(node, Intents.WithTenant($"t{i}", 100 + (uint)i, "node-a"), key);
            request.Headers.Add("X-Fabric-Author", key);
            using var response = await node.Http.SendAsync(request);
            answers.Add((key, response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!));
        }
        output.WriteLine(string.Join(", ", answers.Select(a => $"{a.Key}: {(int)a.Status}")));
        await Task.Delay(TimeSpan.FromSeconds(2));
        var authors = (await node.Get("/changes?limit=100")).AsArray().Select(c => c!["author"]!.ToString()).ToList();

        foreach (var (key, status, body) in answers)
        {
            if (status == HttpStatusCode.Accepted)
            {
                Assert.Contains(key, authors);
                continue;
            }
            Assert.True(status == HttpStatusCode.ServiceUnavailable, $"{key}: {(int)status} {body}");
            Assert.False(body["journaled"]!.GetValue<bool>(), $"{key}: {body}");
            Assert.Equal(key, body["idempotencyKey"]!.ToString());
            Assert.DoesNotContain(key, authors);
        }
    }

    [Fact]
    public async Task An_idempotency_key_is_journaled_with_its_proposal_and_survives_a_restart_of_the_store()
    {
        using var dir = new TempDir();
        var key = "retry-" + Guid.NewGuid().ToString("N");
        var document = Intents.WithTenant("blue", 100, "node-a");
        long id;
        await using (var node = await TestNode.StartAsync("node-a", dir.Sub("a")))
        {
            await Eventually.Holds(async () => await node.UpCount() == 1, Wait, "node Up");
            using var first = await node.Http.SendAsync(Proposal(node, document, key));
            Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
            id = JsonNode.Parse(await first.Content.ReadAsStringAsync())!["changeId"]!.GetValue<long>();
            await Eventually.Holds(async () => await node.ChangeStatus(id) == "committed", Wait, $"change {id} committed");
        }

        await using var restarted = await TestNode.StartAsync("node-a", dir.Sub("a"));
        await Eventually.Holds(async () => await restarted.UpCount() == 1, Wait, "node Up again");
        await Eventually.Holds(async () => (await restarted.Http.GetAsync("/health/ready")).IsSuccessStatusCode, Wait, "ready");

        using var retry = await restarted.Http.SendAsync(Proposal(restarted, document, key));
        var body = await retry.Content.ReadAsStringAsync();
        Assert.True(retry.StatusCode == HttpStatusCode.Accepted, $"{(int)retry.StatusCode}: {body}");
        Assert.Equal(id, JsonNode.Parse(body)!["changeId"]!.GetValue<long>());
        Assert.Single((await restarted.Get("/changes")).AsArray());
    }
}

/// <summary>The same, when the store moves to another node over a shared PostgreSQL journal.</summary>
[Collection(PostgresCollection.Name)]
public sealed class ChangeTruthPostgresTests(PostgresServer postgres)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_retry_after_the_store_moved_to_another_node_returns_the_original_change()
    {
        using var dir = new TempDir();
        var db = postgres.NewDatabase();
        var key = "move-" + Guid.NewGuid().ToString("N");
        var document = Intents.WithTenant("blue", 100, "node-a", "node-b");
        var a = await TestNode.StartAsync("node-a", dir.Sub("a"), db: db);
        try
        {
            await using var b = await TestNode.StartAsync("node-b", dir.Sub("b"), seeds: [a.Seed], db: db);
            await Eventually.Holds(async () => await a.UpCount() == 2, Wait, "two nodes Up");

            // Proposed through node-b; the store runs on node-a, the oldest.
            using var first = await b.Http.SendAsync(Proposal(b, document, key));
            Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
            var id = JsonNode.Parse(await first.Content.ReadAsStringAsync())!["changeId"]!.GetValue<long>();
            await Eventually.Holds(async () => await b.ChangeStatus(id) == "committed", Wait, $"change {id} committed");

            await a.StopAsync();
            await Eventually.Holds(async () => (await b.Http.GetAsync("/health/ready")).IsSuccessStatusCode, Wait, "the store answers on node-b");

            using var retry = await b.Http.SendAsync(Proposal(b, document, key));
            var body = await retry.Content.ReadAsStringAsync();
            Assert.True(retry.StatusCode == HttpStatusCode.Accepted, $"{(int)retry.StatusCode}: {body}");
            Assert.Equal(id, JsonNode.Parse(body)!["changeId"]!.GetValue<long>());
            Assert.True(JsonNode.Parse(body)!["replayed"]!.GetValue<bool>());
            Assert.Single((await b.Get("/changes")).AsArray());
        }
        finally
        {
            await a.DisposeAsync();
        }
    }

    private static HttpRequestMessage Proposal(TestNode node, string document, string key)
    {
        var request = node.Authorized(HttpMethod.Post, "/changes", new StringContent(document, Encoding.UTF8, "application/yaml"));
        request.Headers.Add("Idempotency-Key", key);
        return request;
    }
}
