using Akka.Actor;
using Akka.Persistence;
using Akka.Persistence.Snapshot;

namespace Fabric.Actors.Config;

/// <summary>
/// The config store's snapshots: plain ADO.NET on SQLite or PostgreSQL, in Akka.Persistence.Sql's
/// <c>snapshot</c> table (see <see cref="StoreTables"/> and <see cref="SqlJournal"/>).
/// </summary>
public sealed class SqlSnapshotStore : SnapshotStore
{
    private readonly StoreTables _tables;
    private readonly ActorSystem _system; // Context is gone after the first await

    public SqlSnapshotStore(Akka.Configuration.Config config)
    {
        _tables = StoreTables.FromPluginConfig(config);
        _system = Context.System;
    }

    protected override async Task<SelectedSnapshot> LoadAsync(string persistenceId, SnapshotSelectionCriteria criteria,
        CancellationToken cancellationToken)
    {
        await using var connection = await _tables.OpenAsync(cancellationToken);
        await using var query = StoreTables.Command(connection, """
            SELECT sequence_number, created, snapshot, manifest, serializer_id FROM snapshot
            WHERE persistence_id = @pid AND sequence_number >= @minSeq AND sequence_number <= @maxSeq
              AND created >= @minTime AND created <= @maxTime
            ORDER BY sequence_number DESC LIMIT 1
            """);
        AddCriteria(query, persistenceId, criteria);
        await using var reader = await query.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken)) return null!; // none: recovery replays the journal
        var snapshot = StoreTables.Deserialize(_system, (byte[])reader.GetValue(2),
            reader.IsDBNull(4) ? null : reader.GetInt32(4), reader.IsDBNull(3) ? "" : reader.GetString(3));
        return new SelectedSnapshot(
            new SnapshotMetadata(persistenceId, reader.GetInt64(0), new DateTime(reader.GetInt64(1), DateTimeKind.Utc)),
            snapshot);
    }

    protected override async Task SaveAsync(SnapshotMetadata metadata, object snapshot, CancellationToken cancellationToken)
    {
        var (bytes, serializerId, manifest) = StoreTables.Serialize(_system, snapshot);
        await using var connection = await _tables.OpenAsync(cancellationToken);
        await using var upsert = StoreTables.Command(connection, """
            INSERT INTO snapshot (persistence_id, sequence_number, created, snapshot, manifest, serializer_id)
            VALUES (@pid, @seq, @created, @snapshot, @manifest, @serializer)
            ON CONFLICT (persistence_id, sequence_number) DO UPDATE SET
                created = excluded.created, snapshot = excluded.snapshot,
                manifest = excluded.manifest, serializer_id = excluded.serializer_id
            """);
        StoreTables.Add(upsert, "@pid", metadata.PersistenceId);
        StoreTables.Add(upsert, "@seq", metadata.SequenceNr);
        StoreTables.Add(upsert, "@created", metadata.Timestamp.Ticks);
        StoreTables.Add(upsert, "@snapshot", bytes);
        StoreTables.Add(upsert, "@manifest", manifest);
        StoreTables.Add(upsert, "@serializer", serializerId);
        await upsert.ExecuteNonQueryAsync(cancellationToken);
    }

    protected override async Task DeleteAsync(SnapshotMetadata metadata, CancellationToken cancellationToken)
    {
        await using var connection = await _tables.OpenAsync(cancellationToken);
        await using var delete = StoreTables.Command(connection,
            "DELETE FROM snapshot WHERE persistence_id = @pid AND sequence_number = @seq");
        StoreTables.Add(delete, "@pid", metadata.PersistenceId);
        StoreTables.Add(delete, "@seq", metadata.SequenceNr);
        await delete.ExecuteNonQueryAsync(cancellationToken);
    }

    protected override async Task DeleteAsync(string persistenceId, SnapshotSelectionCriteria criteria,
        CancellationToken cancellationToken)
    {
        await using var connection = await _tables.OpenAsync(cancellationToken);
        await using var delete = StoreTables.Command(connection, """
            DELETE FROM snapshot
            WHERE persistence_id = @pid AND sequence_number >= @minSeq AND sequence_number <= @maxSeq
              AND created >= @minTime AND created <= @maxTime
            """);
        AddCriteria(delete, persistenceId, criteria);
        await delete.ExecuteNonQueryAsync(cancellationToken);
    }

    private static void AddCriteria(System.Data.Common.DbCommand command, string persistenceId, SnapshotSelectionCriteria criteria)
    {
        StoreTables.Add(command, "@pid", persistenceId);
        StoreTables.Add(command, "@minSeq", criteria.MinSequenceNr);
        StoreTables.Add(command, "@maxSeq", criteria.MaxSequenceNr);
        StoreTables.Add(command, "@minTime", criteria.MinTimestamp?.Ticks ?? 0L);
        StoreTables.Add(command, "@maxTime", criteria.MaxTimeStamp.Ticks);
    }
}
