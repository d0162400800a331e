using System.Collections.Immutable;

namespace Fabric.Messages.Config;

/// <summary>Ask the config store for the committed intent; replies <see cref="CurrentIntent"/>.</summary>
public sealed record GetIntent : IConfigCommand
{
    public static readonly GetIntent Instance = new();
}

/// <summary>The committed intent. Version 0 is the empty intent before any commit.</summary>
public sealed record CurrentIntent(long Version, long ChangeId, string Document) : IFabricMessage;

/// <summary>Ask for the most recent changes (newest first); replies <see cref="ChangeList"/>.</summary>
public sealed record GetChanges(int Limit) : IConfigCommand;

public sealed record ChangeList(ImmutableArray<ChangeRecord> Changes) : IFabricMessage;

/// <summary>Ask for one change; replies <see cref="ChangeRecord"/> or <see cref="ChangeNotFound"/>.</summary>
public sealed record GetChange(long ChangeId) : IConfigCommand;

public sealed record ChangeNotFound(long ChangeId) : IFabricMessage;

public enum ChangeStatus
{
    /// <summary>Journaled, waiting for a ghost-shadow verdict.</summary>
    Proposed = 1,
    /// <summary>Verified by ghost-shadow; committing.</summary>
    Verified = 2,
    /// <summary>Refused by a verifier or stale; never reached main.</summary>
    Rejected = 3,
    /// <summary>Part of the intent.</summary>
    Committed = 4,
}

/// <summary>What the store knows of one change.</summary>
public sealed record ChangeRecord(
    long ChangeId,
    ChangeStatus Status,
    long BaseVersion,
    string Author,
    DateTimeOffset ProposedAt,
    string? Verifier,
    ImmutableArray<string> Findings,
    DateTimeOffset? DecidedAt,
    long? CommittedVersion,
    string Document) : IFabricMessage;

/// <summary>Ask for one change with its ghost report and verification progress; replies <see cref="ChangeDetail"/> or <see cref="ChangeNotFound"/>.</summary>
public sealed record GetChangeDetail(long ChangeId) : IConfigCommand;

/// <summary>
/// A change as operators see it: the record, the ghost verifier's report once there is one, and
/// the verification's progress lines so far. <paramref name="Verifying"/> is true while a
/// proposed change is on the ghost network.
/// </summary>
public sealed record ChangeDetail(
    ChangeRecord Change,
    Ghost.GhostReport? Report,
    ImmutableArray<string> Progress,
    bool Verifying) : IFabricMessage;
