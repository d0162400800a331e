using System.Text.Json;
using Akka.Actor;
using Akka.Hosting;
using Fabric.Actors.Config;
using Fabric.Actors.Guardian;
using Fabric.Messages.Config;
using Fabric.Messages.Node;

namespace Fabric.Node.Management;

/// <summary>The committed intent, this node's applied intent, and the change workflow.</summary>
public static class IntentEndpoints
{
    public sealed record IntentView(long Version, long ChangeId, JsonElement? Document);
    public sealed record AppliedView(string Node, long Version, long ChangeId, IReadOnlyList<HostedElement> Elements);
    public sealed record ProposalView(long ChangeId, string Status, long BaseVersion, string Location);
    public sealed record UnchangedView(string Status, long Version);
    public sealed record ChangeView(
        long ChangeId, string Status, long BaseVersion, string Author, DateTimeOffset ProposedAt,
        string? Verifier, IReadOnlyList<FindingView> Findings, DateTimeOffset? DecidedAt, long? CommittedVersion,
        JsonElement? Document)
    {
        /// <summary>Probe outcomes that differ between main and the proposal (differential reachability).</summary>
        public IReadOnlyList<DiffView>? Diff { get; init; }
        /// <summary>Where each element's ghost copy ran.</summary>
        public IReadOnlyList<string>? Placement { get; init; }
        /// <summary>The verification's progress lines so far.</summary>
        public IReadOnlyList<string>? Progress { get; init; }
        public GhostSummaryView? Ghost { get; init; }
    }

    /// <summary>One finding: the check (declared or implicit), one sentence, the failing probe's hops.</summary>
    public sealed record FindingView(string Check, string Reason, IReadOnlyList<string> Path);
    public sealed record DiffView(string Probe, string Before, string After);
    public sealed record GhostSummaryView(bool Verified, int Probes, int ChecksPassed, int ChecksFailed, double Seconds);

    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(10);

    public static void MapIntentEndpoints(this WebApplication app)
    {
        app.MapGet("/intent", async (IRequiredActor<ConfigStoreActor> store, CancellationToken ct) =>
        {
            var intent = await store.ActorRef.Ask<CurrentIntent>(GetIntent.Instance, AskTimeout, ct);
            return Results.Ok(new IntentView(intent.Version, intent.ChangeId, Json(intent.Document)));
        }).WithSummary("The committed intent (canonical JSON)");

        app.MapGet("/intent/applied", async (ActorRegistry registry, CancellationToken ct) =>
        {
            if (!registry.TryGet<FabricGuardianActor>(out var guardian))
                return Problems.NotFound("this node has no fabric role, so it applies no intent");
            var applied = await guardian.Ask<AppliedIntent>(GetAppliedIntent.Instance, AskTimeout, ct);
            return Results.Ok(new AppliedView(applied.Node, applied.Version, applied.ChangeId, applied.Elements));
        }).WithSummary("The intent version this node runs and the elements it hosts");

        app.MapPost("/changes", async (HttpRequest request, IRequiredActor<ConfigStoreActor> store, CancellationToken ct) =>
        {
            using var reader = new StreamReader(request.Body);
            var text = await reader.ReadToEndAsync(ct);
            if (string.IsNullOrWhiteSpace(text))
                return Problems.BadRequest("the body must be an intent document (YAML or JSON)");

            long? baseVersion = null;
            if (request.Query.TryGetValue("baseVersion", out var b))
            {
                if (!long.TryParse(b, out var parsed) || parsed < 0)
                    return Problems.BadRequest($"baseVersion '{b}' is not a version number");
                baseVersion = parsed;
            }
            var author = request.Headers["X-Fabric-Author"].FirstOrDefault() ?? "http";

            var reply = await store.ActorRef.Ask<object>(new ProposeChange(text, baseVersion, author), AskTimeout, ct);
            return reply switch
            {
                ChangeAccepted a => Results.Accepted($"/changes/{a.ChangeId}",
                    new ProposalView(a.ChangeId, "proposed", a.BaseVersion, $"/changes/{a.ChangeId}")),
                ChangeUnchanged u => Results.Ok(new UnchangedView("unchanged", u.Version)),
                ChangeRefused { Kind: RefusalKind.StaleBaseVersion } r => Problems.Conflict(r.Reason),
                ChangeRefused r => Problems.BadRequest(r.Reason, new Dictionary<string, object?>
                {
                    ["errors"] = r.Problems.Select(p => new { line = p.Line, column = p.Column, field = p.Field, reason = p.Reason }).ToList(),
                }),
                _ => Results.StatusCode(500),
            };
        }).RequireToken().Accepts<string>("application/yaml", "application/json", "text/plain")
            .WithSummary("Propose a whole intent document; it is verified on ghost-shadow before it commits");

        app.MapGet("/changes", async (int? limit, IRequiredActor<ConfigStoreActor> store, CancellationToken ct) =>
        {
            var list = await store.ActorRef.Ask<ChangeList>(new GetChanges(Math.Clamp(limit ?? 50, 1, 500)), AskTimeout, ct);
            return Results.Ok(list.Changes.Select(c => View(c, withDocument: false)).ToList());
        }).WithSummary("Recent changes, newest first");

        app.MapGet("/changes/{id:long}", async (long id, IRequiredActor<ConfigStoreActor> store, CancellationToken ct) =>
        {
            var reply = await store.ActorRef.Ask<object>(new GetChangeDetail(id), AskTimeout, ct);
            return reply is ChangeDetail d ? Results.Ok(View(d)) : Problems.NotFound($"no change {id}");
        }).WithSummary("One change: status (proposed, verifying, committed, rejected), findings with the failing probes' paths, the diff against main, progress, document");
    }

