using System.Text.Json;
using Akka.Actor;
using Akka.Hosting;
using Fabric.Actors.Config;
using Fabric.Actors.Guardian;
using Fabric.Actors.Settings;
using Fabric.Messages.Config;
using Fabric.Messages.Intent;
using Fabric.Messages.Node;
using Microsoft.AspNetCore.Http.Features;

namespace Fabric.Node.Management;

/// <summary>The committed intent, this node's applied intent, and the change workflow.</summary>
public static class IntentEndpoints
{
    public sealed record IntentView(long Version, long ChangeId, JsonElement? Document);
    public sealed record AppliedView(string Node, long Version, long ChangeId, IReadOnlyList<HostedElement> Elements, IReadOnlyList<RestartingElement> Restarting);
    public sealed record ProposalView(long ChangeId, string Status, long BaseVersion, string Location, string IdempotencyKey, bool Replayed);
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

    /// <summary>How long the intent and change routes wait for the config store or the guardian (<c>fabric.management.store-timeout</c>).</summary>
    private static TimeSpan StoreTimeout(ActorSystem system) => FabricSettings.Get(system).Management.StoreTimeout;

    public static void MapIntentEndpoints(this WebApplication app)
    {
        app.MapGet("/intent", async (IRequiredActor<ConfigStoreActor> store, ActorSystem system, CancellationToken ct) =>
        {
            var intent = await store.ActorRef.Ask<CurrentIntent>(GetIntent.Instance, StoreTimeout(system), ct);
            return Results.Ok(new IntentView(intent.Version, intent.ChangeId, Json(intent.Document)));
        }).WithSummary("The committed intent (canonical JSON)");

        app.MapGet("/intent/applied", async (ActorRegistry registry, ActorSystem system, CancellationToken ct) =>
        {
            if (!registry.TryGet<FabricGuardianActor>(out var guardian))
                return Problems.NotFound("this node has no fabric role, so it applies no intent");
            var applied = await guardian.Ask<AppliedIntent>(GetAppliedIntent.Instance, StoreTimeout(system), ct);
            return Results.Ok(new AppliedView(applied.Node, applied.Version, applied.ChangeId, applied.Elements, applied.Restarting));
        }).WithSummary("The intent version this node runs, the elements it hosts, and those whose start failed (restarting, with lastError)");

        app.MapPost("/changes", ProposeAsync).RequireToken()
            .Accepts<string>("application/yaml", "application/json", "text/plain")
            .WithSummary("Propose a whole intent document; it is verified on ghost-shadow before it commits. " +
                         "Send an Idempotency-Key header to retry safely: the same key returns the original change.");

        app.MapGet("/changes", async (int? limit, IRequiredActor<ConfigStoreActor> store, ActorSystem system, CancellationToken ct) =>
        {
            var list = await store.ActorRef.Ask<ChangeList>(new GetChanges(Math.Clamp(limit ?? 50, 1, 500)), StoreTimeout(system), ct);
            return Results.Ok(list.Changes.Select(c => View(c, withDocument: false)).ToList());
        }).WithSummary("Recent changes, newest first");

        app.MapGet("/changes/{id}", async (string id, IRequiredActor<ConfigStoreActor> store, ActorSystem system, CancellationToken ct) =>
        {
            if (!long.TryParse(id, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var number) || number < 1)
                return Problems.BadRequest($"'{(id.Length <= 32 ? id : id[..32] + "…")}' is not a change id (a number from 1)");
            var reply = await store.ActorRef.Ask<object>(new GetChangeDetail(number), StoreTimeout(system), ct);
            return reply is ChangeDetail d ? Results.Ok(View(d)) : Problems.NotFound($"no change {number}");
        }).WithSummary("One change: status (proposed, verifying, committed, rejected), findings with the failing probes' paths, the diff against main, progress, document");
    }

    /// <summary>
    /// <c>POST /changes</c>. The document is read (at most <c>fabric.intent.max-bytes</c>, 413
    /// beyond), parsed and validated here on the thread pool within the intent limits (400 with
    /// the first errors and a count of the rest), and only its canonical JSON goes to the store.
    /// 202 only when the store journaled it; 503 says whether it is known not to be journaled, and
    /// carries the Idempotency-Key to retry with (one is made up when the client sent none).
    /// </summary>
    private static async Task<IResult> ProposeAsync(
        HttpContext http, IRequiredActor<ConfigStoreActor> store, IntentParseLimits limits, ManagementSettings settings,
        ILoggerFactory logs, CancellationToken ct)
    {
        var request = http.Request;
        var log = logs.CreateLogger("fabric-node.changes");
        string key;
        if (request.Headers.TryGetValue(IdempotencyKeyHeader, out var given))
        {
            if (given.Count != 1 || !IsIdempotencyKey(given[0]))
                return Problems.BadRequest($"{IdempotencyKeyHeader} must be one value of 1..{MaxIdempotencyKey} visible ASCII characters");
            key = given[0]!;
        }
        else
        {
            key = "srv-" + Guid.NewGuid().ToString("N");
        }

        long? baseVersion = null;
        if (request.Query.TryGetValue("baseVersion", out var b))
        {
            if (!long.TryParse(b, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var parsed))
                return Problems.BadRequest("baseVersion is not a version number");
            baseVersion = parsed;
        }
        var author = Author(request.Headers["X-Fabric-Author"].FirstOrDefault());

        if (request.ContentLength > limits.MaxBytes)
            return TooLarge(limits);
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodyLimit)
            bodyLimit.MaxRequestBodySize = limits.MaxBytes;
        var body = await ReadBodyAsync(request, limits.MaxBytes, ct);
        if (body is null) return TooLarge(limits);
        if (body.Length == 0 || body.AsSpan().IndexOfAnyExcept(" \t\r\n"u8) < 0)
            return Problems.BadRequest("the body must be an intent document (YAML or JSON)");

