using System.Collections.Immutable;

namespace Fabric.Messages.Config;

/// <summary>
/// Events journaled by the config store. Their type names are a stable contract: Hyperion writes
/// them into every journal row, so renaming or moving one breaks recovery.
/// </summary>
public interface IConfigEvent : IFabricMessage
{
    long ChangeId { get; }
}

/// <summary>A change was proposed; <paramref name="Document"/> is the canonical JSON of the whole intent.</summary>
public sealed record ChangeProposed(
    long ChangeId,
    long BaseVersion,
    string Document,
    string Author,
    DateTimeOffset At) : IConfigEvent;

/// <summary>
/// The idempotency key a change was proposed with; journaled in the same atomic write as its
/// <see cref="ChangeProposed"/> (a separate event, so journal rows written before keys existed
/// still read).
/// </summary>
public sealed record ChangeKeyed(long ChangeId, string IdempotencyKey, DateTimeOffset At) : IConfigEvent;

/// <summary>A ghost-shadow verifier found the change safe.</summary>
public sealed record ChangeVerified(
    long ChangeId,
    string Verifier,
    ImmutableArray<string> Findings,
    DateTimeOffset At) : IConfigEvent;

/// <summary>The change was refused by a verifier, or went stale before it could commit.</summary>
public sealed record ChangeRejected(
    long ChangeId,
    string Verifier,
    ImmutableArray<string> Findings,
    DateTimeOffset At) : IConfigEvent;

/// <summary>The change became the intent, as <paramref name="Version"/>.</summary>
public sealed record ChangeCommitted(long ChangeId, long Version, DateTimeOffset At) : IConfigEvent;

/// <summary>
/// The store took over a newer committed intent offered by <paramref name="FromNode"/>
/// (see <see cref="OfferIntent"/>). Changes journaled only by the previous store are not listed.
/// </summary>
public sealed record IntentAdopted(
    long ChangeId,
    long Version,
    string Document,
    string FromNode,
    DateTimeOffset At) : IConfigEvent;

/// <summary>
/// The ghost verifier's full report on a change (findings with paths, the diff against main,
/// where each ghost copy ran), journaled just before the verdict it explains.
/// </summary>
public sealed record ChangeReported(long ChangeId, Ghost.GhostReport Report, DateTimeOffset At) : IConfigEvent;
