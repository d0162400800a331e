using Akka.Actor;
using Akka.Event;
using Fabric.Actors.Guardian;
using Fabric.Messages.Ghost;
using Fabric.Messages.Intent;

namespace Fabric.Actors.Ghost;

/// <summary>
/// /user/ghost/elements: this node's ghost copies. The same element kinds as main, built on the
/// ghost plane (ghost ports, ghost underlay, own flow caches), reconciled to whatever intent the
/// verifier applies — the main intent between proposals (the standing copy), the proposal while
/// it is verified. A proposal therefore only starts, changes and stops what it touches.
/// </summary>
/// <para>
/// Between verifications the copy is quiet: its links' liveness runs slower
/// (<see cref="GhostPlaneContext.LivenessPace"/>, e.g. ghost PW hellos at 16x their interval), so
/// an idle node does not spend on a copy nobody looks at what main spends on its real PWs. Any
/// verifier request (an apply, a readiness poll) makes it fast again at once; it goes quiet when
/// none has come for <see cref="GhostSettings.QuietAfter"/>. Readiness reports the longest
/// detection time in effect, which the verifier waits out before it judges a proposal.
/// </para>
/// <para>
/// A ghost element whose actor fails to start (its ghost PE's underlay address held by another
/// process, say) is started again with backoff, as on main, and readiness names it with why: the
/// verifier says so in its verdict instead of "the element is not running in the ghost copy".
/// </para>
public sealed class GhostElementsActor : ReceiveActor, IWithTimers
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly ElementReconciler _elements;
    private readonly GhostPlaneContext _plane;
    private readonly string _node;
    private readonly TimeSpan _quietAfter;
    private long _lastRequest = Environment.TickCount64;
    private bool _quiet;

    public ITimerScheduler Timers { get; set; } = null!;

    public GhostElementsActor(GhostPlaneContext plane, string node, TimeSpan quietAfter, ElementRestartSettings? restart = null)
    {
        _plane = plane;
        _node = node;
        _quietAfter = quietAfter;
        _elements = new ElementReconciler(plane.Kinds, node, _log, "ghost ", restart ?? ElementRestartSettings.Default);
        Receive<ApplyGhostIntent>(apply =>
        {
            Busy();
            // Before the elements change: PWs the verification judges are fast before it starts judging them.
            SetUrgent(apply.UrgentPws.IsDefaultOrEmpty ? NoPws : apply.UrgentPws.ToHashSet(StringComparer.Ordinal));
            var plan = _elements.Reconcile(Context, apply.Intent);
            if (plan.Start.Count + plan.Change.Count + plan.Stop.Count > 0)
                _log.Info("Ghost copy (session {0}): {1} started, {2} changed, {3} stopped", apply.Session, plan.Start.Count, plan.Change.Count, plan.Stop.Count);
            Sender.Tell(Readiness(apply.Session, []));
        });
        Receive<GetGhostReadiness>(q =>
        {
            Busy();
            Sender.Tell(Readiness(q.Session, q.PortKeys));
        });
        // A ghost element that failed to start (or stopped on its own) is created again with backoff.
        Receive<Terminated>(t => _elements.Ended(t.ActorRef, Timers));
        Receive<ElementReconciler.RetryElement>(r => _elements.Retry(Context, r.ChildName));
        Receive<ActorIdentity>(_elements.Identified);
        Receive<QuietTick>(_ =>
        {
            var idle = TimeSpan.FromMilliseconds(Environment.TickCount64 - _lastRequest);
            if (idle >= _quietAfter)
            {
                SetQuiet(true);
            }
            else
            {
                Timers.StartSingleTimer(QuietTick.Instance, QuietTick.Instance, _quietAfter - idle);
            }
        });
    }

    public static Props Props(GhostPlaneContext plane, string node, TimeSpan quietAfter, ElementRestartSettings? restart = null) =>
        ActorProps.Of(() => new GhostElementsActor(plane, node, quietAfter, restart));

    protected override SupervisorStrategy SupervisorStrategy() => ElementStrategy.For(_elements);

    protected override void PreStart()
    {
        if (_quietAfter > TimeSpan.Zero)
        {
            Timers.StartSingleTimer(QuietTick.Instance, QuietTick.Instance, _quietAfter);
        }
    }

    /// <summary>A verifier request: the copy runs fast from now until <see cref="_quietAfter"/> passes without one.</summary>
    private void Busy()
    {
        _lastRequest = Environment.TickCount64;
        if (_quietAfter <= TimeSpan.Zero)
        {
            return;
        }

        if (_quiet)
        {
            SetQuiet(false);
        }

        if (!Timers.IsTimerActive(QuietTick.Instance))
        {
            Timers.StartSingleTimer(QuietTick.Instance, QuietTick.Instance, _quietAfter);
        }
    }

    private void SetQuiet(bool quiet)
    {
        _quiet = quiet;
        if (quiet) SetUrgent(NoPws); // no verification now
        foreach (var pace in _plane.LivenessPace)
        {
            pace.SetQuiet(quiet);
        }
    }

    private static readonly IReadOnlySet<string> NoPws = new HashSet<string>();

    private void SetUrgent(IReadOnlySet<string> pws)
    {
        foreach (var pace in _plane.LivenessPace)
        {
            pace.SetUrgent(pws);
        }
    }

    private sealed class QuietTick
    {
        public static readonly QuietTick Instance = new();
    }

    private GhostIntentApplied Readiness(long session, IReadOnlyCollection<string> ports)
    {
        var missing = ports.Count(k => !_plane.Ports.TryFind(k, out _));
        int up = 0, total = 0;
        foreach (var probe in _plane.Liveness)
        {
            var (u, t) = probe();
            up += u;
            total += t;
        }
        var detection = _plane.LivenessPace.Select(p => p.LongestDetection()).DefaultIfEmpty(TimeSpan.Zero).Max();
        return new GhostIntentApplied(session, _node, _elements.Count, up, total, missing, detection.TotalMilliseconds, [.. _elements.Restarting]);
    }
}
