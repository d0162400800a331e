using Fabric.Tests.Support;

namespace Fabric.Tests.Config;

/// <summary>
/// The change path for real: propose on one node, the config-store singleton journals it, a
/// ghost-shadow node verifies it, the store commits it, and every fabric node's guardian applies it.
/// </summary>
public class ConfigStoreClusterTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(40);

    [Fact]
    public async Task A_proposed_change_is_verified_by_ghost_shadow_and_reaches_every_guardian()
    {
        using var dir = new TempDir();
        await using var a = await TestNode.StartAsync("node-a", dir.Sub("a"), roles: "fabric");
        await using var b = await TestNode.StartAsync("node-b", dir.Sub("b"), seeds: [a.Seed], roles: "fabric");
        await using var g = await TestNode.StartAsync("node-g", dir.Sub("g"), seeds: [a.Seed], roles: "ghost-shadow");
        await Eventually.Holds(async () => await a.UpCount() == 3, Wait, "three nodes Up");

        var id = await b.Propose(Intents.WithTenant("blue", 100, "node-a", "node-b"));

        await Eventually.Holds(async () => await a.ChangeStatus(id) == "committed", Wait, $"change {id} committed");
        var change = await a.Get($"/changes/{id}");
        Assert.StartsWith("ghost@node-g", change["verifier"]!.ToString());
        await Eventually.Holds(async () => await a.AppliedVersion() == 1 && await b.AppliedVersion() == 1,
            Wait, "both fabric guardians run intent version 1");
    }

    [Fact]
    public async Task Without_a_ghost_shadow_node_a_change_waits_and_commits_when_one_joins()
    {
        using var dir = new TempDir();
        await using var a = await TestNode.StartAsync("node-a", dir.Sub("a"), roles: "fabric");
        await Eventually.Holds(async () => await a.UpCount() == 1, Wait, "node-a Up");

        var id = await a.Propose(Intents.WithTenant("blue"));
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.Equal("proposed", await a.ChangeStatus(id));
        Assert.Equal(0, await a.AppliedVersion());

        await using var g = await TestNode.StartAsync("node-g", dir.Sub("g"), seeds: [a.Seed], roles: "ghost-shadow");
        await Eventually.Holds(async () => await a.ChangeStatus(id) == "committed", Wait, "the change committed once ghost-shadow joined");
        await Eventually.Holds(async () => await a.AppliedVersion() == 1, Wait, "node-a applied version 1");
    }

    [Fact]
    public async Task A_joining_node_fetches_the_committed_intent_it_missed()
    {
        using var dir = new TempDir();
        await using var a = await TestNode.StartAsync("node-a", dir.Sub("a"));
        await Eventually.Holds(async () => await a.UpCount() == 1, Wait, "node-a Up");
        var id = await a.Propose(Intents.WithTenant("blue"));
        await Eventually.Holds(async () => await a.ChangeStatus(id) == "committed", Wait, "committed");

        await using var b = await TestNode.StartAsync("node-b", dir.Sub("b"), seeds: [a.Seed], roles: "fabric");
        await Eventually.Holds(async () => await b.AppliedVersion() == 1, Wait, "the late node applied version 1");
    }

    [Fact]
    public async Task When_the_oldest_node_leaves_the_next_store_adopts_the_intent_its_guardians_run()
    {
        using var dir = new TempDir();
        var a = await TestNode.StartAsync("node-a", dir.Sub("a"));
        await using var b = await TestNode.StartAsync("node-b", dir.Sub("b"), seeds: [a.Seed]);
        try
        {
            await Eventually.Holds(async () => await a.UpCount() == 2, Wait, "two nodes Up");
            var id = await a.Propose(Intents.WithTenant("blue", 100, "node-a", "node-b"));
            await Eventually.Holds(async () => await b.AppliedVersion() == 1, Wait, "node-b runs version 1");
        }
        finally
        {
            await a.DisposeAsync(); // the singleton (and its SQLite journal) leaves with node-a
        }

        // node-b's own SQLite file never saw the change: its guardian offers the intent it runs.
        await Eventually.Holds(async () => await b.IntentVersion() == 1, Wait, "node-b's config store adopted version 1");
        Assert.Contains("blue", (await b.Get("/intent"))["document"]!.ToJsonString());
        var next = await b.Propose(Intents.WithTenant("red", 200, "node-b"));
        await Eventually.Holds(async () => await b.ChangeStatus(next) == "committed", Wait, "a new change commits on top");
        Assert.Equal(2, await b.IntentVersion());
    }

    [Fact]
    public async Task Restarting_a_node_on_its_SQLite_data_recovers_the_intent()
    {
        using var dir = new TempDir();
        string document;
        await using (var a = await TestNode.StartAsync("node-a", dir.Sub("a")))
        {
            await Eventually.Holds(async () => await a.UpCount() == 1, Wait, "node-a Up");
            var id = await a.Propose(Intents.WithTenant("blue"));
            await Eventually.Holds(async () => await a.ChangeStatus(id) == "committed", Wait, "committed");
            document = (await a.Get("/intent"))["document"]!.ToJsonString();
        }

        await using var again = await TestNode.StartAsync("node-a", dir.Sub("a"));
        await Eventually.Holds(async () => await again.AppliedVersion() == 1, Wait, "restarted node runs version 1");
        Assert.Equal(document, (await again.Get("/intent"))["document"]!.ToJsonString());
        Assert.Equal("committed", await again.ChangeStatus(1));
    }
}

public class ConfigStoreSnapshotTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(40);

    [Fact]
    public async Task The_store_snapshots_every_N_events_and_recovers_from_snapshot_plus_journal()
    {
        using var dir = new TempDir();
        const string everyTwo = "fabric.config-store.snapshot-every = 2";
        await using (var a = await TestNode.StartAsync("node-a", dir.Sub("a"), extraHocon: everyTwo))
        {
            await Eventually.Holds(async () => await a.UpCount() == 1, Wait, "node-a Up");
            foreach (var (tenant, vni) in new[] { ("blue", 100u), ("red", 200u), ("green", 300u) })
            {
                var id = await a.Propose(Intents.WithTenant(tenant, vni));
                await Eventually.Holds(async () => await a.ChangeStatus(id) == "committed", Wait, $"{tenant} committed");
            }
        }

        // 15 events (3 x proposed, keyed, reported, verified, committed; every HTTP proposal journals
        // its Idempotency-Key, made up when the client sends none, and every verdict its ghost
        // report): snapshots at 2, 4, ..., 14; older ones deleted.
        using (var sqlite = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(dir.Sub("a"), "fabric.db")}"))
        {
            sqlite.Open();
            using var count = sqlite.CreateCommand();
            count.CommandText = "SELECT max(sequence_number) FROM snapshot";
            Assert.Equal(14L, Convert.ToInt64(count.ExecuteScalar()));
            // Events and snapshots are written by our Hyperion serializer (identifier 441).
            count.CommandText = "SELECT DISTINCT serializer_id FROM snapshot UNION SELECT DISTINCT identifier FROM journal";
            Assert.Equal(441L, Convert.ToInt64(count.ExecuteScalar()));
        }

        await using var again = await TestNode.StartAsync("node-a", dir.Sub("a"), extraHocon: everyTwo);
        await Eventually.Holds(async () => await again.AppliedVersion() == 3, Wait, "recovered version 3");
        Assert.Contains("green", (await again.Get("/intent"))["document"]!.ToJsonString());
        Assert.Equal(3, (await again.Get("/changes")).AsArray().Count);
    }
}

[Collection(PostgresCollection.Name)]
public class ConfigStorePostgresTests(PostgresServer postgres)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(40);

    [Fact]
    public async Task Restarting_a_node_on_PostgreSQL_recovers_the_intent_and_a_bad_document_journals_nothing()
    {
        using var dir = new TempDir();
        var db = postgres.NewDatabase();
        await using (var a = await TestNode.StartAsync("node-a", dir.Sub("a"), db: db))
        {
            await Eventually.Holds(async () => await a.UpCount() == 1, Wait, "node-a Up");
            var id = await a.Propose(Intents.WithTenant("blue"));
            await Eventually.Holds(async () => await a.ChangeStatus(id) == "committed", Wait, "committed");

            using var bad = await a.Http.SendAsync(a.Authorized(HttpMethod.Post, "/changes", new StringContent(Intents.UnknownNode)));
            Assert.Equal(System.Net.HttpStatusCode.BadRequest, bad.StatusCode);
        }

        // ChangeProposed, ChangeKeyed, ChangeReported, ChangeVerified, ChangeCommitted: the refused document added no row.
        Assert.Equal(5, CountJournalRows(db));
        await using var again = await TestNode.StartAsync("node-a", dir.Sub("a2"), db: db);
        await Eventually.Holds(async () => await again.AppliedVersion() == 1, Wait, "restarted node runs version 1 from PostgreSQL");
        Assert.Contains("blue", (await again.Get("/intent"))["document"]!.ToJsonString());
    }

    private static long CountJournalRows(string connectionString)
    {
        using var connection = new Npgsql.NpgsqlConnection(connectionString);
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM journal";
        return (long)command.ExecuteScalar()!;
    }
}
