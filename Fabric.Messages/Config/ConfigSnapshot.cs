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
/// The config store's snapshot since idempotency keys and ghost reports: the state as before,
/// plus the key of each retained change and the ghost verifier's report of each. A new type
/// beside <see cref="ConfigStoreSnapshot"/>, which old snapshots still are.
/// </summary>
public sealed record ConfigStoreKeyedSnapshot(ConfigStoreSnapshot State, ImmutableArray<ChangeKeyed> Keys, ImmutableArray<ChangeReported> Reports) : IFabricMessage;
