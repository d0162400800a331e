using System.Collections.Immutable;
using Fabric.Messages.Config;

namespace Fabric.Actors.Config;

/// <summary>
/// A document after parsing, before it goes to the store: its canonical JSON, or why it was
/// refused (the first problems, and how many more there were). <see cref="DeclaredBaseVersion"/>
/// is a <c>baseVersion</c> written inside the document itself.
/// </summary>
public sealed record NormalizedDocument(
    string? Canonical,
    ImmutableArray<DocumentProblem> Problems,
    long? DeclaredBaseVersion,
    int OmittedProblems = 0)
{
    public bool IsValid => Canonical is not null && Problems.IsEmpty;

    /// <summary>The refusal to answer for an invalid document.</summary>
    public ChangeRefused ToRefusal()
    {
        var reason = Problems.IsEmpty ? "the document is not valid" : Problems[0].ToString();
        return new ChangeRefused(RefusalKind.InvalidDocument, reason, Problems, OmittedProblems);
    }
}

/// <summary>What the store decides for a command: events to journal and the reply to send.</summary>
public sealed record Decision(ImmutableArray<IConfigEvent> Events, object? Reply)
{
    public static Decision Nothing { get; } = new(ImmutableArray<IConfigEvent>.Empty, null);
    public static Decision ReplyOnly(object reply) => new(ImmutableArray<IConfigEvent>.Empty, reply);
}

