using System.Collections.Immutable;

namespace Fabric.Messages.Config;

/// <summary>Marker for requests handled by the cluster's config store.</summary>
public interface IConfigCommand : IFabricMessage { }

/// <summary>
/// Propose a new desired intent. <paramref name="Document"/> is a whole intent document (YAML or
/// JSON): a change is declarative, the store diffs it against the committed intent.
/// <paramref name="BaseVersion"/> is the intent version the author wrote against; when set and
/// stale the proposal is refused (HTTP 409). Replies <see cref="ChangeAccepted"/>,
/// <see cref="ChangeUnchanged"/> or <see cref="ChangeRefused"/>; a refused proposal journals nothing.
/// </summary>
public sealed record ProposeChange(string Document, long? BaseVersion, string Author) : IConfigCommand;

/// <summary>A ghost-shadow verifier's judgement on a proposed change.</summary>
public sealed record SubmitVerdict(
    long ChangeId,
    bool Verified,
    string Verifier,
    ImmutableArray<string> Findings,
    Ghost.GhostReport? Report = null) : IConfigCommand;

/// <summary>Reply: the proposal was journaled and sent to the ghost-shadow role for verification.</summary>
public sealed record ChangeAccepted(long ChangeId, long BaseVersion) : IFabricMessage;

/// <summary>Reply: the proposal equals the committed intent; nothing was journaled.</summary>
public sealed record ChangeUnchanged(long Version) : IFabricMessage;

public enum RefusalKind
{
    /// <summary>The document does not parse or validate (HTTP 400).</summary>
    InvalidDocument = 1,
    /// <summary>The proposal was written against an older intent version (HTTP 409).</summary>
    StaleBaseVersion = 2,
}

/// <summary>One problem found in a document, with where it is.</summary>
public sealed record DocumentProblem(int Line, int Column, string Field, string Reason) : IFabricMessage
{
    public override string ToString() => $"line {Line}, {Field}: {Reason}";
}

/// <summary>Reply: the proposal was refused whole; nothing was journaled.</summary>
public sealed record ChangeRefused(
    RefusalKind Kind,
    string Reason,
    ImmutableArray<DocumentProblem> Problems) : IFabricMessage;

/// <summary>
/// A node's guardian offers the intent it runs because the config store answered with an older
/// version: the singleton moved to a node whose own database (SQLite) is behind. The store adopts
/// a newer offer as <see cref="IntentAdopted"/>; an older or equal one is ignored.
/// </summary>
public sealed record OfferIntent(long Version, long ChangeId, string Document, string Node) : IConfigCommand;
