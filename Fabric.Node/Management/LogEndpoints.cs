using Fabric.Node.Hosting;

namespace Fabric.Node.Management;

/// <summary>
/// <c>GET /logs?since=N&amp;limit=M</c>: the node's recent log lines from its ring buffer
/// (<see cref="NodeLogRing"/>, <c>fabric.management.log-lines</c>), the oldest first. A client
/// following the log (<c>fabric-node log tail -f</c>) sends back <c>last</c> as the next
/// <c>since</c>; <c>dropped</c> says how many lines after <c>since</c> the ring no longer holds.
/// </summary>
public static class LogEndpoints
{
    public sealed record LogPage(long Last, long Dropped, IReadOnlyList<NodeLogLine> Lines);

    public const int MaxLimit = 10_000;

    public static void MapLogEndpoints(this WebApplication app)
    {
        app.MapGet("/logs", (string? since, string? limit, NodeLogRing ring) =>
        {
            long from = 0;
            if (since is not null && (!long.TryParse(since, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out from)))
                return Problems.BadRequest("since must be a line number (0 or more)");
            var count = 500;
            if (limit is not null && (!int.TryParse(limit, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out count) || count is < 1 or > MaxLimit))
                return Problems.BadRequest($"limit must be 1..{MaxLimit}");
            var (lines, last) = ring.Since(from, count);
            var dropped = lines.Count > 0 ? Math.Max(0, lines[0].Seq - from - 1) : Math.Max(0, last - from - ring.Capacity);
            return Results.Ok(new LogPage(lines.Count > 0 ? lines[^1].Seq : last, dropped, lines));
        }).WithSummary("Recent node log lines after line 'since' (0 = all held), oldest first; send 'last' back as 'since' to follow");
    }
}
