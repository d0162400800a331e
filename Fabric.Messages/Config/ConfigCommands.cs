using System.Collections.Immutable;

namespace Fabric.Messages.Config;

/// <summary>Marker for requests handled by the cluster's config store.</summary>
public interface IConfigCommand : IFabricMessage { }

/// <summary>
/// Propose a new desired intent. <paramref name="Document"/> is the canonical JSON of a whole
/// intent document (<c>IntentJson.Write</c>), parsed and validated before it is sent: the store
/// never parses, so no document can hold it up (<c>IntentNormalizer</c> does it at the edge).
/// A change is declarative: the store diffs it against the committed intent.
/// <paramref name="BaseVersion"/> is the intent version the author wrote against; when set and
/// stale the proposal is refused (HTTP 409). <paramref name="IdempotencyKey"/> is journaled with
/// the proposal: the same key again returns the original change instead of a second one.
/// <paramref name="NotAfter"/> is when the sender stops waiting for the answer: a proposal the
/// store reads later is refused (<see cref="RefusalKind.Expired"/>), so a sender that gave up
/// never sees its proposal journaled behind its back. <paramref name="Attempt"/> names this one
/// sending, so a sender can abandon it (<see cref="FindChangeByKey"/>) and still retry the key. Replies <see cref="ChangeAccepted"/>,
/// <see cref="ChangeUnchanged"/> or <see cref="ChangeRefused"/>; a refused proposal journals nothing.
/// </summary>
public sealed record ProposeChange(
    string Document,
    long? BaseVersion,
    string Author,
    string? IdempotencyKey = null,
    DateTimeOffset? NotAfter = null,
    string? Attempt = null) : IConfigCommand;

/// <summary>
/// Asks which change was proposed with <paramref name="IdempotencyKey"/>; replies the
/// <see cref="ChangeRecord"/> or <see cref="NoChangeForKey"/>. When there is none, the store
/// refuses the sending <paramref name="AbandonedAttempt"/> should it still arrive: its sender
/// stopped waiting and is told it was not journaled. A new attempt with the key is proposed as usual.
/// </summary>
public sealed record FindChangeByKey(string IdempotencyKey, string? AbandonedAttempt = null) : IConfigCommand;

/// <summary>Reply: no change was journaled with the key, and none will be.</summary>
public sealed record NoChangeForKey(string IdempotencyKey) : IFabricMessage;

/// <summary>A ghost-shadow verifier's judgement on a proposed change.</summary>
public sealed record SubmitVerdict(
    long ChangeId,
    bool Verified,
    string Verifier,
    ImmutableArray<string> Findings,
    Ghost.GhostReport? Report = null) : IConfigCommand;

/// <summary>
/// Reply: the proposal was journaled and sent to the ghost-shadow role for verification.
/// <paramref name="Replayed"/>: it was journaled earlier, under the same idempotency key.
/// </summary>
public sealed record ChangeAccepted(long ChangeId, long BaseVersion, bool Replayed = false) : IFabricMessage;

/// <summary>Reply: the proposal equals the committed intent; nothing was journaled.</summary>
public sealed record ChangeUnchanged(long Version) : IFabricMessage;

public enum RefusalKind
{
    /// <summary>The document does not parse or validate (HTTP 400).</summary>
    InvalidDocument = 1,
    /// <summary>The proposal was written against an older intent version (HTTP 409).</summary>
    StaleBaseVersion = 2,
    /// <summary>The idempotency key was used before for another document (HTTP 422).</summary>
    IdempotencyKeyReused = 3,
    /// <summary>The proposal reached the store after its sender stopped waiting; not journaled (HTTP 503).</summary>
    Expired = 4,
}

/// <summary>One problem found in a document, with where it is.</summary>
public sealed record DocumentProblem(int Line, int Column, string Field, string Reason) : IFabricMessage
{
    public override string ToString() => $"line {Line}, {Field}: {Reason}";
}

/// <summary>
/// Reply: the proposal was refused whole; nothing was journaled. <paramref name="Problems"/> are
/// the first problems found; <paramref name="OmittedProblems"/> counts the others.
/// </summary>
public sealed record ChangeRefused(
    RefusalKind Kind,
    string Reason,
    ImmutableArray<DocumentProblem> Problems,
    int OmittedProblems = 0) : IFabricMessage;

/// <summary>
/// A node's guardian offers the intent it runs because the config store answered with an older
/// version: the singleton moved to a node whose own database (SQLite) is behind. The store adopts
/// a newer offer as <see cref="IntentAdopted"/>; an older or equal one is ignored.
/// </summary>
public sealed record OfferIntent(long Version, long ChangeId, string Document, string Node) : IConfigCommand;

/// <summary>
/// A config store that just started (the singleton moved, or the cluster restarted) asks every
/// fabric node's guardian which intent it runs before it accepts a proposal: with one database
/// per node (SQLite) its own journal may be behind the cluster. Each guardian answers with an
/// <see cref="OfferIntent"/> (an empty document when it runs nothing yet).
/// </summary>
public sealed record RequestIntentOffer : IConfigCommand
{
    public static RequestIntentOffer Instance { get; } = new();
}
