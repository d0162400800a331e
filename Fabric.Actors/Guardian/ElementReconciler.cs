using Akka.Actor;
using Akka.Event;
using Fabric.Messages.Intent;

namespace Fabric.Actors.Guardian;

/// <summary>
/// Starts, updates and stops an actor's element children so they match an intent, for one set of
/// element kinds. The node guardian runs one over the main kinds; the ghost-shadow role runs one
/// over the ghost kinds, so ghost copies are the same element code reconciled the same way (a
/// proposal only touches the elements it changes).
/// With <paramref name="restart"/> (the node guardian) it also watches each element: one whose
/// actor failed to start, or stopped on its own, is created again with backoff (<see cref="ElementRestarts"/>)
/// from the spec the intent has then, until it starts; an intent that drops it ends the retries.
/// The owning actor (an <see cref="IWithTimers"/>) supervises with <see cref="ElementStrategy.For"/>
/// and forwards <see cref="Akka.Actor.Terminated"/> (<see cref="Ended"/>), <see cref="RetryElement"/>
/// (<see cref="Retry"/>) and <see cref="ActorIdentity"/> (<see cref="Identified"/>) to it.
/// </summary>
public sealed class ElementReconciler(ElementKindRegistry kinds, string node, ILoggingAdapter log, string plane = "", ElementRestartSettings? restart = null)
{
    private readonly Dictionary<string, (ElementSpec Spec, IActorRef Actor)> _running = new();
    private readonly ElementRestarts _restarts = new(restart ?? ElementRestartSettings.Default);
    private readonly Dictionary<IActorRef, string> _initFailures = new();

    /// <summary>Elements of the intent this reconciler runs or retries.</summary>
    public int Count => _running.Count;

    /// <summary>The elements whose actor runs (not those backing off after a failed start).</summary>
    public IEnumerable<ElementSpec> Running => _running.Where(r => !_restarts.Contains(r.Key)).Select(r => r.Value.Spec);

    /// <summary>Elements backing off after a failed start, with why.</summary>
    public IEnumerable<Fabric.Messages.Node.RestartingElement> Restarting => _restarts.Status();

    /// <summary>Reconciles the children of <paramref name="context"/>; returns the plan it carried out.</summary>
    public ElementPlan.Plan Reconcile(IUntypedActorContext context, IntentDocument intent)
    {
        var desired = new List<ElementSpec>();
        foreach (var kind in kinds.Kinds)
        {
            try
            {
                desired.AddRange(kind.Desired(intent, node));
            }
            catch (Exception e)
            {
                // One capability failing to read its part must not stop the others; its running
                // elements are kept as they are.
                log.Error(e, "Element kind {0} could not read the intent; its elements are left unchanged", kind.Kind);
                desired.AddRange(_running.Values.Where(r => r.Spec.Kind == kind.Kind).Select(r => r.Spec));
            }
        }

        var plan = ElementPlan.Between(_running.ToDictionary(r => r.Key, r => r.Value.Spec), desired);
        foreach (var name in plan.Stop)
        {
            var removed = _running[name].Spec;
            kinds.Kinds.FirstOrDefault(k => k.Kind == removed.Kind)?.Removed(removed);
            context.Stop(_running[name].Actor);
            _running.Remove(name);
            // Removed while backing off: no retry brings it back (a pending one finds it gone).
            if (_restarts.Forget(name)) log.Info("Stopped retrying {0}element {1}: the intent no longer has it", plane, name);
            else log.Info("Stopped {0}element {1}", plane, name);
        }
        foreach (var spec in plan.Change)
        {
            var running = _running[spec.ChildName];
            _running[spec.ChildName] = (spec, running.Actor);
            if (_restarts.Waiting(spec.ChildName))
            {
                // Its actor is gone: the next attempt starts from the new spec, now (it may be the fix).
                log.Info("Changed {0}element {1} while it was restarting: trying the new spec now", plane, spec.ChildName);
                Retry(context, spec.ChildName);
                continue;
            }
            running.Actor.Tell(new ElementSpecChanged(spec));
            log.Info("Changed {0}element {1}", plane, spec.ChildName);
        }
        foreach (var spec in plan.Start)
        {
            Create(context, spec);
            log.Info("Started {0}element {1}", plane, spec.ChildName);
        }
        return plan;
    }

