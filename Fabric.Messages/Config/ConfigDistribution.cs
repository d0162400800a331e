namespace Fabric.Messages.Config;

/// <summary>Distributed pub-sub topics between the config store and the roles.</summary>
public static class ConfigTopics
{
    /// <summary>Proposed changes; only ghost-shadow nodes subscribe.</summary>
    public const string GhostProposals = "fabric.ghost.proposals";

    /// <summary>Committed intent; fabric and ghost-shadow nodes subscribe.</summary>
    public const string Committed = "fabric.intent.committed";
}

/// <summary>Sent to the ghost-shadow role: verify <paramref name="Proposed"/> against main.</summary>
public sealed record VerifyChange(
    long ChangeId,
    long BaseVersion,
    string BaseDocument,
    string Proposed) : IFabricMessage;

/// <summary>Published to every node when the intent moves to <paramref name="Version"/>.</summary>
public sealed record IntentCommitted(long Version, long ChangeId, string Document) : IFabricMessage;
