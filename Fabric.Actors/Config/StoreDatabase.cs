using Microsoft.Data.Sqlite;

namespace Fabric.Actors.Config;

/// <summary>
/// Where the config store journals: SQLite in the data directory (the default, one file per node)
/// or a PostgreSQL server shared by the cluster (production).
/// </summary>
public sealed record StoreDatabase(string ProviderName, string ConnectionString)
{
    public const string SqliteProvider = "SQLite.MS";
    public const string PostgresProvider = "PostgreSQL";

    public bool IsSqlite => ProviderName == SqliteProvider;

    /// <summary>
    /// <paramref name="db"/> is <c>sqlite</c> (file <c>fabric.db</c> under <paramref name="dataDir"/>),
    /// <c>sqlite:PATH</c>, or a PostgreSQL connection string (<c>Host=...;Database=...</c>).
    /// </summary>
    public static StoreDatabase Parse(string db, string dataDir)
    {
        if (string.IsNullOrWhiteSpace(db) || db.Equals("sqlite", StringComparison.OrdinalIgnoreCase))
            return Sqlite(Path.Combine(dataDir, "fabric.db"));
        if (db.StartsWith("sqlite:", StringComparison.OrdinalIgnoreCase))
            return Sqlite(db["sqlite:".Length..]);
        if (db.Contains("Host=", StringComparison.OrdinalIgnoreCase))
            return new StoreDatabase(PostgresProvider, db);
        throw new ArgumentException(
            $"--db '{db}' is neither 'sqlite', 'sqlite:PATH' nor a PostgreSQL connection string (Host=...;Database=...)");
    }

    public static StoreDatabase Sqlite(string file) =>
        new(SqliteProvider, new SqliteConnectionStringBuilder { DataSource = Path.GetFullPath(file), Pooling = true }.ToString());

    private const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>
    /// Creates the SQLite file's folder (0700) and the file itself 0600 before SQLite opens it
    /// (SQLite gives its -wal and -shm files the database file's mode), narrows an existing file
    /// to 0600, and switches it to WAL (twice the persist rate; kept in the file).
    /// </summary>
    public void Prepare()
    {
        if (!IsSqlite) return;
        var file = Path.GetFullPath(new SqliteConnectionStringBuilder(ConnectionString).DataSource);
        Directory.CreateDirectory(Path.GetDirectoryName(file)!, OwnerReadWrite | UnixFileMode.UserExecute);
        if (!File.Exists(file))
        {
            using var created = new FileStream(file, new FileStreamOptions
            {
                Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = OwnerReadWrite,
            });
        }
        foreach (var own in new[] { file, file + "-wal", file + "-shm" })
        {
            if (File.Exists(own) && (File.GetUnixFileMode(own) & ~(OwnerReadWrite | UnixFileMode.UserExecute)) != 0)
                File.SetUnixFileMode(own, OwnerReadWrite);
        }
        using var connection = new SqliteConnection(ConnectionString);
        connection.Open();
        using var pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA journal_mode=WAL;";
        pragma.ExecuteNonQuery();
    }

    /// <summary>Where the store lives, for logs (never the password).</summary>
    public string Describe() => IsSqlite
        ? $"SQLite {new SqliteConnectionStringBuilder(ConnectionString).DataSource}"
        : "PostgreSQL " + string.Join(";", ConnectionString.Split(';')
            .Where(p => !p.TrimStart().StartsWith("Password", StringComparison.OrdinalIgnoreCase)));

    /// <summary>The config store's journal and snapshot-store plugins (<see cref="SqlJournal"/>, <see cref="SqlSnapshotStore"/>) on this database.</summary>
    public string ToHocon()
    {
        var cs = ConnectionString.Replace("\\", "\\\\").Replace("\"", "\\\"");
        return $$"""
            akka.persistence {
              journal.plugin = "akka.persistence.journal.fabric-sql"
              journal.fabric-sql {
                class = "{{typeof(SqlJournal).AssemblyQualifiedName}}"
                plugin-dispatcher = "akka.actor.default-dispatcher"
                connection-string = "{{cs}}"
                provider-name = "{{ProviderName}}"
              }
              snapshot-store.plugin = "akka.persistence.snapshot-store.fabric-sql"
              snapshot-store.fabric-sql {
                class = "{{typeof(SqlSnapshotStore).AssemblyQualifiedName}}"
                plugin-dispatcher = "akka.actor.default-dispatcher"
                connection-string = "{{cs}}"
                provider-name = "{{ProviderName}}"
              }
            }
            """;
    }

    /// <summary>An open connection to the database.</summary>
    public async Task<System.Data.Common.DbConnection> OpenAsync(CancellationToken ct)
    {
        System.Data.Common.DbConnection connection = IsSqlite ? new SqliteConnection(ConnectionString) : NewPostgresConnection();
        try
        {
            await connection.OpenAsync(ct);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Apart, so that compiling <see cref="OpenAsync"/> does not load Npgsql (a SQLite node never
    /// needs it: ~1 MB resident and its code).
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private System.Data.Common.DbConnection NewPostgresConnection() => new Npgsql.NpgsqlConnection(ConnectionString);

    /// <summary>True when the database answers a trivial query (used by /health/ready).</summary>
    public async Task<bool> PingAsync(CancellationToken ct)
    {
        try
        {
            var connection = await OpenAsync(ct);
            await using (connection)
            {
                await using var command = connection.CreateCommand();
                command.CommandText = "SELECT 1";
                await command.ExecuteScalarAsync(ct);
                return true;
            }
        }
        catch (Exception) when (!ct.IsCancellationRequested)
        {
            return false;
        }
    }
}
