using System.Diagnostics;

namespace Fabric.Tests.Support;

/// <summary>
/// A private PostgreSQL server for the tests: <c>FABRIC_TEST_POSTGRES</c> (a connection string)
/// when set, else one started here from Debian's postgresql package in a temporary folder, on a
/// free loopback port, and removed afterwards. Fails loudly when neither is possible.
/// </summary>
public sealed class PostgresServer : IDisposable
{
    private readonly string? _dataDir;
    private readonly string? _bin;

    public string ConnectionString { get; }

    public PostgresServer()
    {
        if (Environment.GetEnvironmentVariable("FABRIC_TEST_POSTGRES") is { Length: > 0 } given)
        {
            ConnectionString = given;
            return;
        }

        _bin = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).FirstOrDefault(d => File.Exists(Path.Combine(d, "initdb")))
            : null;
        if (_bin is null)
            throw new InvalidOperationException(
                "PostgreSQL is not installed: the config-store tests need it (apt-get install -y postgresql; .ci/run does) or FABRIC_TEST_POSTGRES.");

        var port = Fabric.Benchmarks.Scenarios.FreePorts.Tcp();
        _dataDir = Path.Combine(Path.GetTempPath(), $"fabric-pg-{Environment.ProcessId}-{port}");
        Directory.CreateDirectory(_dataDir);
        Run("chown", "postgres:postgres", _dataDir);
        RunAsPostgres($"{_bin}/initdb -D {_dataDir} -U postgres --auth=trust -E UTF8");
        RunAsPostgres($"{_bin}/pg_ctl -D {_dataDir} -o \"-p {port} -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off\" -l {_dataDir}/log -w start");
        ConnectionString = $"Host=127.0.0.1;Port={port};Username=postgres;Database=postgres;Pooling=true";
    }

    /// <summary>A new empty database on the server, so tests do not see each other's journals.</summary>
    public string NewDatabase()
    {
        var name = "fabric_" + Guid.NewGuid().ToString("N")[..12];
        using var connection = new Npgsql.NpgsqlConnection(ConnectionString);
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"CREATE DATABASE {name}";
        command.ExecuteNonQuery();
        return new Npgsql.NpgsqlConnectionStringBuilder(ConnectionString) { Database = name }.ToString();
    }

    public void Dispose()
    {
        if (_dataDir is null) return;
        try { RunAsPostgres($"{_bin}/pg_ctl -D {_dataDir} -m immediate -w stop"); }
        finally { Directory.Delete(_dataDir, recursive: true); }
    }

    private static void RunAsPostgres(string command) => Run("su", "postgres", "-s", "/bin/sh", "-c", command);

    private static void Run(string file, params string[] arguments)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = "/tmp" };
        foreach (var a in arguments) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(60_000)) { process.Kill(true); throw new TimeoutException($"{file} {string.Join(' ', arguments)}"); }
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"'{file} {string.Join(' ', arguments)}' failed ({process.ExitCode}): {stdout.Result}{stderr.Result}");
    }
}

[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresServer>
{
    public const string Name = "postgres";
}
