using System.Collections.Immutable;

namespace Fabric.Messages.Config;

/// <summary>The config store's snapshot (taken every N events). A stable contract like the events.</summary>
public sealed record ConfigStoreSnapshot(
    long Version,
    long CommittedChangeId,
    string Document,
    long LastChangeId,
    ImmutableArray<ChangeRecord> Changes) : IFabricMessage;

/// <summary>
/// The config store's snapshot since ghost reports exist: <see cref="ConfigStoreSnapshot"/> plus
/// the reports of the retained changes. Older snapshots (the first type) still load.
/// </summary>
public sealed record ConfigStoreSnapshotV2(
    long Version,
    long CommittedChangeId,
    string Document,
    long LastChangeId,
    ImmutableArray<ChangeRecord> Changes,
    ImmutableArray<ChangeReported> Reports) : IFabricMessage;
