using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Fabric.Tests.Support;
using Xunit.Abstractions;

namespace Fabric.Tests.Node;

/// <summary>
/// Chaos: kill -9 of the node that holds the config-store singleton, three real `fabric-node`
/// processes. The store restarts on a survivor and writes are accepted again soon after the crash
/// (see hocon/fabric.conf's timing budget, goal 10 s).
/// </summary>
public class StoreFailoverTests(ITestOutputHelper output)
{
    [Fact]
    public async Task After_kill_9_of_the_store_node_a_proposal_without_base_version_applies_to_the_newest_intent()
    {
        // Each node has its own SQLite file (the default): the survivor's journal is empty, so the
        // store must adopt the intent the cluster runs before it accepts a proposal.
        await using var cluster = await ThreeNodes.StartAsync(output, db: null,
            Intents.WithTenant("blue", 100, ThreeNodes.Names));

        cluster.KillStoreNode();
        var (accepted, writable) = await cluster.ProposeUntilAccepted(Intents.WithTenant("blue", 101, ThreeNodes.Names), "failover-" + Guid.NewGuid().ToString("N"));
        output.WriteLine($"writes accepted again {writable.TotalSeconds:F1} s after kill -9 of the store's node");

        var id = accepted["changeId"]!.GetValue<long>();
        Assert.Equal(1, accepted["baseVersion"]!.GetValue<long>());
        await cluster.SurvivorsApply(2, $"change {id} committed as version 2 on both survivors");
        Assert.Equal("committed", (await cluster.Get($"/changes/{id}"))["status"]!.ToString());
        ThreeNodes.AssertWritableSoon(writable);
        cluster.Passed();
    }
}

/// <summary>
/// Chaos with a shared PostgreSQL journal: the store's node is killed while an operator proposes
/// one change after another. No acknowledged change is lost: the one pending at the crash is
/// verified and committed by the store that took over, and the next ones commit after it.
/// </summary>
[Collection(PostgresCollection.Name)]
public class StoreFailoverPostgresTests(PostgresServer postgres, ITestOutputHelper output)
{
    [Fact]
    public async Task Kill_9_of_the_store_node_while_changes_are_proposed_loses_no_acknowledged_change()
    {
        await using var cluster = await ThreeNodes.StartAsync(output, postgres.NewDatabase(),
            Intents.WithTenant("t0", 100, ThreeNodes.Names));

        var acknowledged = new List<long>();
        TimeSpan? decided = null;
        for (var i = 1; i <= 4; i++)
        {
            var (accepted, _) = await cluster.ProposeUntilAccepted(
                Intents.WithTenant($"t{i}", (uint)(100 + i), ThreeNodes.Names), $"chaos-{i}-" + Guid.NewGuid().ToString("N"));
            var id = accepted["changeId"]!.GetValue<long>();
            acknowledged.Add(id);
            // Kill the store's node right after it acknowledged change 2, before its verdict: the
            // store that takes over finds it pending in the journal and has it verified again.
            if (i == 2) cluster.KillStoreNode();
            await cluster.Eventually(async () => (await cluster.Get($"/changes/{id}"))["status"]!.ToString() == "committed",
                $"change {id} committed");
            if (i == 2)
                decided = (await cluster.Get($"/changes/{id}"))["decidedAt"]!.GetValue<DateTimeOffset>() - cluster.KilledAt!.Value;
        }
        output.WriteLine($"acknowledged {string.Join(", ", acknowledged)}; the change pending at the crash committed {decided!.Value.TotalSeconds:F1} s after kill -9");

        foreach (var id in acknowledged)
            Assert.Equal("committed", (await cluster.Get($"/changes/{id}"))["status"]!.ToString());
        await cluster.SurvivorsApply(acknowledged.Count + 1, "every acknowledged change applied on both survivors");
        cluster.Passed();
    }
}

/// <summary>
/// Three `fabric-node run` processes on loopback: node-1 (the oldest, so it holds the config store)
/// commits <c>first</c> at start; node-2 and node-3 join it. Proposals go through node-2.
/// </summary>
internal sealed class ThreeNodes : IAsyncDisposable
{
    public static readonly string[] Names = ["node-1", "node-2", "node-3"];
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    private readonly ITestOutputHelper _output;
    private readonly TempDir _dir = new();
    private readonly List<NodeProcess> _nodes = [];
    private readonly string[] _mgmt = Names.Select(_ => $"127.0.0.1:{NodeProcess.FreeTcpPort()}").ToArray();
    private readonly HttpClient _http;
    private Stopwatch? _sinceCrash;
    private bool _failed = true;

    private ThreeNodes(ITestOutputHelper output)
    {
        _output = output;
        _http = new HttpClient { BaseAddress = new Uri($"http://{_mgmt[1]}"), Timeout = TimeSpan.FromSeconds(20) };
    }

