using System.Collections.Immutable;
using System.Data.Common;
using Akka.Actor;
using Akka.Persistence;
using Akka.Persistence.Journal;

namespace Fabric.Actors.Config;

/// <summary>
/// The config store's journal: plain ADO.NET on SQLite or PostgreSQL, in Akka.Persistence.Sql's
/// <c>journal</c> table (see <see cref="StoreTables"/>). It replaced that plugin, whose query
/// layer (linq2db, LanguageExt, Akka.Streams) was a fifth of an idle node's memory for one actor
/// writing a few rows a minute. Same semantics: each <see cref="AtomicWrite"/> is one
/// transaction; a payload that cannot be serialized is rejected (the actor goes on), a database
/// error fails the write (the actor stops); deleting keeps the highest row, marked deleted, so
/// the sequence number never goes back.
/// </summary>
public sealed class SqlJournal : AsyncWriteJournal
{
    private readonly StoreTables _tables;
    private readonly ActorSystem _system; // Context is gone after the first await

    public SqlJournal(Akka.Configuration.Config config)
    {
        _tables = StoreTables.FromPluginConfig(config);
        _system = Context.System;
    }

    protected override async Task<IImmutableList<Exception?>> WriteMessagesAsync(
        IEnumerable<AtomicWrite> messages, CancellationToken cancellationToken)
    {
        var results = ImmutableList.CreateBuilder<Exception?>();
        await using var connection = await _tables.OpenAsync(cancellationToken);
        foreach (var write in messages)
        {
            var rows = new List<(IPersistentRepresentation Event, byte[] Bytes, int SerializerId, string Manifest)>();
            try
            {
                foreach (var e in (IImmutableList<IPersistentRepresentation>)write.Payload)
                {
                    if (e.Payload is Tagged)
                        throw new NotSupportedException($"The config store's journal does not store tags ({e.PersistenceId} #{e.SequenceNr})");
                    var (bytes, serializerId, manifest) = StoreTables.Serialize(_system, e.Payload);
                    rows.Add((e, bytes, serializerId, manifest));
                }
            }
            catch (Exception rejected)
            {
                results.Add(rejected);
                continue;
            }
            await InsertAsync(connection, rows, cancellationToken);
            results.Add(null);
        }
        return results.ToImmutable();
    }

    private static async Task InsertAsync(DbConnection connection,
        List<(IPersistentRepresentation Event, byte[] Bytes, int SerializerId, string Manifest)> rows, CancellationToken ct)
    {
        await using var transaction = await connection.BeginTransactionAsync(ct);
        var now = DateTime.UtcNow.Ticks;
        foreach (var (e, bytes, serializerId, manifest) in rows)
        {
            await using var insert = StoreTables.Command(connection, """
                INSERT INTO journal (created, deleted, persistence_id, sequence_number, message, manifest, identifier, writer_uuid)
                VALUES (@created, FALSE, @pid, @seq, @message, @manifest, @identifier, @writer)
                """, transaction);
            StoreTables.Add(insert, "@created", e.Timestamp == 0 ? now : e.Timestamp);
            StoreTables.Add(insert, "@pid", e.PersistenceId);
            StoreTables.Add(insert, "@seq", e.SequenceNr);
            StoreTables.Add(insert, "@message", bytes);
            StoreTables.Add(insert, "@manifest", manifest);
            StoreTables.Add(insert, "@identifier", serializerId);
            StoreTables.Add(insert, "@writer", e.WriterGuid);
            await insert.ExecuteNonQueryAsync(ct);
        }
        await transaction.CommitAsync(ct);
    }

    protected override async Task DeleteMessagesToAsync(string persistenceId, long toSequenceNr, CancellationToken cancellationToken)
    {
        await using var connection = await _tables.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        foreach (var sql in new[]
                 {
                     "UPDATE journal SET deleted = TRUE WHERE persistence_id = @pid AND sequence_number <= @to",
                     """
                     DELETE FROM journal WHERE persistence_id = @pid AND sequence_number <= @to AND sequence_number <
                         (SELECT MAX(sequence_number) FROM journal WHERE persistence_id = @pid AND deleted = TRUE)
                     """,
                     "DELETE FROM tags WHERE persistence_id = @pid AND sequence_nr <= @to",
                 })
        {
            await using var command = StoreTables.Command(connection, sql, transaction);
            StoreTables.Add(command, "@pid", persistenceId);
            StoreTables.Add(command, "@to", toSequenceNr);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
    }

    public override async Task ReplayMessagesAsync(IActorContext context, string persistenceId,
        long fromSequenceNr, long toSequenceNr, long max, Action<IPersistentRepresentation> recoveryCallback)
    {
        if (max <= 0) return;
        await using var connection = await _tables.OpenAsync(default);
        await using var query = StoreTables.Command(connection, """
            SELECT sequence_number, message, manifest, identifier, writer_uuid, created FROM journal
            WHERE persistence_id = @pid AND sequence_number >= @from AND sequence_number <= @to AND deleted = FALSE
            ORDER BY sequence_number LIMIT @max
            """);
        StoreTables.Add(query, "@pid", persistenceId);
        StoreTables.Add(query, "@from", fromSequenceNr);
        StoreTables.Add(query, "@to", toSequenceNr);
        StoreTables.Add(query, "@max", max);
        await using var reader = await query.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            var manifest = reader.IsDBNull(2) ? "" : reader.GetString(2);
            var payload = StoreTables.Deserialize(_system, (byte[])reader.GetValue(1),
                reader.IsDBNull(3) ? null : reader.GetInt32(3), manifest);
            recoveryCallback(new Persistent(payload, reader.GetInt64(0), persistenceId, manifest, isDeleted: false,
                ActorRefs.NoSender, reader.IsDBNull(4) ? null : reader.GetString(4), reader.GetInt64(5)));
        }
    }

    /// <summary>The highest sequence number ever written, deleted rows included (the hint is not needed).</summary>
    public override async Task<long> ReadHighestSequenceNrAsync(string persistenceId, long fromSequenceNr, CancellationToken cancellationToken)
    {
        await using var connection = await _tables.OpenAsync(cancellationToken);
        await using var query = StoreTables.Command(connection,
            "SELECT MAX(sequence_number) FROM journal WHERE persistence_id = @pid");
        StoreTables.Add(query, "@pid", persistenceId);
        return await query.ExecuteScalarAsync(cancellationToken) is { } highest and not DBNull ? Convert.ToInt64(highest) : 0;
    }
}