    private IActorRef Create(IUntypedActorContext context, ElementSpec spec)
    {
        var kind = kinds.Kinds.First(k => k.Kind == spec.Kind);
        // A child of the same name may still be stopping (stopped by an earlier reconcile): a
        // unique suffix keeps the new one apart.
        var name = context.Child(spec.ChildName).IsNobody() ? spec.ChildName : $"{spec.ChildName}~{Guid.NewGuid():N}"[..Math.Min(spec.ChildName.Length + 9, 120)];
        var actor = context.ActorOf(kind.Props(spec), name);
        _running[spec.ChildName] = (spec, actor);
        if (restart is not null) context.Watch(actor);
        return actor;
    }

    /// <summary>
    /// From the owner's supervisor strategy: <paramref name="child"/> threw while it was created
    /// (<see cref="ActorInitializationException"/>); it is stopped, and its <see cref="Terminated"/>
    /// then schedules the retry with this reason.
    /// </summary>
    public void InitFailed(IActorRef child, Exception cause)
    {
        while (cause is System.Reflection.TargetInvocationException or ActorInitializationException && cause.InnerException is { } inner) cause = inner;
        _initFailures[child] = $"{cause.GetType().Name}: {cause.Message}";
    }

    /// <summary>The owner's timer message that creates a backing-off element again (<see cref="Retry"/>).</summary>
    public sealed record RetryElement(string ChildName);

    /// <summary>A watched element ended (<see cref="Terminated"/>): one that failed gets its <see cref="RetryElement"/> on the owner's <paramref name="timers"/> after its backoff.</summary>
    public void Ended(IActorRef actor, ITimerScheduler timers)
    {
        if (Terminated(actor) is { } retry) timers.StartSingleTimer("retry-" + retry.ChildName, new RetryElement(retry.ChildName), retry.Delay);
    }

    /// <summary>
    /// A watched element ended. If the intent still has it (the same actor: not one stopped by a
    /// reconcile), it failed: returns the child name and how long to wait before <see cref="Retry"/>.
    /// </summary>
    private (string ChildName, TimeSpan Delay)? Terminated(IActorRef actor)
    {
        var failedToStart = _initFailures.Remove(actor, out var error);
        error ??= "the element stopped on its own";
        var entry = _running.FirstOrDefault(r => r.Value.Actor.Equals(actor));
        if (entry.Key is null) return null;
        var delay = _restarts.Failed(entry.Value.Spec, error);
        log.Warning("{0}element {1} {2} ({3}); starting it again in {4} ms", plane, entry.Key,
            failedToStart ? "failed to start" : "stopped", error, (long)delay.TotalMilliseconds);
        return (entry.Key, delay);
    }

    /// <summary>
    /// Creates a backing-off element again from the spec the intent has now, and asks it to
    /// identify itself: only an actor that got through its start answers (<see cref="Identified"/>).
    /// Does nothing when the element left the intent meanwhile, or an attempt is in flight.
    /// </summary>
    public void Retry(IUntypedActorContext context, string childName)
    {
        if (!_restarts.Waiting(childName) || !_running.TryGetValue(childName, out var entry)) return;
        _restarts.Attempting(childName);
        Create(context, entry.Spec).Tell(new Identify(childName), context.Self);
    }

    /// <summary>An element created by <see cref="Retry"/> answered: it started; its backoff is over.</summary>
    public void Identified(ActorIdentity identity)
    {
        if (identity is not { MessageId: string childName, Subject: { } subject }
            || !_running.TryGetValue(childName, out var entry) || !entry.Actor.Equals(subject)) return;
        if (_restarts.Forget(childName)) log.Info("{0}element {1} started after failing to", plane, childName);
    }
}
