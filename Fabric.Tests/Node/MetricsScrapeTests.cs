using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Fabric.Tests.Support;
using Xunit.Abstractions;

namespace Fabric.Tests.Node;

/// <summary>
/// A live `fabric-node run` (the embedded default: the sample intent) scraped as Prometheus would:
/// the text parses under the exposition format's rules, and its figures agree with the JSON routes
/// read just before and just after (counters between the two reads, states equal when both agree).
/// </summary>
public partial class MetricsScrapeTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task A_scrape_of_a_live_node_parses_and_agrees_with_trunks_gateways_intent_changes_and_members()
    {
        using var dir = new TempDir();
        var api = ClusterBootstrapTests.PortPair();
        // The sample on a loopback address of its own: its PW underlay (UDP 6635/6636) must not meet
        // another test's node running the sample on 127.0.0.1.
        var intentFile = Path.Combine(dir.Path, "sample.yaml");
        var underlay = $"127.0.{Random.Shared.Next(100, 250)}.{Random.Shared.Next(2, 250)}";
        await File.WriteAllTextAsync(intentFile, (await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "samples", "sample-intent.yaml")))
            .Replace("address: 127.0.0.1", $"address: {underlay}"));
        using var node = NodeProcess.Start("run", "--name", "node-1", "--port", $"{NodeProcess.FreeTcpPort()}", "--management", $"127.0.0.1:{api}",
            "--data", dir.Sub("n1"), "--intent", "none");
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{api}"), Timeout = TimeSpan.FromSeconds(20) };
        try
        {
            await Eventually.Holds(() => Ok(http, "/health/ready"), Wait, "the node ready");
            // On a machine this loaded (load average 40-70 on 2 cores) the ghost verifier may reject
            // the sample for PWs not up in time; propose it again until it is committed (at most 4 times).
            http.DefaultRequestHeaders.Authorization = new("Bearer", (await File.ReadAllTextAsync(Path.Combine(dir.Sub("n1"), "token"))).Trim());
            for (var attempt = 1; attempt <= 4 && (await Json(http, "/intent"))["version"]!.GetValue<long>() == 0; attempt++)
            {
                using var proposed = await http.PostAsync("/changes", new StringContent(await File.ReadAllTextAsync(intentFile), System.Text.Encoding.UTF8, "application/yaml"));
                var id = JsonNode.Parse(await proposed.Content.ReadAsStringAsync())!["changeId"]!.GetValue<long>();
                await Eventually.Holds(async () => (await Json(http, $"/changes/{id}"))["status"]!.ToString() is "committed" or "rejected", Wait, $"change {id} decided");
                output.WriteLine($"attempt {attempt}: change {id} {(await Json(http, $"/changes/{id}"))["status"]}");
            }
            http.DefaultRequestHeaders.Authorization = null;
            await Eventually.Holds(async () => await Ok(http, "/health/ready") && (await Json(http, "/intent/applied"))["version"]!.GetValue<long>() >= 1,
                Wait, "the sample committed and applied");
            await Eventually.Holds(async () => (await Json(http, "/trunks"))["trunks"]!.AsArray().Count > 0, Wait, "trunks running");
            await Eventually.Holds(async () => (await Json(http, "/gateways")).AsArray().Count > 0, Wait, "the gateway running");

            var trunksBefore = await Json(http, "/trunks");
            var gatewaysBefore = await Json(http, "/gateways");
            using var response = await http.GetAsync("/metrics");
            var text = await response.Content.ReadAsStringAsync();
            var trunksAfter = await Json(http, "/trunks");
            var gatewaysAfter = await Json(http, "/gateways");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("text/plain", response.Content.Headers.ContentType!.MediaType);
            Assert.Contains("version=0.0.4", response.Content.Headers.ContentType!.ToString());

            var scrape = Parse(text);
            output.WriteLine($"{scrape.Samples.Count} samples in {scrape.Types.Count} families, {text.Length} bytes");

            // Trunks: every member of every trunk, state and counters.
            foreach (var trunk in trunksBefore["trunks"]!.AsArray())
            {
                var name = trunk!["name"]!.ToString();
                var after = trunksAfter["trunks"]!.AsArray().Single(t => t!["name"]!.ToString() == name)!;
                if (trunk["state"]!.ToString() == after["state"]!.ToString())
                    Assert.Equal(trunk["state"]!.ToString() == "up" ? 1 : 0, scrape.One("fabric_trunk_up", ("trunk", name)));
                Between(trunk["transitions"]!, after["transitions"]!, scrape.One("fabric_trunk_transitions_total", ("trunk", name)));
                foreach (var member in trunk["members"]!.AsArray())
                {
                    var pw = member!["pw"]!.ToString();
                    var memberAfter = after["members"]!.AsArray().Single(m => m!["pw"]!.ToString() == pw)!;
                    Between(member["txFrames"]!, memberAfter["txFrames"]!, scrape.One("fabric_trunk_member_tx_frames_total", ("trunk", name), ("member", pw)));
                    Between(member["transitions"]!, memberAfter["transitions"]!, scrape.One("fabric_trunk_member_transitions_total", ("trunk", name), ("member", pw)));
                    if (member["state"]!.ToString() == memberAfter["state"]!.ToString())
                        Assert.Equal(member["state"]!.ToString() == "up" ? 1 : 0, scrape.One("fabric_trunk_member_up", ("trunk", name), ("member", pw)));
                    // A share is a ratio of counters that keep moving: it need not lie between the two
                    // snapshots' (4/11, then 4/12, then 5/13). It must agree with the same scrape's
                    // frame counters, to within the few frames sent while the trunk's status was read.
                    var share = scrape.One("fabric_trunk_member_frame_share", ("trunk", name), ("member", pw));
                    var total = trunk["members"]!.AsArray().Sum(m => scrape.One("fabric_trunk_member_tx_frames_total", ("trunk", name), ("member", m!["pw"]!.ToString())));
                    var mine = scrape.One("fabric_trunk_member_tx_frames_total", ("trunk", name), ("member", pw));
                    if (total == 0) Assert.Equal(0, share);
                    else Assert.InRange(share, mine / total - 2.0 / total - 1e-9, mine / total + 2.0 / total + 1e-9);
                }
            }
            // BFD: every PW's transitions.
            foreach (var pw in (await Json(http, "/pws"))["pws"]!.AsArray())
                Assert.True(scrape.Has("fabric_pw_bfd_transitions_total", ("pw", pw!["name"]!.ToString())), $"no BFD transitions for {pw["name"]}");
            // The node's PW underlay socket: its frames and its drops by reason (rx-queue-delay among them).
            Assert.True(scrape.Has("fabric_port_rx_frames_total", ("kind", "underlay"), ("element", "pw"), ("port", "underlay")), "no series for the PW underlay socket");

            // Gateways: cache entries, hits, misses, evictions; stage drops by reason.
            Assert.NotEmpty(gatewaysBefore.AsArray());
            foreach (var gw in gatewaysBefore.AsArray())
            {
                var name = gw!["name"]!.ToString();
                var after = gatewaysAfter.AsArray().Single(g => g!["name"]!.ToString() == name)!;
                Between(gw["cache"]!["hits"]!, after["cache"]!["hits"]!, scrape.One("fabric_gateway_cache_hits_total", ("gateway", name)));
                Between(gw["cache"]!["misses"]!, after["cache"]!["misses"]!, scrape.One("fabric_gateway_cache_misses_total", ("gateway", name)));
                Between(gw["cache"]!["evictions"]!, after["cache"]!["evictions"]!, scrape.One("fabric_gateway_cache_evictions_total", ("gateway", name)));
                Between(gw["cache"]!["active"]!, after["cache"]!["active"]!, scrape.One("fabric_gateway_cache_entries", ("gateway", name)));
                var detail = await Json(http, $"/gateways/{name}");
                foreach (var (reason, count) in detail["status"]!["drops"]!.AsObject())
                    Assert.True(scrape.One("fabric_gateway_drops_total", ("gateway", name), ("reason", reason)) <= count!.GetValue<long>());
                foreach (var port in detail["status"]!["ports"]!.AsArray())
                    Assert.True(scrape.Has("fabric_port_rx_frames_total", ("kind", "gateway"), ("element", name), ("port", port!["name"]!.ToString()), ("tenant", port["tenant"]!.ToString())));
            }

            // Intent, changes and their ghost verdicts, members.
            var intent = await Json(http, "/intent");
            Assert.Equal(intent["version"]!.GetValue<long>(), scrape.One("fabric_intent_version"));
            var changes = (await Json(http, "/changes?limit=500")).AsArray();
            Assert.Equal(changes.Count(c => c!["status"]!.ToString() == "committed"), scrape.One("fabric_changes", ("status", "committed")));
            Assert.True(scrape.One("fabric_ghost_verdicts", ("verdict", "passed")) >= 1, "the sample passed the ghost network");
            Assert.Equal(changes.Count(c => c!["status"]!.ToString() == "rejected"), scrape.One("fabric_ghost_verdicts", ("verdict", "failed")));
            Assert.Equal(1, scrape.One("fabric_cluster_members", ("status", "Up")));
            Assert.Equal(0, scrape.One("fabric_cluster_members", ("status", "Down")));

            // MFE ports and modems of the sample.
            foreach (var port in (await Json(http, "/ports"))["ports"]!.AsArray())
                Assert.True(scrape.Has("fabric_port_rx_frames_total", ("kind", "mfe"), ("element", port!["host"]!.ToString()), ("port", port["name"]!.ToString())));
            foreach (var hv in (await Json(http, "/hypervisors"))["hypervisors"]!.AsArray())
            foreach (var modem in hv!["modems"]!.AsArray())
                Assert.True(scrape.Has("fabric_modem_bearer_up", ("hypervisor", hv["name"]!.ToString()), ("modem", modem!["name"]!.ToString())));
            Assert.Equal(0, scrape.Samples.Where(s => s.Name == "fabric_scrape_errors").Sum(s => s.Value));
            // The process's own cost, as Prometheus' process collector names it, and the GC's share.
            // (The heap can exceed RSS: pinned batch buffers never written are not resident.)
            double rss = scrape.One("process_resident_memory_bytes"), heap = scrape.One("dotnet_gc_heap_size_bytes");
            Assert.True(rss > 50e6 && heap > 0 && scrape.One("dotnet_gc_committed_bytes") >= heap, $"RSS {rss}, managed heap {heap}");
            Assert.True(scrape.One("process_cpu_seconds_total") > 0 && scrape.One("process_threads") >= 4);
            // Allocation and collections, as counters: a node that started, joined and applied an
            // intent has allocated at least what it holds; every generation has its series, an older
            // one never collected more often than a younger (each collection takes the younger with
            // it); collections paused the process, and a later scrape has allocated more.
            foreach (var counter in new[] { "dotnet_gc_allocated_bytes_total", "dotnet_gc_collections_total", "dotnet_gc_pause_seconds_total" })
                Assert.Equal("counter", scrape.Types[counter]);
            var allocated = scrape.One("dotnet_gc_allocated_bytes_total");
            Assert.True(allocated > heap / 2, $"allocated {allocated} B, managed heap {heap} B");
            var collections = Enumerable.Range(0, 3).Select(g => scrape.One("dotnet_gc_collections_total", ("generation", $"{g}"))).ToArray();
            Assert.True(collections[0] >= collections[1] && collections[1] >= collections[2], $"collections by generation {string.Join("/", collections)}");
            Assert.True(collections[0] == 0 || scrape.One("dotnet_gc_pause_seconds_total") > 0, "collections without pause time");
            var again = Parse(await http.GetStringAsync("/metrics"));
            Assert.True(again.One("dotnet_gc_allocated_bytes_total") > allocated, "allocated bytes did not grow between scrapes");
            // The JIT's work so far: a started node has compiled thousands of methods, taking time.
            foreach (var counter in new[] { "dotnet_jit_compiled_methods_total", "dotnet_jit_compiled_il_bytes_total", "dotnet_jit_compilation_time_seconds_total" })
                Assert.Equal("counter", scrape.Types[counter]);
            Assert.True(scrape.One("dotnet_jit_compiled_methods_total") > 1000, $"{scrape.One("dotnet_jit_compiled_methods_total")} methods compiled");
            Assert.True(scrape.One("dotnet_jit_compiled_il_bytes_total") > scrape.One("dotnet_jit_compiled_methods_total"));
            Assert.True(scrape.One("dotnet_jit_compilation_time_seconds_total") > 0);
            Assert.True(again.One("dotnet_jit_compiled_methods_total") >= scrape.One("dotnet_jit_compiled_methods_total"));

            // The node's log through the ring buffer: the start line, then nothing new past 'last'.
            var logs = await Json(http, "/logs?since=0&limit=10000");
            Assert.Contains(logs["lines"]!.AsArray(), l => l!["message"]!.ToString().StartsWith("Node node-1 up", StringComparison.Ordinal));
            var last = logs["last"]!.GetValue<long>();
            var page = await Json(http, $"/logs?since={last}");
            Assert.All(page["lines"]!.AsArray(), l => Assert.True(l!["seq"]!.GetValue<long>() > last));
            using var bad = await http.GetAsync("/logs?since=-1");
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);

            // Stopped as an init system stops it, while its gateway carries traffic: the flow-cache
            // region hands its shards off without waiting out its phase (a gateway restoring the
            // stopped entities' successors into a region that is shutting down held every stop 10 s).
            var before = node.Output.Length;
            Assert.Equal(0, await node.TerminateAsync(Wait));
            var stopping = node.Output[before..];
            Assert.DoesNotContain("Graceful shutdown of shard region timed out", stopping);
            Assert.DoesNotContain("its successor is restored", stopping);
        }
        catch
        {
            output.WriteLine("last answer: " + _lastAnswer);
            output.WriteLine(node.Output);
            throw;
        }
    }

    private static void Between(JsonNode before, JsonNode after, double scraped) =>
        Assert.InRange(scraped, before.GetValue<double>(), after.GetValue<double>());

    private string? _lastAnswer;

    private async Task<bool> Ok(HttpClient http, string path)
    {
        try
        {
            using var r = await http.GetAsync(path);
            _lastAnswer = $"{path}: {(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}";
            return r.IsSuccessStatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            _lastAnswer = $"{path}: {e.Message}";
            return false;
        }
    }

    private static async Task<JsonNode> Json(HttpClient http, string path) => JsonNode.Parse(await http.GetStringAsync(path))!;

    public sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

    public sealed record Scrape(IReadOnlyDictionary<string, string> Types, IReadOnlyList<Sample> Samples)
    {
        public IEnumerable<Sample> Find(string name, params (string Name, string Value)[] labels) =>
            Samples.Where(s => s.Name == name && labels.All(l => s.Labels.TryGetValue(l.Name, out var v) && v == l.Value));

        public bool Has(string name, params (string Name, string Value)[] labels) => Find(name, labels).Any();

        public double One(string name, params (string Name, string Value)[] labels)
        {
            var found = Find(name, labels).ToList();
            Assert.True(found.Count == 1, $"{name}{{{string.Join(",", labels.Select(l => $"{l.Name}={l.Value}"))}}}: {found.Count} samples");
            return found[0].Value;
        }
    }

    /// <summary>
    /// Parses text exposition format 0.0.4 strictly: HELP and TYPE once per family and before its
    /// samples, a family's samples contiguous, names and labels well formed, values numbers.
    /// </summary>
    public static Scrape Parse(string text)
    {
        var types = new Dictionary<string, string>();
        var samples = new List<Sample>();
        var closed = new HashSet<string>();
        string? current = null;
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0) continue;
            if (line.StartsWith("# ", StringComparison.Ordinal))
            {
                var parts = line.Split(' ', 4);
                Assert.True(parts.Length >= 3 && parts[1] is "HELP" or "TYPE", $"bad comment line: {line}");
                if (parts[1] == "TYPE")
                {
                    Assert.True(parts.Length == 4 && parts[3] is "counter" or "gauge" or "histogram" or "summary" or "untyped", $"bad TYPE: {line}");
                    Assert.True(types.TryAdd(parts[2], parts[3]), $"TYPE twice for {parts[2]}");
                    if (current is not null && current != parts[2]) closed.Add(current);
                    Assert.DoesNotContain(parts[2], closed);
                    current = parts[2];
                }
                continue;
            }
            var match = SampleLine().Match(line);
            Assert.True(match.Success, $"bad sample line: {line}");
            var name = match.Groups["name"].Value;
            Assert.True(types.ContainsKey(name), $"{name} has no TYPE before its samples");
            Assert.True(name == current, $"{name}'s samples are not together");
            if (types[name] == "counter") Assert.EndsWith("_total", name);
            var labels = new Dictionary<string, string>();
            foreach (Match l in LabelPair().Matches(match.Groups["labels"].Value))
                Assert.True(labels.TryAdd(l.Groups[1].Value, Regex.Unescape(l.Groups[2].Value)), $"label twice: {line}");
            var value = match.Groups["value"].Value switch
            {
                "NaN" => double.NaN,
                "+Inf" => double.PositiveInfinity,
                "-Inf" => double.NegativeInfinity,
                var v => double.Parse(v, NumberStyles.Float, CultureInfo.InvariantCulture),
            };
            samples.Add(new Sample(name, labels, value));
        }
        return new Scrape(types, samples);
    }

    [GeneratedRegex("""^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*)\})? (?<value>\S+)$""")]
    private static partial Regex SampleLine();

    [GeneratedRegex(@"([a-zA-Z_][a-zA-Z0-9_]*)=""((?:[^""\\]|\\.)*)""")]
    private static partial Regex LabelPair();
}