    private static ChangeView View(ChangeRecord c, bool withDocument) => new(
        c.ChangeId, c.Status.ToString().ToLowerInvariant(), c.BaseVersion, c.Author, c.ProposedAt,
        c.Verifier, Findings(c, null), c.DecidedAt, c.CommittedVersion, withDocument ? Json(c.Document) : null);

    private static ChangeView View(ChangeDetail d)
    {
        var c = d.Change;
        var r = d.Report;
        return new ChangeView(
            c.ChangeId, d.Verifying ? "verifying" : c.Status.ToString().ToLowerInvariant(), c.BaseVersion, c.Author, c.ProposedAt,
            c.Verifier, Findings(c, r), c.DecidedAt, c.CommittedVersion, Json(c.Document))
        {
            Diff = r?.Diff.Select(x => new DiffView(x.Probe, x.Before, x.After)).ToList(),
            Placement = r?.Placement,
            Progress = d.Progress,
            Ghost = r is null ? null : new GhostSummaryView(r.Verified, r.Probes, r.ChecksPassed, r.ChecksFailed, r.Seconds),
        };
    }

    /// <summary>The ghost report's findings; a change decided without one (stale, legacy) lists its verdict lines.</summary>
    private static IReadOnlyList<FindingView> Findings(ChangeRecord c, Fabric.Messages.Ghost.GhostReport? r)
    {
        var list = r?.Findings.Select(f => new FindingView(f.Check, f.Reason, f.Path)).ToList() ?? [];
        var reported = r?.Findings.Select(f => $"{f.Check}: {f.Reason}").ToHashSet() ?? [];
        foreach (var line in c.Findings)
        {
            if (reported.Contains(line) || (r is { Verified: true } && line.StartsWith("verdict:", StringComparison.Ordinal))) continue;
            list.Add(new FindingView(line.StartsWith("stale:", StringComparison.Ordinal) ? "stale" : c.Verifier ?? "verifier", line, []));
        }
        return list;
    }

    private static JsonElement? Json(string document) =>
        string.IsNullOrEmpty(document) ? null : JsonDocument.Parse(document).RootElement.Clone();
}
