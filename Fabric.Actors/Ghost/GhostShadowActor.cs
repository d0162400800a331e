using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Event;
using Fabric.Actors.Guardian;
using Fabric.Messages.Config;
using Fabric.Messages.Ghost;
using Fabric.Messages.Intent;

namespace Fabric.Actors.Ghost;

/// <summary>
/// /user/ghost on ghost-shadow nodes. Keeps this node's ghost copies (child <c>elements</c>)
/// mirroring the committed intent; serves the coordinating verifier (applies a ghost intent,
/// injects probes into ghost ports, hands over recorded hops); learns which nodes are up from
/// their identity heartbeats; and, on the oldest ghost-shadow member, coordinates: one
/// <see cref="VerificationSession"/> per proposed change, one at a time.
/// </summary>
public sealed class GhostShadowActor : ReceiveActor, IWithTimers
{
    private const int MaxDecided = 1000;

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IActorRef _configStore;
    private readonly string _node;
    private readonly GhostPlaneContext _plane;
    private readonly ProbeTracer _tracer;
    private readonly GhostSettings _settings;
    private readonly Cluster _cluster = Cluster.Get(Context.System);
    private readonly IActorRef _mediator = DistributedPubSub.Get(Context.System).Mediator;
    private readonly Dictionary<string, (long SeenAt, Address Address, bool Ghost, IActorRef? Ref)> _nodes = new(StringComparer.Ordinal);
    private readonly Queue<VerifyChange> _queue = new();
    private readonly HashSet<long> _decided = [];
    private readonly Queue<long> _decidedOrder = new();
    private IActorRef _elements = ActorRefs.Nobody;
    private (long ChangeId, IActorRef Session)? _running;
    private IntentCommitted? _mirror;
    private bool _mirrorDeferred;
    private uint _nextId = (uint)Random.Shared.Next(1 << 20, 1 << 30);
    private int _identifyRounds;
    /// <summary>Identify rounds (each <see cref="GhostSettings.IdentifyWait"/>) before silent members count as down.</summary>
    private const int MaxIdentifyRounds = 10;

    public ITimerScheduler Timers { get; set; } = null!;

    public GhostShadowActor(IActorRef configStore, string node, GhostPlaneContext plane, ProbeTracer tracer, GhostSettings settings)
    {
        _configStore = configStore;
        _node = node;
        _plane = plane;
        _tracer = tracer;
        _settings = settings;

        Receive<VerifyChange>(OnVerify);
        Receive<StartTick>(_ => StartNext());
        Receive<IntentCommitted>(c =>
        {
            if (_mirror is { } m && m.Version >= c.Version) return;
            _mirror = c;
            if (_running is null) ApplyMirror();
            else _mirrorDeferred = true;
        });
        Receive<NodeIdentity>(OnIdentity);
        Receive<IdentifyNodes>(_ => Announce());
        Receive<AnnounceTick>(_ => Announce());
        Receive<ApplyGhostIntent>(a => _elements.Forward(a));
        Receive<GetGhostReadiness>(q => _elements.Forward(q));
        Receive<InjectProbes>(OnInject);
        Receive<CollectHops>(q => Sender.Tell(new ProbeHops(q.Session, _node, [.. _tracer.Collect(q.First, q.Last)])));
        Receive<CountHops>(q =>
        {
            var (hops, ended) = _tracer.Count(q.First, q.Last);
            Sender.Tell(new HopCount(q.Session, _node, hops, ended));
        });
        Receive<VerificationSession.Done>(d => Finished(d.ChangeId));
        Receive<Terminated>(t =>
        {
            if (_running is { } r && r.Session.Equals(t.ActorRef)) Finished(r.ChangeId);
        });
        Receive<CurrentIntent>(c =>
        {
            if (c.Version > 0) Self.Tell(new IntentCommitted(c.Version, c.ChangeId, c.Document));
        });
        Receive<GhostIntentApplied>(_ => { });
        Receive<SubscribeAck>(_ => { });
    }

    public static Props Props(IActorRef configStore, string node, GhostPlaneContext plane, ProbeTracer tracer, GhostSettings settings) =>
        ActorProps.Of(() => new GhostShadowActor(configStore, node, plane, tracer, settings));

    protected override void PreStart()
    {
        _elements = Context.ActorOf(GhostElementsActor.Props(_plane, _node, _settings.QuietAfter, _settings.ElementRestart), "elements");
        _mediator.Tell(new Subscribe(ConfigTopics.GhostProposals, Self));
        _mediator.Tell(new Subscribe(ConfigTopics.Committed, Self));
        _mediator.Tell(new Subscribe(GhostTopics.Nodes, Self));
        Timers.StartPeriodicTimer(AnnounceTick.Instance, AnnounceTick.Instance, _settings.IdentityInterval);
        _configStore.Tell(GetIntent.Instance); // the standing copy starts from the committed intent
    }

    private void Announce() => _mediator.Tell(new Publish(GhostTopics.Nodes, new NodeIdentity(0, _node, true)));

    private void OnIdentity(NodeIdentity id)
    {
        var address = Sender.Path.Address.HasLocalScope ? _cluster.SelfAddress : Sender.Path.Address;
        var known = _nodes.GetValueOrDefault(id.Node);
        _nodes[id.Node] = (Environment.TickCount64, address, known.Ghost || id.GhostShadow, id.GhostShadow ? Sender : known.Ref);
    }

