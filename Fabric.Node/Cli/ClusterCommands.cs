using System.Text.Json.Nodes;

namespace Fabric.Node.Cli;

/// <summary>The Petabridge.Cmd-like cluster, sharding and log verbs over the management API.</summary>
public sealed partial class OperatorCommands
{
    public async Task<int> ClusterShow(CancellationToken cancel) =>
        await Print(await Send(HttpMethod.Get, "/cluster/members", null, cancel: cancel), Tables.Members);

    public async Task<int> ClusterLeader(CancellationToken cancel)
    {
        var members = await Send(HttpMethod.Get, "/cluster/members", null, cancel: cancel);
        if (members["leader"]?.ToString() is not { Length: > 0 } leader) throw new CliException("the cluster has no leader yet", 1);
        return await Print(new JsonObject { ["leader"] = leader }, n => n["leader"]!.ToString());
    }

    /// <summary>Downs every member the node sees unreachable, one call each; prints what it did.</summary>
    public async Task<int> ClusterDownUnreachable(CancellationToken cancel)
    {
        var members = await Send(HttpMethod.Get, "/cluster/members", null, cancel: cancel);
        var downed = new JsonArray();
        foreach (var node in (members["unreachable"]?.AsArray() ?? []).Select(u => u!["node"]!.ToString()))
        {
            var reply = await Send(HttpMethod.Put, $"/cluster/members/{Uri.EscapeDataString(node)}", JsonContent("""{"operation":"Down"}"""), cancel: cancel);
            downed.Add(reply["message"]?.ToString() ?? $"Downing {node}");
        }
        return await Print(new JsonObject { ["downed"] = downed },
            n => n["downed"]!.AsArray().Count == 0 ? "no unreachable member" : string.Join('\n', n["downed"]!.AsArray().Select(d => d!.ToString())));
    }

    public async Task<int> ShardRegions(CancellationToken cancel) =>
        await Print(await Send(HttpMethod.Get, "/cluster/shards", null, cancel: cancel), ClusterTables.Regions);

    public async Task<int> RegionStats(string region, CancellationToken cancel) =>
        await Print(await Send(HttpMethod.Get, $"/cluster/shards/{Uri.EscapeDataString(region)}?cluster=true", null, cancel: cancel), ClusterTables.RegionStats);

    public async Task<int> ShardStats(string region, CancellationToken cancel) =>
        await Print(await Send(HttpMethod.Get, $"/cluster/shards/{Uri.EscapeDataString(region)}", null, cancel: cancel),
            n => ClusterTables.ShardStats(region, n));

    /// <summary>
    /// The node's last <paramref name="lines"/> log lines (<c>GET /logs?since=N</c>: <c>{last, dropped,
    /// lines: [{seq, time, level, source, message}]}</c>); with
    /// <paramref name="follow"/>, asks again every second for the lines after the last one seen.
    /// </summary>
    public async Task<int> LogTail(int lines, bool follow, CancellationToken cancel)
    {
        if (lines < 1) throw new CliException($"--lines must be at least 1, not {lines}", 2);
        // The node answers the oldest lines first (at most 10,000 a call): ask for all it holds, show the last ones.
        var page = await Send(HttpMethod.Get, "/logs?limit=10000", null, cancel: cancel);
        var all = page["lines"]?.AsArray() ?? [];
        var last = page["last"]?.GetValue<long>() ?? 0;
        await PrintLines(all.Skip(Math.Max(0, all.Count - lines)));
        while (follow && !cancel.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(1), cancel);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            page = await Send(HttpMethod.Get, $"/logs?since={last}&limit=10000", null, cancel: cancel);
            if (!json && page["dropped"]?.GetValue<long>() is > 0 and var dropped)
                await output.WriteLineAsync($"... {dropped} line(s) left the node's ring buffer before they could be shown");
            await PrintLines(page["lines"]?.AsArray() ?? []);
            last = page["last"]?.GetValue<long>() ?? last;
        }
        return 0;

        async Task PrintLines(IEnumerable<JsonNode?> batch)
        {
            foreach (var line in batch)
                await output.WriteLineAsync(json ? line!.ToJsonString() : ClusterTables.LogLine(line!));
            await output.FlushAsync(cancel);
        }
    }
}