        var document = await Task.Run(() => IntentNormalizer.Normalize(body, limits), ct);
        if (!document.IsValid)
        {
            var refusal = document.ToRefusal();
            var first = refusal.Problems.FirstOrDefault();
            // Never the reason: it may quote the document, and the log is no place for its content.
            log.LogInformation("Proposal from {Author} refused: {Count} problem(s) in the document, first at line {Line}, column {Column}",
                author, refusal.Problems.Length + refusal.OmittedProblems, first?.Line, first?.Column);
            return InvalidDocument(refusal);
        }

        var proposer = new ChangeProposer(store.ActorRef, settings.ProposeTimeout, settings.LookupTimeout, settings.ProposeMargin);
        var reply = await proposer.ProposeAsync(document.ToProposal(baseVersion, author, key), ct);
        http.Response.Headers[IdempotencyKeyHeader] = key;
        return reply switch
        {
            ChangeAccepted a => Results.Accepted($"/changes/{a.ChangeId}",
                new ProposalView(a.ChangeId, "proposed", a.BaseVersion, $"/changes/{a.ChangeId}", key, a.Replayed)),
            ChangeUnchanged u => Results.Ok(new UnchangedView("unchanged", u.Version)),
            ChangeRefused { Kind: RefusalKind.StaleBaseVersion } r => Problems.Conflict(r.Reason),
            ChangeRefused { Kind: RefusalKind.IdempotencyKeyReused } r => Problems.Status(StatusCodes.Status422UnprocessableEntity, r.Reason),
            ChangeRefused { Kind: RefusalKind.Expired } r => NotJournaled(http, key, r.Reason),
            ChangeRefused r => InvalidDocument(r),
            StoreSilent { KnownNotJournaled: true } => NotJournaled(http, key,
                "the config store did not answer in time and has not journaled the proposal; it will not. Retry"),
            StoreSilent => Unknown(http, key),
            _ => Problems.Status(StatusCodes.Status500InternalServerError, "the config store answered something unexpected"),
        };
    }

    public const string IdempotencyKeyHeader = "Idempotency-Key";

    public const int MaxIdempotencyKey = 128;

    private static bool IsIdempotencyKey(string? key) =>
        key is { Length: > 0 and <= MaxIdempotencyKey } && key.All(c => c is > ' ' and <= '~');

    private static string Author(string? header)
    {
        if (string.IsNullOrWhiteSpace(header)) return "http";
        var clean = new string(header.Where(c => !char.IsControl(c)).Take(120).ToArray()).Trim();
        return clean.Length == 0 ? "http" : clean;
    }

    /// <summary>The body, or null when it is longer than <paramref name="max"/> bytes (a chunked body has no Content-Length to refuse up front).</summary>
    private static async Task<byte[]?> ReadBodyAsync(HttpRequest request, long max, CancellationToken ct)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[64 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > max) return null;
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    private static IResult TooLarge(IntentParseLimits limits) => Problems.Status(StatusCodes.Status413PayloadTooLarge,
        $"an intent document may be at most {limits.MaxBytes} bytes (fabric.intent.max-bytes)");

    private static IResult InvalidDocument(ChangeRefused refusal) => Problems.BadRequest(
        refusal.OmittedProblems == 0 ? refusal.Reason : $"{refusal.Reason} (and {refusal.Problems.Length + refusal.OmittedProblems - 1} more problems)",
        new Dictionary<string, object?>
        {
            ["errors"] = refusal.Problems.Select(p => new { line = p.Line, column = p.Column, field = p.Field, reason = p.Reason }).ToList(),
            ["omittedErrors"] = refusal.OmittedProblems,
        });

    private static IResult NotJournaled(HttpContext http, string key, string reason)
    {
        http.Response.Headers.RetryAfter = "1";
        return Problems.Unavailable(reason, new Dictionary<string, object?> { ["journaled"] = false, ["idempotencyKey"] = key });
    }

    private static IResult Unknown(HttpContext http, string key)
    {
        http.Response.Headers.RetryAfter = "2";
        return Problems.Unavailable(
            $"the config store does not answer, so whether the proposal was journaled is not known yet. Retry with '{IdempotencyKeyHeader}: {key}': " +
            "if it was journaled you get that change back, never a second one",
            new Dictionary<string, object?> { ["journaled"] = null, ["idempotencyKey"] = key });
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
