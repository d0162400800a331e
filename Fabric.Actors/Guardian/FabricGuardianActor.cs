using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using Fabric.Messages.Config;
using Fabric.Messages.Intent;
using Fabric.Messages.Node;

namespace Fabric.Actors.Guardian;

/// <summary>
/// /user/fabric: the node guardian. Fetches the committed intent at start (so a joining or
/// restarted node misses nothing), then follows every commit, newest version wins: each
/// commit carries the whole intent, so a skipped version loses nothing. A periodic resync
/// catches a publication that raced the spreading of this node's subscription. Capability issues hang
/// their element actors (PEs, gateways, MFE, hypervisors) under it.
/// </summary>
public sealed class FabricGuardianActor : ReceiveActor, IWithTimers
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IActorRef _configStore;
    private readonly string _node;
    private readonly TimeSpan _fetchRetry;
    private AppliedIntent _applied;
    private bool _fetched;
    private string _document = "";

    /// <summary>How often the guardian re-reads the committed intent after its first fetch.</summary>
    public static readonly TimeSpan ResyncInterval = TimeSpan.FromSeconds(5);

    public ITimerScheduler Timers { get; set; } = null!;

    private readonly ElementReconciler _elements;

    /// <summary>Where the last applied intent is kept for a warm start (see <see cref="LastAppliedIntent"/>); null = none.</summary>
    private readonly LastAppliedIntent? _lastApplied;

    /// <summary>The intent applied last, for listing what runs and what restarts when asked.</summary>
    private IntentDocument? _intent;

    public FabricGuardianActor(IActorRef configStore, string node, TimeSpan fetchRetry, ElementKindRegistry kinds, string? lastAppliedPath = null,
        ElementRestartSettings? restart = null)
    {
        _lastApplied = lastAppliedPath is null ? null : new LastAppliedIntent(lastAppliedPath);
        _elements = new ElementReconciler(kinds, node, _log, restart: restart ?? Settings.FabricSettings.Get(Context.System).Elements);
        _configStore = configStore;
        _node = node;
        _fetchRetry = fetchRetry;
        _applied = new AppliedIntent(node, 0, 0, ImmutableArray<HostedElement>.Empty);

        Receive<FetchIntent>(_ => _configStore.Tell(GetIntent.Instance));
        Receive<CurrentIntent>(current =>
        {
            if (!_fetched)
            {
                // Answered once: from now on a slow resync only covers commits whose pub-sub
                // publication raced this node's subscription spreading through the cluster.
                _fetched = true;
                Timers.StartPeriodicTimer(FetchIntent.Instance, FetchIntent.Instance, ResyncInterval);
            }
            if (current.Version < _applied.Version && _document.Length > 0)
            {
                _log.Warning("Config store is at intent version {0}, this node runs {1}: offering it", current.Version, _applied.Version);
                _configStore.Tell(new OfferIntent(_applied.Version, _applied.ChangeId, _document, _node));
                return;
            }
            Apply(current.Version, current.ChangeId, current.Document);
        });
        Receive<IntentCommitted>(c => Apply(c.Version, c.ChangeId, c.Document));
        // A config store that just started asks what this node runs before it accepts proposals.
        Receive<RequestIntentOffer>(_ => Sender.Tell(new OfferIntent(_applied.Version, _applied.ChangeId, _document, _node)));
        Receive<GetAppliedIntent>(_ => Sender.Tell(_applied with
        {
            Elements = _intent is null ? _applied.Elements : HostedElements.Running(_intent, _node, _elements.Running),
            Restarting = [.. _elements.Restarting],
        }));
        // An element that failed to start (or stopped on its own) is created again with backoff.
        Receive<Terminated>(t => _elements.Ended(t.ActorRef, Timers));
        Receive<ElementReconciler.RetryElement>(r => _elements.Retry(Context, r.ChildName));
        Receive<ActorIdentity>(_elements.Identified);
        // Tells the ghost-shadow role this node is up (it places ghost copies and names down nodes).
        Receive<Fabric.Messages.Ghost.IdentifyNodes>(_ => Announce());
        Receive<AnnounceTick>(_ => Announce());
        Receive<Fabric.Messages.Ghost.NodeIdentity>(_ => { });
        Receive<HostingStarted>(_ => StartFromLastApplied());
        Receive<SubscribeAck>(_ => { });
    }

    /// <summary>
    /// An element whose actor throws while it is created is stopped (as by default) and its failure
    /// noted for its retry; any other failure of a running element restarts it as by default.
    /// </summary>
    protected override SupervisorStrategy SupervisorStrategy() => ElementStrategy.For(_elements);

    protected override void PreStart()
    {
        DistributedPubSub.Get(Context.System).Mediator.Tell(new Subscribe(ConfigTopics.Committed, Self));
        DistributedPubSub.Get(Context.System).Mediator.Tell(new Subscribe(Fabric.Messages.Ghost.GhostTopics.Nodes, Self));
        Timers.StartPeriodicTimer(AnnounceTick.Instance, AnnounceTick.Instance, AnnounceInterval);
        Self.Tell(FetchIntent.Instance);
        Timers.StartPeriodicTimer(FetchIntent.Instance, FetchIntent.Instance, _fetchRetry);
    }

    /// <summary>
    /// A restarted node whose config store has not answered yet starts the elements of the intent
    /// it ran last (from its data directory), so its data plane (attachment circuits, gateway
    /// ports, re-attached to their persistent TAPs) is back without waiting for the store to
    /// recover. It does not count as applied: the store's answer is reconciled as usual (the same
    /// document changes nothing; a newer one changes what differs) and is never offered to the store.
    /// </summary>
    private void StartFromLastApplied()
    {
        if (_applied.Version > 0 || _elements.Count > 0 || _lastApplied?.Read() is not { Document.Length: > 0 } last) return;
        var parsed = IntentParser.Parse(last.Document, IntentParseLimits.Trusted);
        if (!parsed.IsValid || parsed.Document is null)
        {
            _log.Warning("The last applied intent (version {0}) in {1} cannot be read; waiting for the config store", last.Version, _lastApplied.Path);
            return;
        }
        Reconcile(parsed.Document);
        _log.Info("Started {0} element(s) from the last applied intent version {1} while the config store is not answering yet",
            _elements.Count, last.Version);
    }

    private void Apply(long version, long changeId, string document)
    {
        // The store is authoritative unless it is behind (then the guardian offers, see above).
        if (version < _applied.Version || (version == _applied.Version && document == _document)) return;
        if (string.IsNullOrEmpty(document))
        {
            _applied = new AppliedIntent(_node, version, changeId, ImmutableArray<HostedElement>.Empty);
            _intent = null;
            _document = "";
            KeepForWarmStart(version, "");
            return;
        }

        var parsed = IntentParser.Parse(document, IntentParseLimits.Trusted);
        if (!parsed.IsValid || parsed.Document is null)
        {
            // The store only commits verified documents; a document this node cannot read means
            // a newer schema than this binary knows. Keep running the last good intent.
            _log.Error("Cannot apply intent version {0}: {1}", version, string.Join("; ", parsed.Errors));
            return;
        }

        Reconcile(parsed.Document);
        var elements = HostedElements.Running(parsed.Document, _node, _elements.Running);
        _log.Info("Applied intent version {0} (change {1}): {2} element(s) hosted on {3}",
            version, changeId, elements.Length, _node);
        _applied = new AppliedIntent(_node, version, changeId, elements);
        _intent = parsed.Document;
        _document = document;
        KeepForWarmStart(version, document);
    }

    private void KeepForWarmStart(long version, string document)
    {
        try
        {
            _lastApplied?.Write(version, document);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _log.Warning("Cannot keep the applied intent for a warm start in {0}: {1}", _lastApplied!.Path, e.Message);
        }
    }

    /// <summary>Starts, updates and stops element children so they match <paramref name="intent"/>.</summary>
    private void Reconcile(IntentDocument intent) => _elements.Reconcile(Context, intent);

    /// <summary>How often the node announces itself to the ghost-shadow role.</summary>
    public static readonly TimeSpan AnnounceInterval = TimeSpan.FromSeconds(1);

    private void Announce() =>
        DistributedPubSub.Get(Context.System).Mediator.Tell(new Publish(Fabric.Messages.Ghost.GhostTopics.Nodes,
            new Fabric.Messages.Ghost.NodeIdentity(0, _node, false)));

    private sealed class AnnounceTick
    {
        public static readonly AnnounceTick Instance = new();
    }

    /// <summary>
    /// Told by the node's hosting once every capability is registered (shard regions included),
    /// not before, so elements start as they would from the store: then a restarted node starts
    /// from the intent it applied last (<see cref="StartFromLastApplied"/>). It does not wait for
    /// this member to be Up: a node rejoining its cluster forwards meanwhile.
    /// </summary>
    public sealed class HostingStarted
    {
        public static readonly HostingStarted Instance = new();

        private HostingStarted()
        {
        }
    }

    private sealed class FetchIntent
    {
        public static readonly FetchIntent Instance = new();
    }
}
