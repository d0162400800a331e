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
public sealed class GhostElementsActor : ReceiveActor
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly ElementReconciler _elements;
    private readonly GhostPlaneContext _plane;
    private readonly string _node;

    public GhostElementsActor(GhostPlaneContext plane, string node)
    {
        _plane = plane;
        _node = node;
        _elements = new ElementReconciler(plane.Kinds, node, _log, "ghost ");
        Receive<ApplyGhostIntent>(apply =>
        {
            var plan = _elements.Reconcile(Context, apply.Intent);
            if (plan.Start.Count + plan.Change.Count + plan.Stop.Count > 0)
                _log.Info("Ghost copy (session {0}): {1} started, {2} changed, {3} stopped", apply.Session, plan.Start.Count, plan.Change.Count, plan.Stop.Count);
            Sender.Tell(Readiness(apply.Session, []));
        });
        Receive<GetGhostReadiness>(q => Sender.Tell(Readiness(q.Session, q.PortKeys)));
    }

    public static Props Props(GhostPlaneContext plane, string node) => ActorProps.Of(() => new GhostElementsActor(plane, node));

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
        return new GhostIntentApplied(session, _node, _elements.Count, up, total, missing);
    }
}