/// <summary>
/// The config store's state: the committed intent, the recent changes and the idempotency keys
/// they were proposed with. Pure functions: <see cref="Decide(ProposeChange, DateTimeOffset, bool)"/>
/// turns a command into events, <see cref="Apply"/> folds an event in. No I/O, no Akka, and no
/// parsing: proposals arrive as canonical JSON.
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

    /// <summary>How many changes the state keeps in memory (older ones stay in the journal; <c>fabric.config-store.retained-changes</c>).</summary>
    public int RetainedChanges { get; init; } = ConfigStoreSettings.Default.RetainedChanges;

    /// <summary>Most memory the retained changes' documents may take (<c>fabric.config-store.retained-bytes</c>).</summary>
    public long RetainedBytes { get; init; } = ConfigStoreSettings.Default.RetainedBytes;

    /// <summary>The state with both retention limits of <paramref name="settings"/>.</summary>
    public ConfigState RetainedAs(ConfigStoreSettings settings) =>
        this with { RetainedChanges = settings.RetainedChanges, RetainedBytes = settings.RetainedBytes };

    public static ConfigState Empty { get; } =
        new(0, 0, "", 0, ImmutableSortedDictionary<long, ChangeRecord>.Empty);

    /// <summary>The change each retained idempotency key was proposed as.</summary>
    public ImmutableDictionary<string, long> Keys { get; init; } = ImmutableDictionary<string, long>.Empty;

    public IEnumerable<ChangeRecord> Pending =>
        Changes.Values.Where(c => c.Status == ChangeStatus.Proposed);

    /// <summary>
    /// A proposal (canonical JSON). A key seen before answers with its change, journaling nothing;
    /// a proposal past its <see cref="ProposeChange.NotAfter"/>, or an attempt its sender
    /// <paramref name="abandoned"/> (asked for its key and found nothing), is refused as expired:
    /// its sender has already been told it was not journaled.
    /// </summary>
    public Decision Decide(ProposeChange command, DateTimeOffset now, bool abandoned = false)
    {
        if (command.IdempotencyKey is { } key && Keys.TryGetValue(key, out var original) && Changes.TryGetValue(original, out var earlier))
            return Decision.ReplyOnly(earlier.Document == command.Document
                ? new ChangeAccepted(original, earlier.BaseVersion, Replayed: true)
                : new ChangeRefused(RefusalKind.IdempotencyKeyReused,
                    $"the idempotency key was used for change {original} with another document; use a new key for a new document",
                    ImmutableArray<DocumentProblem>.Empty));

        if (abandoned || (command.NotAfter is { } notAfter && now > notAfter))
            return Decision.ReplyOnly(new ChangeRefused(RefusalKind.Expired,
                "the proposal reached the config store after its sender stopped waiting; it was not journaled",
                ImmutableArray<DocumentProblem>.Empty));

        if (command.BaseVersion is { } wanted && wanted != Version)
            return Decision.ReplyOnly(new ChangeRefused(
                RefusalKind.StaleBaseVersion,
                $"the change was written against intent version {wanted}, the intent is at version {Version}",
                ImmutableArray<DocumentProblem>.Empty));

        if (command.Document == Document)
            return Decision.ReplyOnly(new ChangeUnchanged(Version));

        var id = LastChangeId + 1;
        var proposed = new ChangeProposed(id, Version, command.Document, command.Author, now);
        var events = command.IdempotencyKey is { } k
            ? ImmutableArray.Create<IConfigEvent>(proposed, new ChangeKeyed(id, k, now))
            : ImmutableArray.Create<IConfigEvent>(proposed);
        return new Decision(events, new ChangeAccepted(id, Version));
    }

    /// <summary>The change proposed with <paramref name="key"/>, if it is still retained.</summary>
    public ChangeRecord? ChangeForKey(string key) =>
        Keys.TryGetValue(key, out var id) && Changes.TryGetValue(id, out var change) ? change : null;

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
        ChangeProposed e => WithChanges(Trim(Changes.SetItem(e.ChangeId, new ChangeRecord(
                e.ChangeId, ChangeStatus.Proposed, e.BaseVersion, e.Author, e.At,
                null, ImmutableArray<string>.Empty, null, null, e.Document)))) with
        {
            LastChangeId = Math.Max(LastChangeId, e.ChangeId),
        },
        ChangeKeyed e => Changes.ContainsKey(e.ChangeId) ? this with { Keys = Keys.SetItem(e.IdempotencyKey, e.ChangeId) } : this,
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

    public ConfigStoreKeyedSnapshot ToSnapshot() => new(
        new ConfigStoreSnapshot(Version, CommittedChangeId, Document, LastChangeId, Changes.Values.ToImmutableArray()),
        Keys.OrderBy(k => k.Value).Select(k => new ChangeKeyed(k.Value, k.Key, Changes[k.Value].ProposedAt)).ToImmutableArray(),
        Reports.Values.Where(r => Changes.ContainsKey(r.ChangeId)).ToImmutableArray());

    public static ConfigState FromSnapshot(ConfigStoreSnapshot s) =>
        new(s.Version, s.CommittedChangeId, s.Document, s.LastChangeId,
            s.Changes.ToImmutableSortedDictionary(c => c.ChangeId, c => c));

    public static ConfigState FromSnapshot(ConfigStoreKeyedSnapshot s) =>
        FromSnapshot(s.State) with
        {
            Keys = s.Keys.ToImmutableDictionary(k => k.IdempotencyKey, k => k.ChangeId),
            Reports = s.Reports.IsDefault ? ImmutableSortedDictionary<long, ChangeReported>.Empty : s.Reports.ToImmutableSortedDictionary(r => r.ChangeId, r => r),
        };

    public CurrentIntent ToCurrentIntent() => new(Version, CommittedChangeId, Document);

    /// <summary>The state with <paramref name="changes"/>; keys of changes no longer retained are dropped with them.</summary>
    private ConfigState WithChanges(ImmutableSortedDictionary<long, ChangeRecord> changes) =>
        changes.Count == Changes.Count + 1 || Keys.IsEmpty
            ? this with { Changes = changes }
            : this with { Changes = changes, Keys = Keys.RemoveRange(Keys.Where(k => !changes.ContainsKey(k.Value)).Select(k => k.Key)) };

    private ConfigState Update(long id, Func<ChangeRecord, ChangeRecord> change) =>
        Changes.TryGetValue(id, out var record) ? this with { Changes = Changes.SetItem(id, change(record)) } : this;

    /// <summary>
    /// Drops the oldest decided changes beyond <see cref="RetainedChanges"/>, or while their
    /// documents take more than <see cref="RetainedBytes"/>; pending ones stay.
    /// </summary>
    private ImmutableSortedDictionary<long, ChangeRecord> Trim(ImmutableSortedDictionary<long, ChangeRecord> changes)
    {
        long bytes = changes.Values.Sum(DocumentBytes);
        if (changes.Count <= RetainedChanges && bytes <= RetainedBytes) return changes;
        var count = changes.Count;
        var drop = new List<long>();
        foreach (var change in changes.Values)
        {
            if (count <= RetainedChanges && bytes <= RetainedBytes) break;
            if (change.Status == ChangeStatus.Proposed) continue;
            drop.Add(change.ChangeId);
            count--;
            bytes -= DocumentBytes(change);
        }

        return changes.RemoveRange(drop);
    }

    private static long DocumentBytes(ChangeRecord change) => 2L * change.Document.Length;
}
