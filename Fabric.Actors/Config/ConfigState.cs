using System.Collections.Immutable;
using Fabric.Messages.Config;

namespace Fabric.Actors.Config;

/// <summary>
/// A document as the store sees it after parsing: its canonical JSON, or why it was refused.
/// <see cref="DeclaredBaseVersion"/> is a <c>baseVersion</c> written inside the document itself.
/// </summary>
public sealed record NormalizedDocument(
    string? Canonical,
    ImmutableArray<DocumentProblem> Problems,
    long? DeclaredBaseVersion)
{
    public bool IsValid => Canonical is not null && Problems.IsEmpty;
}

/// <summary>What the store decides for a command: events to journal and the reply to send.</summary>
public sealed record Decision(ImmutableArray<IConfigEvent> Events, object? Reply)
{
    public static Decision Nothing { get; } = new(ImmutableArray<IConfigEvent>.Empty, null);
    public static Decision ReplyOnly(object reply) => new(ImmutableArray<IConfigEvent>.Empty, reply);
}

/// <summary>
/// The config store's state: the committed intent and the recent changes. Pure functions:
/// <see cref="Decide(ProposeChange, Func{string, NormalizedDocument}, DateTimeOffset)"/> turns a
/// command into events, <see cref="Apply"/> folds an event in. No I/O, no Akka.
/// </summary>
public sealed record ConfigState(
    long Version,
    long CommittedChangeId,
    string Document,
    long LastChangeId,
    ImmutableSortedDictionary<long, ChangeRecord> Changes)
{
    /// <summary>Ghost reports of the retained changes, by change id.</summary>
    public ImmutableSortedDictionary<long, ChangeReported> Reports { get; init; } = ImmutableSortedDictionary<long, ChangeReported>.Empty;

    /// <summary>How many changes the state keeps in memory (older ones stay in the journal).</summary>
    public const int RetainedChanges = 500;

    public static ConfigState Empty { get; } =
        new(0, 0, "", 0, ImmutableSortedDictionary<long, ChangeRecord>.Empty);

    public IEnumerable<ChangeRecord> Pending =>
        Changes.Values.Where(c => c.Status == ChangeStatus.Proposed);

    public Decision Decide(ProposeChange command, Func<string, NormalizedDocument> normalize, DateTimeOffset now)
    {
        var document = normalize(command.Document);
        if (!document.IsValid)
        {
            var problems = document.Problems;
            var reason = problems.IsEmpty ? "the document is not valid" : problems[0].ToString();
            return Decision.ReplyOnly(new ChangeRefused(RefusalKind.InvalidDocument, reason, problems));
        }

        var declaredBase = command.BaseVersion ?? document.DeclaredBaseVersion;
        if (declaredBase is { } wanted && wanted != Version)
            return Decision.ReplyOnly(new ChangeRefused(
                RefusalKind.StaleBaseVersion,
                $"the change was written against intent version {wanted}, the intent is at version {Version}",
                ImmutableArray<DocumentProblem>.Empty));

        if (document.Canonical == Document)
            return Decision.ReplyOnly(new ChangeUnchanged(Version));

        var id = LastChangeId + 1;
        var proposed = new ChangeProposed(id, Version, document.Canonical!, command.Author, now);
        return new Decision(ImmutableArray.Create<IConfigEvent>(proposed), new ChangeAccepted(id, Version));
    }

    /// <summary>
    /// A verdict on a pending change. A verified change commits only if the intent has not moved
    /// since it was proposed (optimistic concurrency); otherwise it is rejected as stale.
    /// Verdicts on a change that is no longer pending are ignored (several verifiers may answer).
    /// </summary>
    public Decision Decide(SubmitVerdict verdict, DateTimeOffset now)
    {
        if (!Changes.TryGetValue(verdict.ChangeId, out var change) || change.Status != ChangeStatus.Proposed)
            return Decision.Nothing;

        var report = verdict.Report is { } r
            ? ImmutableArray.Create<IConfigEvent>(new ChangeReported(verdict.ChangeId, r, now))
            : ImmutableArray<IConfigEvent>.Empty;
        if (!verdict.Verified)
            return new Decision(
                report.Add(new ChangeRejected(verdict.ChangeId, verdict.Verifier, verdict.Findings, now)),
                null);

        var verified = new ChangeVerified(verdict.ChangeId, verdict.Verifier, verdict.Findings, now);
        IConfigEvent outcome = change.BaseVersion == Version
            ? new ChangeCommitted(verdict.ChangeId, Version + 1, now)
            : new ChangeRejected(verdict.ChangeId, "config-store",
                ImmutableArray.Create($"stale: proposed on intent version {change.BaseVersion}, the intent moved to version {Version}"),
                now);
        return new Decision(report.AddRange(verified, outcome), null);
    }

    /// <summary>Adopts an offered intent only when it is newer than the one this store holds.</summary>
    public Decision Decide(OfferIntent offer, DateTimeOffset now) =>
        offer.Version > Version && !string.IsNullOrEmpty(offer.Document)
            ? new Decision(ImmutableArray.Create<IConfigEvent>(
                new IntentAdopted(offer.ChangeId, offer.Version, offer.Document, offer.Node, now)), null)
            : Decision.Nothing;

    public ConfigState Apply(IConfigEvent @event) => @event switch
    {
        ChangeProposed e => this with
        {
            LastChangeId = Math.Max(LastChangeId, e.ChangeId),
            Changes = Trim(Changes.SetItem(e.ChangeId, new ChangeRecord(
                e.ChangeId, ChangeStatus.Proposed, e.BaseVersion, e.Author, e.At,
                null, ImmutableArray<string>.Empty, null, null, e.Document))),
        },
        ChangeVerified e => Update(e.ChangeId, c => c with
        {
            Status = ChangeStatus.Verified, Verifier = e.Verifier, Findings = e.Findings, DecidedAt = e.At,
        }),
        ChangeRejected e => Update(e.ChangeId, c => c with
        {
            Status = ChangeStatus.Rejected,
            Verifier = c.Verifier ?? e.Verifier,
            Findings = c.Findings.AddRange(e.Findings),
            DecidedAt = e.At,
        }),
        ChangeCommitted e => Changes.TryGetValue(e.ChangeId, out var committed)
            ? Update(e.ChangeId, c => c with { Status = ChangeStatus.Committed, CommittedVersion = e.Version, DecidedAt = e.At })
                with { Version = e.Version, CommittedChangeId = e.ChangeId, Document = committed.Document }
            : this,
        ChangeReported e => Changes.ContainsKey(e.ChangeId) ? this with { Reports = Reports.SetItem(e.ChangeId, e) } : this,
        IntentAdopted e => this with
        {
            Version = e.Version,
            CommittedChangeId = e.ChangeId,
            Document = e.Document,
            LastChangeId = Math.Max(LastChangeId, e.ChangeId),
        },
        _ => this,
    };

    public ConfigStoreSnapshotV2 ToSnapshot() =>
        new(Version, CommittedChangeId, Document, LastChangeId, Changes.Values.ToImmutableArray(),
            Reports.Values.Where(r => Changes.ContainsKey(r.ChangeId)).ToImmutableArray());

    public static ConfigState FromSnapshot(ConfigStoreSnapshot s) =>
        new(s.Version, s.CommittedChangeId, s.Document, s.LastChangeId,
            s.Changes.ToImmutableSortedDictionary(c => c.ChangeId, c => c));

    public static ConfigState FromSnapshot(ConfigStoreSnapshotV2 s) =>
        new(s.Version, s.CommittedChangeId, s.Document, s.LastChangeId,
            s.Changes.ToImmutableSortedDictionary(c => c.ChangeId, c => c))
        {
            Reports = s.Reports.ToImmutableSortedDictionary(r => r.ChangeId, r => r),
        };

    public CurrentIntent ToCurrentIntent() => new(Version, CommittedChangeId, Document);

    private ConfigState Update(long id, Func<ChangeRecord, ChangeRecord> change) =>
        Changes.TryGetValue(id, out var record) ? this with { Changes = Changes.SetItem(id, change(record)) } : this;

    /// <summary>Drops the oldest decided changes beyond <see cref="RetainedChanges"/>; pending ones stay.</summary>
    private static ImmutableSortedDictionary<long, ChangeRecord> Trim(ImmutableSortedDictionary<long, ChangeRecord> changes)
    {
        if (changes.Count <= RetainedChanges) return changes;
        var excess = changes.Count - RetainedChanges;
        var drop = changes.Values.Where(c => c.Status != ChangeStatus.Proposed).Take(excess).Select(c => c.ChangeId);
        return changes.RemoveRange(drop);
    }
}
