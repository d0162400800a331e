using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using Akka.Persistence;
using Fabric.Messages.Config;
using Fabric.Messages.Ghost;

namespace Fabric.Actors.Config;

/// <summary>
/// The cluster's one writer of intent (a cluster singleton). A thin shell over
/// <see cref="ConfigState"/>: journals what the state decides, sends proposals to the
/// ghost-shadow role, and publishes each commit to every node. It never parses a document
/// (proposals arrive as canonical JSON), so no document can keep it from answering.
/// </summary>
public sealed class ConfigStoreActor : ReceivePersistentActor, IWithTimers
{
    public const string PersistenceIdValue = "fabric-config-store";

    private readonly ConfigStoreSettings _settings;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IActorRef _mediator;
    private ConfigState _state;
    private readonly Dictionary<long, List<string>> _progress = [];
    private readonly HashSet<string> _abandoned = [];
    private readonly Queue<string> _abandonedOrder = new();

    public override string PersistenceId => PersistenceIdValue;

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>
    /// Guardians asked which intent they run and not heard from yet; while this is not null the
    /// store adopts what they offer and holds proposals back (see <see cref="AskForOffers"/>).
    /// </summary>
    private HashSet<Address>? _awaitingOffers;

    public ConfigStoreActor(ConfigStoreSettings settings)
    {
        _settings = settings;
        _state = ConfigState.Empty.RetainedAs(settings);
        _mediator = DistributedPubSub.Get(Context.System).Mediator;

        Recover<SnapshotOffer>(offer =>
        {
            if (offer.Snapshot is ConfigStoreKeyedSnapshot keyed) _state = ConfigState.FromSnapshot(keyed).RetainedAs(settings);
            else if (offer.Snapshot is ConfigStoreSnapshot snapshot) _state = ConfigState.FromSnapshot(snapshot).RetainedAs(settings);
        });
        Recover<IConfigEvent>(e => _state = _state.Apply(e));
        Recover<RecoveryCompleted>(_ =>
        {
            _log.Info("Config store recovered: intent version {0}, {1} pending change(s)",
                _state.Version, _state.Pending.Count());
            PublishCommitted();
            foreach (var change in _state.Pending) SendToGhost(change);
            AskForOffers();
        });

        Command<ProposeChange>(command =>
        {
            if (_awaitingOffers is not null) Stash.Stash();
            else OnPropose(command);
        });
        Command<OffersWindowClosed>(_ =>
        {
            if (_awaitingOffers is null) return;
            _log.Warning("Config store: {0} node(s) did not say which intent they run within {1} ms ({2}); accepting proposals on intent version {3}",
                _awaitingOffers.Count, (int)_settings.AdoptWait.TotalMilliseconds, string.Join(", ", _awaitingOffers), _state.Version);
            StopAwaitingOffers();
        });
        Command<SubmitVerdict>(verdict => JournalDecision(_state.Decide(verdict, DateTimeOffset.UtcNow), Sender));
        Command<OfferIntent>(offer =>
        {
            JournalDecision(_state.Decide(offer, DateTimeOffset.UtcNow), Sender);
            if (_awaitingOffers is not null && _awaitingOffers.Remove(ClusterAddressOf(Sender)) && _awaitingOffers.Count == 0)
                StopAwaitingOffers();
        });
        Command<GetIntent>(_ => Sender.Tell(_state.ToCurrentIntent()));
        Command<GetChanges>(q => Sender.Tell(new ChangeList(
            _state.Changes.Values.Reverse().Take(Math.Max(1, q.Limit)).ToImmutableArray())));
        Command<GetChange>(q => Sender.Tell(_state.Changes.TryGetValue(q.ChangeId, out var c)
            ? c
            : new ChangeNotFound(q.ChangeId)));
        Command<GetChangeDetail>(q => Sender.Tell(_state.Changes.TryGetValue(q.ChangeId, out var c)
            ? new ChangeDetail(c, _state.Reports.TryGetValue(q.ChangeId, out var r) ? r.Report : null,
                _progress.TryGetValue(q.ChangeId, out var lines) ? [.. lines] : [],
                c.Status == ChangeStatus.Proposed && _progress.ContainsKey(q.ChangeId))
            : new ChangeNotFound(q.ChangeId)));
        Command<VerificationProgress>(p =>
        {
            // Progress is not journaled: it only tells a waiting operator how far the ghost got.
            if (!_state.Changes.TryGetValue(p.ChangeId, out var c) || c.Status != ChangeStatus.Proposed) return;
            if (!_progress.TryGetValue(p.ChangeId, out var lines)) _progress[p.ChangeId] = lines = [];
            if (lines.Count < _settings.ProgressLines) lines.Add(p.Line);
            while (_progress.Count > _settings.ProgressChanges) _progress.Remove(_progress.Keys.Min());
        });
        Command<FindChangeByKey>(query =>
        {
            if (_awaitingOffers is not null) Stash.Stash();
            else OnFindByKey(query);
        });
        Command<RepublishPending>(_ =>
        {
            foreach (var change in _state.Pending) SendToGhost(change);
            if (!_state.Pending.Any()) Timers.Cancel(RepublishPending.Instance); // re-armed by the next proposal
        });
        Command<SaveSnapshotSuccess>(s => DeleteSnapshots(new SnapshotSelectionCriteria(s.Metadata.SequenceNr - 1)));
        Command<SaveSnapshotFailure>(f => _log.Warning(f.Cause, "Config store snapshot failed"));
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(f => _log.Warning(f.Cause, "Deleting old config store snapshots failed"));
    }

