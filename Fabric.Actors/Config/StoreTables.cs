using System.Data.Common;
using Akka.Actor;
using Akka.Serialization;

namespace Fabric.Actors.Config;

/// <summary>
/// The config store's tables, laid out as Akka.Persistence.Sql lays them out (<c>journal</c>,
/// <c>tags</c>, <c>snapshot</c>, same columns, types and indexes), so a database written before
/// the store had its own journal (<see cref="SqlJournal"/>, <see cref="SqlSnapshotStore"/>) is read
/// as it is, and either can open the other's file. Every statement is plain SQL that SQLite and
/// PostgreSQL both accept; only the tables' creation differs.
/// </summary>
internal sealed class StoreTables
{
    /// <summary>Tables created per database, shared by the journal and the snapshot store.</summary>
    private static readonly Dictionary<StoreDatabase, Task> Created = [];

    private readonly StoreDatabase _database;

    public StoreTables(StoreDatabase database) => _database = database;

    public static StoreTables FromPluginConfig(Akka.Configuration.Config config) =>
        new(new StoreDatabase(config.GetString("provider-name"), config.GetString("connection-string")));

    /// <summary>
    /// An open connection with the tables created (once per database and process; a failed
    /// creation is tried again by the next call, so a database that was down at start is picked up
    /// when it returns).
    /// </summary>
    public async Task<DbConnection> OpenAsync(CancellationToken ct)
    {
        var connection = await _database.OpenAsync(ct);
        try
        {
            Task created;
            lock (Created)
            {
                if (!Created.TryGetValue(_database, out created!) || created is { IsCompleted: true, IsCompletedSuccessfully: false })
                    Created[_database] = created = CreateAsync(connection, ct);
            }
            await created;
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Creates what is missing. On PostgreSQL in one transaction under an advisory lock: nodes
    /// sharing the database start together, and concurrent <c>CREATE TABLE IF NOT EXISTS</c> can
    /// fail there on the catalog's unique index.
    /// </summary>
    private async Task CreateAsync(DbConnection connection, CancellationToken ct)
    {
        await using var transaction = await connection.BeginTransactionAsync(ct);
        if (!_database.IsSqlite)
        {
            await using var lockSchema = Command(connection, "SELECT pg_advisory_xact_lock(hashtext('fabric-config-store-schema'))", transaction);
            await lockSchema.ExecuteNonQueryAsync(ct);
        }
        foreach (var statement in _database.IsSqlite ? SqliteSchema : PostgresSchema)
        {
            await using var command = Command(connection, statement, transaction);
            await command.ExecuteNonQueryAsync(ct);
        }
        await transaction.CommitAsync(ct);
    }

    public static DbCommand Command(DbConnection connection, string sql, DbTransaction? transaction = null)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        return command;
    }

    public static void Add(DbCommand command, string name, object? value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value ?? DBNull.Value;
        command.Parameters.Add(parameter);
    }

    /// <summary>A payload's bytes, its serializer's id and manifest, as Akka.Persistence.Sql stores them.</summary>
    public static (byte[] Bytes, int SerializerId, string Manifest) Serialize(ActorSystem system, object payload)
    {
        var serializer = system.Serialization.FindSerializerFor(payload);
        var manifest = Serialization.ManifestFor(serializer, payload);
        return (serializer.ToBinary(payload), serializer.Identifier, manifest);
    }

    /// <summary>
    /// Back to an object: by the serializer id stored beside it, or (rows written without one) by
    /// the type its manifest names.
    /// </summary>
    public static object Deserialize(ActorSystem system, byte[] bytes, int? serializerId, string manifest)
    {
        if (serializerId is { } id) return system.Serialization.Deserialize(bytes, id, manifest);
        var type = Type.GetType(manifest, throwOnError: true)!;
        return system.Serialization.FindSerializerForType(type).FromBinary(bytes, type);
    }

    private static readonly string[] SqliteSchema =
    [
        """
        CREATE TABLE IF NOT EXISTS [journal] (
            [ordering]        INTEGER        NOT NULL PRIMARY KEY AUTOINCREMENT,
            [created]         INTEGER        NOT NULL,
            [deleted]         Bit            NOT NULL,
            [persistence_id]  NVarChar(255)  NOT NULL,
            [sequence_number] INTEGER        NOT NULL,
            [message]         VarBinary      NOT NULL,
            [manifest]        NVarChar(500)      NULL,
            [identifier]      INTEGER            NULL,
            [writer_uuid]     NVarChar(128)      NULL)
        """,
        "CREATE UNIQUE INDEX IF NOT EXISTS journal_uq ON journal (persistence_id, sequence_number)",
        "CREATE INDEX IF NOT EXISTS journal_created_idx ON journal (created)",
        "CREATE INDEX IF NOT EXISTS journal_sequence_number_idx ON journal (sequence_number)",
        """
        CREATE TABLE IF NOT EXISTS [tags] (
            [ordering_id]    INTEGER       NOT NULL,
            [tag]            NVarChar(64)  NOT NULL,
            [sequence_nr]    INTEGER       NOT NULL,
            [persistence_id] NVarChar(255) NOT NULL,
            CONSTRAINT [PK_tags] PRIMARY KEY ([ordering_id], [tag]))
        """,
        "CREATE INDEX IF NOT EXISTS tags_persistence_id_sequence_nr_idx ON tags (persistence_id, sequence_nr)",
        "CREATE INDEX IF NOT EXISTS tags_tag_idx ON tags (tag)",
        """
        CREATE TABLE IF NOT EXISTS [snapshot] (
            [persistence_id]  NVarChar(255) NOT NULL,
            [sequence_number] INTEGER       NOT NULL,
            [created]         INTEGER       NOT NULL,
            [snapshot]        VarBinary         NULL,
            [manifest]        NVarChar(500)     NULL,
            [serializer_id]   INTEGER           NULL,
            CONSTRAINT [PK_snapshot] PRIMARY KEY ([persistence_id], [sequence_number]))
        """,
        "CREATE INDEX IF NOT EXISTS snapshot_sequence_number_idx ON snapshot (sequence_number)",
        "CREATE INDEX IF NOT EXISTS snapshot_created_idx ON snapshot (created)",
    ];

    private static readonly string[] PostgresSchema =
    [
        """
        CREATE TABLE IF NOT EXISTS journal (
            ordering        bigserial NOT NULL CONSTRAINT "PK_journal" PRIMARY KEY,
            created         bigint    NOT NULL,
            deleted         boolean   NOT NULL,
            persistence_id  text      NOT NULL,
            sequence_number bigint    NOT NULL,
            message         bytea     NOT NULL,
            manifest        text          NULL,
            identifier      integer       NULL,
            writer_uuid     text          NULL,
            CONSTRAINT journal_uq UNIQUE (persistence_id, sequence_number))
        """,
        "CREATE INDEX IF NOT EXISTS journal_created_idx ON journal (created)",
        "CREATE INDEX IF NOT EXISTS journal_sequence_number_idx ON journal (sequence_number)",
        """
        CREATE TABLE IF NOT EXISTS tags (
            ordering_id    bigint NOT NULL,
            tag            text   NOT NULL,
            sequence_nr    bigint NOT NULL,
            persistence_id text   NOT NULL,
            CONSTRAINT "PK_tags" PRIMARY KEY (ordering_id, tag))
        """,
        "CREATE INDEX IF NOT EXISTS tags_persistence_id_sequence_nr_idx ON tags (persistence_id, sequence_nr)",
        "CREATE INDEX IF NOT EXISTS tags_tag_idx ON tags (tag)",
        """
        CREATE TABLE IF NOT EXISTS snapshot (
            persistence_id  text   NOT NULL,
            sequence_number bigint NOT NULL,
            created         bigint NOT NULL,
            snapshot        bytea      NULL,
            manifest        text       NULL,
            serializer_id   integer    NULL,
            CONSTRAINT "PK_snapshot" PRIMARY KEY (persistence_id, sequence_number))
        """,
        "CREATE INDEX IF NOT EXISTS snapshot_sequence_number_idx ON snapshot (sequence_number)",
        "CREATE INDEX IF NOT EXISTS snapshot_created_idx ON snapshot (created)",
    ];
}
