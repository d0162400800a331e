using System.Collections.Immutable;
using Akka.Actor;
using Akka.Persistence;
using Fabric.Actors.Config;
using Fabric.Messages.Config;
using Fabric.Messages.Serialization;
using Fabric.Tests.Support;

namespace Fabric.Tests.Config;

/// <summary>
/// The config store's own journal and snapshot store (<see cref="SqlJournal"/>,
/// <see cref="SqlSnapshotStore"/>) under a real persistent actor, each test on a fresh database,
/// restarting the actor system in between as a node restart does. Run on SQLite and on PostgreSQL.
/// </summary>
public abstract class SqlJournalContract
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    protected abstract StoreDatabase NewDatabase();

    [Fact]
    public async Task Events_come_back_in_order_after_a_restart_and_numbering_goes_on()
    {
        var db = NewDatabase();
        await WithRecorder(db, "p-1", async recorder =>
        {
            foreach (var (text, expected) in new[] { ("a", 1L), ("b", 2L), ("c", 3L) })
                Assert.Equal(expected, await recorder.Ask<long>(Event(text), Wait));
        });

        await WithRecorder(db, "p-1", async recorder =>
        {
            var state = await recorder.Ask<Recorder.State>(Recorder.Get.Instance, Wait);
            Assert.Equal(["a", "b", "c"], state.Events);
            Assert.Equal(3, state.SequenceNr);
            Assert.Null(state.SnapshotAt);
            Assert.Equal(4L, await recorder.Ask<long>(Event("d"), Wait));
        });

        // Another persistence id in the same tables sees none of it.
        await WithRecorder(db, "p-2", async recorder =>
            Assert.Empty((await recorder.Ask<Recorder.State>(Recorder.Get.Instance, Wait)).Events));
    }

    [Fact]
    public async Task A_snapshot_and_the_events_after_it_recover_the_state_and_deleted_snapshots_are_not_offered()
    {
        var db = NewDatabase();
        await WithRecorder(db, "p-1", async recorder =>
        {
            await recorder.Ask<long>(Event("a"), Wait);
            await recorder.Ask<long>(Event("b"), Wait);
            Assert.IsType<SaveSnapshotSuccess>(await recorder.Ask<object>(Recorder.Snap.Instance, Wait));
            await recorder.Ask<long>(Event("c"), Wait);
        });

        await WithRecorder(db, "p-1", async recorder =>
        {
            var state = await recorder.Ask<Recorder.State>(Recorder.Get.Instance, Wait);
            Assert.Equal(2, state.SnapshotAt);
            Assert.Equal(["a", "b", "c"], state.Events); // two from the snapshot, one replayed
            Assert.Equal(3, state.SequenceNr);
            Assert.IsType<SaveSnapshotSuccess>(await recorder.Ask<object>(Recorder.Snap.Instance, Wait));
            Assert.IsType<DeleteSnapshotsSuccess>(await recorder.Ask<object>(
                new Recorder.DeleteSnapshotsTo(2), Wait));
        });

        await WithRecorder(db, "p-1", async recorder =>
        {
            var state = await recorder.Ask<Recorder.State>(Recorder.Get.Instance, Wait);
            Assert.Equal(3, state.SnapshotAt);
            Assert.Equal(["a", "b", "c"], state.Events);
            Assert.IsType<DeleteSnapshotsSuccess>(await recorder.Ask<object>(
                new Recorder.DeleteSnapshotsTo(long.MaxValue), Wait));
        });

        await WithRecorder(db, "p-1", async recorder =>
        {
            var state = await recorder.Ask<Recorder.State>(Recorder.Get.Instance, Wait);
            Assert.Null(state.SnapshotAt); // none left: the whole journal is replayed
            Assert.Equal(["a", "b", "c"], state.Events);
        });
    }

    [Fact]
    public async Task Deleted_events_are_not_replayed_and_the_sequence_number_never_goes_back()
    {
        var db = NewDatabase();
        await WithRecorder(db, "p-1", async recorder =>
        {
            foreach (var text in new[] { "a", "b", "c" }) await recorder.Ask<long>(Event(text), Wait);
            Assert.IsType<DeleteMessagesSuccess>(await recorder.Ask<object>(new Recorder.DeleteTo(2), Wait));
        });
        await WithRecorder(db, "p-1", async recorder =>
        {
            Assert.Equal(["c"], (await recorder.Ask<Recorder.State>(Recorder.Get.Instance, Wait)).Events);
            Assert.IsType<DeleteMessagesSuccess>(await recorder.Ask<object>(new Recorder.DeleteTo(3), Wait));
        });
        await WithRecorder(db, "p-1", async recorder =>
        {
            var state = await recorder.Ask<Recorder.State>(Recorder.Get.Instance, Wait);
            Assert.Empty(state.Events);
            Assert.Equal(3, state.SequenceNr); // kept by the highest row, marked deleted
            Assert.Equal(4L, await recorder.Ask<long>(Event("d"), Wait));
        });

        Assert.Equal([(3L, true), (4L, false)], await JournalRows(db, "p-1"));
    }

    [Fact]
    public async Task A_payload_that_cannot_be_serialized_is_rejected_the_actor_goes_on_and_nothing_is_written()
    {
        var db = NewDatabase();
        await WithRecorder(db, "p-1", async recorder =>
        {
            var rejected = await recorder.Ask<Recorder.Rejected>(new Recorder.PersistForeign("x"), Wait);
            Assert.Contains(nameof(Recorder.NotAFabricMessage), rejected.Reason); // the serializer's own words
            Assert.Equal(2L, await recorder.Ask<long>(Event("a"), Wait)); // the rejected write used number 1
        });
        await WithRecorder(db, "p-1", async recorder =>
            Assert.Equal(["a"], (await recorder.Ask<Recorder.State>(Recorder.Get.Instance, Wait)).Events));
        Assert.Equal([(2L, false)], await JournalRows(db, "p-1"));
    }

    [Fact]
    public async Task Several_plugins_creating_the_tables_at_once_on_a_fresh_database_all_succeed()
    {
        var db = NewDatabase();
        // Distinct connection strings for one database: each creates the tables itself, at once,
        // as the journal and snapshot store of nodes starting together do.
        var opens = Enumerable.Range(0, 4).Select(async i =>
        {
            var variant = db with { ConnectionString = db.ConnectionString + (db.IsSqlite ? $";Cache=Private;Default Timeout={30 + i}" : $";Application Name=t{i}") };
            await using var connection = await new StoreTables(variant).OpenAsync(CancellationToken.None);
        });
        await Task.WhenAll(opens);
        Assert.Empty(await JournalRows(db, "p-1"));
    }

    protected static SerializationProbe Event(string text) => new(text, [], DateTimeOffset.UnixEpoch);

    protected static async Task WithRecorder(StoreDatabase db, string persistenceId, Func<IActorRef, Task> body)
    {
        var system = ActorSystem.Create("journal", FabricSerialization.Config
            .WithFallback(db.ToHocon())
            .WithFallback("akka.loglevel = WARNING"));
        try
        {
            await body(system.ActorOf(Props.Create(() => new Recorder(persistenceId)), "recorder"));
        }
        finally
        {
            await system.Terminate();
        }
    }

    private static async Task<(long Sequence, bool Deleted)[]> JournalRows(StoreDatabase db, string persistenceId)
    {
        await using var connection = await new StoreTables(db).OpenAsync(CancellationToken.None);
        await using var query = StoreTables.Command(connection,
            "SELECT sequence_number, deleted FROM journal WHERE persistence_id = @pid ORDER BY sequence_number");
        StoreTables.Add(query, "@pid", persistenceId);
        await using var reader = await query.ExecuteReaderAsync();
        var rows = new List<(long, bool)>();
        while (await reader.ReadAsync()) rows.Add((reader.GetInt64(0), reader.GetBoolean(1)));
        return [.. rows];
    }

    /// <summary>Persists probes, snapshots the texts so far, deletes; answers what it recovered.</summary>
    protected sealed class Recorder : ReceivePersistentActor
    {
        public sealed record Get { public static readonly Get Instance = new(); }
        public sealed record Snap { public static readonly Snap Instance = new(); }
        public sealed record DeleteTo(long SequenceNr);
        public sealed record DeleteSnapshotsTo(long SequenceNr);
        public sealed record PersistForeign(string Text);
        public sealed record NotAFabricMessage(string Text);
        public sealed record Rejected(string Reason);
        public sealed record State(string[] Events, long SequenceNr, long? SnapshotAt);

        private readonly List<string> _events = [];
        private long? _snapshotAt;
        private IActorRef _waiting = ActorRefs.Nobody;

        public override string PersistenceId { get; }

        public Recorder(string persistenceId)
        {
            PersistenceId = persistenceId;
            Recover<SnapshotOffer>(offer =>
            {
                _events.AddRange(((SerializationProbe)offer.Snapshot).Text.Split(',', StringSplitOptions.RemoveEmptyEntries));
                _snapshotAt = offer.Metadata.SequenceNr;
            });
            Recover<SerializationProbe>(e => _events.Add(e.Text));
            Command<SerializationProbe>(e => Persist(e, persisted =>
            {
                _events.Add(persisted.Text);
                Sender.Tell(LastSequenceNr);
            }));
            Command<PersistForeign>(p =>
            {
                _waiting = Sender;
                Persist(new NotAFabricMessage(p.Text), _ => _waiting.Tell("persisted?!"));
            });
            Command<Get>(_ => Sender.Tell(new State([.. _events], LastSequenceNr, _snapshotAt)));
            Command<Snap>(_ =>
            {
                _waiting = Sender;
                SaveSnapshot(new SerializationProbe(string.Join(',', _events), [], DateTimeOffset.UnixEpoch));
            });
            Command<DeleteTo>(d => { _waiting = Sender; DeleteMessages(d.SequenceNr); });
            Command<DeleteSnapshotsTo>(d => { _waiting = Sender; DeleteSnapshots(new SnapshotSelectionCriteria(d.SequenceNr)); });
            Command<SaveSnapshotSuccess>(s => _waiting.Tell(s));
            Command<SaveSnapshotFailure>(f => _waiting.Tell(f));
            Command<DeleteMessagesSuccess>(s => _waiting.Tell(s));
            Command<DeleteMessagesFailure>(f => _waiting.Tell(f));
            Command<DeleteSnapshotsSuccess>(s => _waiting.Tell(s));
            Command<DeleteSnapshotsFailure>(f => _waiting.Tell(f));
        }

        protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr) =>
            _waiting.Tell(new Rejected(cause.Message));
    }
}