    public static async Task<ThreeNodes> StartAsync(ITestOutputHelper output, string? db, string first)
    {
        var cluster = new ThreeNodes(output);
        try
        {
            var ports = Names.Select(_ => NodeProcess.FreeTcpPort()).ToArray();
            var firstFile = Path.Combine(cluster._dir.Path, "first.yaml");
            await File.WriteAllTextAsync(firstFile, first);
            string[] Args(int i) =>
            [
                "run", "--name", Names[i], "--port", $"{ports[i]}", "--management", cluster._mgmt[i], "--data", cluster._dir.Sub(Names[i]),
                "--intent", i == 0 ? firstFile : "none",
                .. i == 0 ? Array.Empty<string>() : ["--seed", $"127.0.0.1:{ports[0]}"],
                .. db is null ? Array.Empty<string>() : ["--db", db],
            ];
            cluster._nodes.Add(NodeProcess.Start(Args(0)));
            await cluster.Eventually(async () => await Applied(cluster._mgmt[0]) == 1, "node-1 commits its start intent");
            cluster._nodes.Add(NodeProcess.Start(Args(1)));
            cluster._nodes.Add(NodeProcess.Start(Args(2)));
            await cluster.SurvivorsApply(1, "node-2 and node-3 run intent version 1");
            // Every node sees all three Up before one is killed: killed while gossip has not
            // converged, a survivor that does not yet know the third member judges itself the
            // minority (1 of 2 reachable) and downs itself, which is the resolver doing its job.
            await cluster.Eventually(async () => (await Task.WhenAll(cluster._mgmt.Select(UpCount))).All(n => n == 3), "all three nodes see three Up members");
            var token = (await File.ReadAllTextAsync(Path.Combine(cluster._dir.Sub(Names[1]), "token"))).Trim();
            cluster._http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    public TimeSpan SinceCrash => _sinceCrash?.Elapsed ?? TimeSpan.Zero;

    /// <summary>When node-1 was killed (the nodes run on this machine's clock).</summary>
    public DateTimeOffset? KilledAt { get; private set; }

    /// <summary>kill -9 of node-1, the oldest member, which holds the config-store singleton.</summary>
    public void KillStoreNode()
    {
        _nodes[0].Dispose();
        _sinceCrash = Stopwatch.StartNew();
        KilledAt = DateTimeOffset.UtcNow;
    }

    /// <summary>
    /// Proposes through node-2 without a base version, retrying with the same idempotency key (as
    /// the CLI does) until a 202; returns its body and the time since the crash, if there was one.
    /// </summary>
    public async Task<(JsonNode Accepted, TimeSpan SinceCrash)> ProposeUntilAccepted(string document, string key)
    {
        var waited = Stopwatch.StartNew();
        var last = "";
        while (waited.Elapsed < Wait)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/changes")
            {
                Content = new StringContent(document, Encoding.UTF8, "application/yaml"),
            };
            request.Headers.Add("Idempotency-Key", key);
            try
            {
                using var response = await _http.SendAsync(request);
                var body = await response.Content.ReadAsStringAsync();
                if (response.StatusCode == HttpStatusCode.Accepted)
                    return (JsonNode.Parse(body)!, SinceCrash);
                last = $"{(int)response.StatusCode} {body}";
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                last = e.Message;
            }
            await Task.Delay(200);
        }
        throw new Xunit.Sdk.XunitException($"no proposal accepted within {Wait}: last answer {last}");
    }

    private static async Task<int> UpCount(string mgmt)
    {
        var (code, text) = await NodeProcess.Cli("cluster", "show", "--json", "--management", mgmt);
        return code == 0 ? JsonNode.Parse(text)!["members"]!.AsArray().Count(m => m!["status"]!.ToString() == "Up") : -1;
    }

    public Task SurvivorsApply(long version, string what) =>
        Eventually(async () => await Applied(_mgmt[1]) == version && await Applied(_mgmt[2]) == version, what);

    public async Task<JsonNode> Get(string path) => JsonNode.Parse(await _http.GetStringAsync(path))!;

    public async Task Eventually(Func<Task<bool>> condition, string what) =>
        await Support.Eventually.Holds(async () =>
        {
            try { return await condition(); }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { return false; }
        }, Wait, what);

    /// <summary>
    /// The goal is 10 s; the assertion leaves room for a loaded CI machine and still fails on the
    /// 25-30 s that the resolver's defaults (stable-after 20 s, removal margin = stable-after) take.
    /// </summary>
    public static void AssertWritableSoon(TimeSpan writable) =>
        Assert.True(writable < TimeSpan.FromSeconds(20), $"writes came back only after {writable.TotalSeconds:F1} s");

    public void Passed() => _failed = false;

    private static async Task<long> Applied(string mgmt)
    {
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://{mgmt}"), Timeout = TimeSpan.FromSeconds(10) };
            return JsonNode.Parse(await http.GetStringAsync("/intent/applied"))!["version"]!.GetValue<long>();
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return -1;
        }
    }

    public ValueTask DisposeAsync()
    {
        if (_failed)
            for (var i = 0; i < _nodes.Count; i++) _output.WriteLine($"--- {Names[i]} ---\n{_nodes[i].Output}");
        foreach (var node in _nodes) node.Dispose();
        _http.Dispose();
        _dir.Dispose();
        return ValueTask.CompletedTask;
    }
}