    /// <summary>
    /// With one database per node (SQLite), a store that starts on another node after the old one
    /// crashed may be behind what the cluster runs. Before it accepts a proposal it asks every
    /// fabric node which intent it runs and adopts the newest offer, so a proposal without a base
    /// version applies to the newest intent. Proposals wait for the answers, at most
    /// <c>fabric.config-store.adopt-wait</c>.
    /// </summary>
    private void AskForOffers()
    {
        var cluster = Akka.Cluster.Cluster.Get(Context.System);
        var nodes = cluster.State.Members
            .Where(m => m.Status == Akka.Cluster.MemberStatus.Up && m.HasRole(FabricRole))
            .Select(m => m.Address)
            .Where(a => !cluster.State.Unreachable.Any(u => u.Address == a))
            .ToHashSet();
        if (nodes.Count == 0) return;
        _awaitingOffers = nodes;
        foreach (var address in nodes)
            Context.ActorSelection(new RootActorPath(address) / "user" / "fabric").Tell(RequestIntentOffer.Instance);
        Timers.StartSingleTimer(OffersWindowClosed.Instance, OffersWindowClosed.Instance, _settings.AdoptWait);
    }

    /// <summary>A local sender's address has no host and port; the cluster names this node by its remoting address.</summary>
    private Address ClusterAddressOf(IActorRef sender) =>
        sender.Path.Address.HasLocalScope ? Akka.Cluster.Cluster.Get(Context.System).SelfAddress : sender.Path.Address;

    private void StopAwaitingOffers()
    {
        _awaitingOffers = null;
        Timers.Cancel(OffersWindowClosed.Instance);
        Stash.UnstashAll();
    }

    /// <summary>The role whose nodes run elements (and so hold an applied intent).</summary>
    private const string FabricRole = "fabric";

    private void OnPropose(ProposeChange command)
    {
        var abandoned = command.Attempt is { } attempt && _abandoned.Contains(attempt);
        var decision = _state.Decide(command, DateTimeOffset.UtcNow, abandoned);
        if (decision.Reply is ChangeRefused refused)
            _log.Info("Change refused ({0}): {1}", refused.Kind, refused.Reason);
        JournalDecision(decision, Sender);
    }

    /// <summary>
    /// Answers which change a key was journaled as. A sender asks after it stopped waiting for
    /// its proposal: when there is none, that attempt is marked abandoned so it is refused should
    /// it still arrive, and what the sender was told stays true. (Messages from one node arrive
    /// in order, and a proposal being journaled holds back the commands behind it, so an answer
    /// here comes after the proposal was decided, if it had arrived.)
    /// </summary>
    private void OnFindByKey(FindChangeByKey query)
    {
        if (_state.ChangeForKey(query.IdempotencyKey) is { } change)
        {
            Sender.Tell(change);
            return;
        }
        if (query.AbandonedAttempt is { } attempt && _abandoned.Add(attempt))
        {
            _abandonedOrder.Enqueue(attempt);
            if (_abandonedOrder.Count > _settings.AbandonedAttemptsKept) _abandoned.Remove(_abandonedOrder.Dequeue());
        }
        Sender.Tell(new NoChangeForKey(query.IdempotencyKey));
    }

    private void JournalDecision(Decision decision, IActorRef replyTo)
    {
        if (decision.Events.IsEmpty)
        {
            if (decision.Reply is not null) replyTo.Tell(decision.Reply);
            return;
        }

        var remaining = decision.Events.Length;
        PersistAll(decision.Events, e =>
        {
            _state = _state.Apply(e);
            AfterJournaled(e);
            if (LastSequenceNr % _settings.SnapshotEvery == 0) SaveSnapshot(_state.ToSnapshot());
            if (--remaining == 0 && decision.Reply is not null) replyTo.Tell(decision.Reply);
        });
    }

    private void AfterJournaled(IConfigEvent e)
    {
        switch (e)
        {
            case ChangeProposed p:
                _log.Info("Change {0} proposed by {1} on intent version {2}; sent to ghost-shadow", p.ChangeId, p.Author, p.BaseVersion);
                SendToGhost(_state.Changes[p.ChangeId]);
                break;
            case ChangeRejected r:
                _log.Warning("Change {0} rejected by {1}: {2}", r.ChangeId, r.Verifier, string.Join("; ", r.Findings));
                break;
            case IntentAdopted a:
                _log.Warning("Config store adopted intent version {0} (change {1}) from {2}: this store's database was behind " +
                             "(the singleton moved to a node with its own SQLite file; share one PostgreSQL database to avoid this)",
                    a.Version, a.ChangeId, a.FromNode);
                PublishCommitted();
                break;
            case ChangeCommitted c:
                _log.Info("Change {0} committed as intent version {1}", c.ChangeId, c.Version);
                PublishCommitted();
                break;
        }
    }

    /// <summary>Sends a pending change to ghost-shadow, and keeps re-sending pending ones every republish-interval while any waits.</summary>
    private void SendToGhost(ChangeRecord change)
    {
        if (!Timers.IsTimerActive(RepublishPending.Instance)) Timers.StartPeriodicTimer(RepublishPending.Instance, RepublishPending.Instance, _settings.RepublishInterval);
        _mediator.Tell(new Publish(ConfigTopics.GhostProposals,
            new VerifyChange(change.ChangeId, change.BaseVersion, _state.Document, change.Document)));
    }

    private void PublishCommitted()
    {
        if (_state.Version == 0) return;
        _mediator.Tell(new Publish(ConfigTopics.Committed,
            new IntentCommitted(_state.Version, _state.CommittedChangeId, _state.Document)));
    }

    private sealed class OffersWindowClosed
    {
        public static readonly OffersWindowClosed Instance = new();
    }

    private sealed class RepublishPending
    {
        public static readonly RepublishPending Instance = new();
    }
}