    private void OnVerify(VerifyChange change)
    {
        if (!IsCoordinator()) return;
        if (_decided.Contains(change.ChangeId) || _running?.ChangeId == change.ChangeId || _queue.Any(q => q.ChangeId == change.ChangeId)) return;
        _queue.Enqueue(change);
        if (_running is null)
        {
            // A cluster of this node alone has nobody to ask: start now (identify-wait is 300 ms).
            if (_cluster.State.Members.All(m => m.Address.Equals(_cluster.SelfAddress)))
            {
                StartNext();
                return;
            }
            // Ask every node to say who it is now, and start once the answers are in.
            _mediator.Tell(new Publish(GhostTopics.Nodes, new IdentifyNodes(change.ChangeId)));
            Timers.StartSingleTimer(StartTick.Instance, StartTick.Instance, _settings.IdentifyWait);
        }
    }

    private void StartNext()
    {
        if (_running is not null || _queue.Count == 0) return;
        // A member that is up but not heard from yet (pub-sub still spreading) must not be taken
        // for a down node: wait for its identity a little (bounded).
        var known = _nodes.Values.Where(n => Environment.TickCount64 - n.SeenAt <= _settings.IdentityInterval.TotalMilliseconds * 3).Select(n => n.Address).ToHashSet();
        known.Add(_cluster.SelfAddress);
        var silent = _cluster.State.Members.Count(m => m.Status == MemberStatus.Up && !known.Contains(m.Address));
        if (silent > 0 && _identifyRounds++ < MaxIdentifyRounds)
        {
            _mediator.Tell(new Publish(GhostTopics.Nodes, new IdentifyNodes(_queue.Peek().ChangeId)));
            Timers.StartSingleTimer(StartTick.Instance, StartTick.Instance, _settings.IdentifyWait);
            return;
        }
        _identifyRounds = 0;
        var change = _queue.Dequeue();
        var (alive, ghosts) = View();
        var session = Context.ActorOf(VerificationSession.Props(change, _node, alive, ghosts, _plane, _configStore, AllocateIds, _settings), $"verify-{change.ChangeId}-{_nextId}");
        Context.Watch(session);
        _running = (change.ChangeId, session);
    }

    private void Finished(long changeId)
    {
        _running = null;
        if (_decided.Add(changeId))
        {
            _decidedOrder.Enqueue(changeId);
            while (_decidedOrder.Count > MaxDecided) _decided.Remove(_decidedOrder.Dequeue());
        }
        if (_mirrorDeferred)
        {
            _mirrorDeferred = false;
            ApplyMirror();
        }
        if (_queue.Count > 0) Self.Tell(StartTick.Instance);
    }

    /// <summary>The standing copy: this node's own elements of the committed intent.</summary>
    private void ApplyMirror()
    {
        if (_mirror is not { } m || string.IsNullOrEmpty(m.Document)) return;
        var parsed = IntentParser.Parse(m.Document, IntentParseLimits.Trusted); // committed: the store accepted it
        if (!parsed.IsValid || parsed.Document is null) return;
        _elements.Tell(new ApplyGhostIntent(0, _node, parsed.Document));
    }

    private void OnInject(InjectProbes inject)
    {
        var injected = 0;
        var missing = new List<uint>();
        foreach (var f in inject.Frames)
        {
            if (_plane.Ports.TryFind(f.PortKey, out var port))
            {
                port.Inject(f.Frame);
                injected++;
            }
            else
            {
                missing.Add(f.Id);
                _tracer.Drop(f.Frame, $"ghost port {f.PortKey}", "no-port (the element that owns this attachment is not running in the ghost copy)");
            }
        }
        Sender.Tell(new ProbesInjected(inject.Session, _node, injected, [.. missing]));
    }

    /// <summary>The oldest up member with the ghost-shadow role coordinates verifications.</summary>
    private bool IsCoordinator()
    {
        var oldest = _cluster.State.Members
            .Where(m => m.Status == MemberStatus.Up && m.HasRole(GhostHosting.Role))
            .OrderBy(m => m, Member.AgeOrdering)
            .FirstOrDefault();
        return oldest is null || oldest.Address.Equals(_cluster.SelfAddress);
    }

    /// <summary>Nodes heard recently whose member is up and reachable; the ghost-shadow ones with their actor.</summary>
    private (Dictionary<string, bool> Alive, List<GhostNode> Ghosts) View()
    {
        var now = Environment.TickCount64;
        var horizon = (long)(_settings.IdentityInterval.TotalMilliseconds * 3);
        var up = _cluster.State.Members.Where(m => m.Status == MemberStatus.Up).Select(m => m.Address).ToHashSet();
        var unreachable = _cluster.State.Unreachable.Select(m => m.Address).ToHashSet();
        var alive = new Dictionary<string, bool>(StringComparer.Ordinal) { [_node] = true };
        var ghosts = new List<GhostNode> { new(_node, Self) };
        foreach (var (name, seen) in _nodes)
        {
            if (name == _node || now - seen.SeenAt > horizon || !up.Contains(seen.Address) || unreachable.Contains(seen.Address)) continue;
            alive[name] = seen.Ghost && seen.Ref is not null;
            if (seen.Ghost && seen.Ref is { } r) ghosts.Add(new GhostNode(name, r));
        }
        return (alive, ghosts);
    }

    private uint AllocateIds(int count)
    {
        // Called from the session's thread: ids only need to be unique per coordinator.
        var first = Interlocked.Add(ref _nextId, (uint)Math.Max(1, count)) - (uint)Math.Max(1, count);
        return first;
    }

    private sealed class StartTick
    {
        public static readonly StartTick Instance = new();
    }

    private sealed class AnnounceTick
    {
        public static readonly AnnounceTick Instance = new();
    }
}