public sealed class SqlJournalSqliteTests : SqlJournalContract, IDisposable
{
    private readonly TempDir _dir = new();

    protected override StoreDatabase NewDatabase()
    {
        var db = StoreDatabase.Sqlite(Path.Combine(_dir.Path, Guid.NewGuid().ToString("N")[..8] + ".db"));
        db.Prepare();
        return db;
    }

    public void Dispose() => _dir.Dispose();

    /// <summary>
    /// The fixture was written by a node of the previous release, whose store journaled through
    /// Akka.Persistence.Sql 1.5.73 (the sample intent proposed and committed, snapshot-every = 2):
    /// journal rows 1-5, the snapshot at 4. Nothing is migrated: the store reads it as it is.
    /// </summary>
    [Fact]
    public async Task A_store_written_by_Akka_Persistence_Sql_recovers_as_it_is()
    {
        var file = Path.Combine(_dir.Path, "fabric.db");
        File.Copy(Path.Combine(AppContext.BaseDirectory, "Config", "Fixtures", "akka-persistence-sql-1.5.73.db"), file);
        var db = StoreDatabase.Sqlite(file);
        db.Prepare();

        var system = ActorSystem.Create("journal", FabricSerialization.Config
            .WithFallback(db.ToHocon())
            .WithFallback("akka.loglevel = WARNING"));
        try
        {
            var recovered = await system.ActorOf(Props.Create(() => new Replayer(ConfigStoreActor.PersistenceIdValue)))
                .Ask<Replayer.Recovered>(Replayer.Get.Instance, TimeSpan.FromSeconds(20));
            Assert.Equal(4, recovered.SnapshotAt);
            var state = ConfigState.FromSnapshot(Assert.IsType<ConfigStoreKeyedSnapshot>(recovered.Snapshot));
            var last = Assert.Single(recovered.Events);
            state = state.Apply(Assert.IsType<ChangeCommitted>(last));
            Assert.Equal(1, state.Version);
            Assert.Equal(1, state.CommittedChangeId);
            Assert.Contains("\"node-1\"", state.Document);
            Assert.Equal(5, recovered.SequenceNr);
        }
        finally
        {
            await system.Terminate();
        }
    }

    /// <summary>Recovers whatever a persistence id holds and tells what it got.</summary>
    private sealed class Replayer : ReceivePersistentActor
    {
        public sealed record Get { public static readonly Get Instance = new(); }
        public sealed record Recovered(object? Snapshot, long? SnapshotAt, ImmutableArray<object> Events, long SequenceNr);

        private readonly List<object> _events = [];
        private object? _snapshot;
        private long? _snapshotAt;

        public override string PersistenceId { get; }

        public Replayer(string persistenceId)
        {
            PersistenceId = persistenceId;
            Recover<SnapshotOffer>(offer => (_snapshot, _snapshotAt) = (offer.Snapshot, offer.Metadata.SequenceNr));
            Recover<object>(e => { if (e is not RecoveryCompleted) _events.Add(e); });
            Command<Get>(_ => Sender.Tell(new Recovered(_snapshot, _snapshotAt, [.. _events], LastSequenceNr)));
        }
    }
}

[Collection(PostgresCollection.Name)]
public sealed class SqlJournalPostgresTests(PostgresServer postgres) : SqlJournalContract
{
    protected override StoreDatabase NewDatabase() => StoreDatabase.Parse(postgres.NewDatabase(), "unused");
}
