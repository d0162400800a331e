using System.Collections.Immutable;

namespace Fabric.Messages.Config;

/// <summary>The config store's snapshot (taken every N events). A stable contract like the events.</summary>
public sealed record ConfigStoreSnapshot(
    long Version,
    long CommittedChangeId,
    string Document,
    long LastChangeId,
    ImmutableArray<ChangeRecord> Changes) : IFabricMessage;
