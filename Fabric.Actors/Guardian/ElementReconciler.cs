using Akka.Actor;
using Akka.Event;
using Fabric.Messages.Intent;

namespace Fabric.Actors.Guardian;

/// <summary>
/// Starts, updates and stops an actor's element children so they match an intent, for one set of
/// element kinds. The node guardian runs one over the main kinds; the ghost-shadow role runs one
/// over the ghost kinds, so ghost copies are the same element code reconciled the same way (a
/// proposal only touches the elements it changes).
/// </summary>
public sealed class ElementReconciler(ElementKindRegistry kinds, string node, ILoggingAdapter log, string plane = "")
{
    private readonly Dictionary<string, (ElementSpec Spec, IActorRef Actor)> _running = new();

    public int Count => _running.Count;

    public IEnumerable<ElementSpec> Running => _running.Values.Select(r => r.Spec);

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
            log.Info("Stopped {0}element {1}", plane, name);
        }
        foreach (var spec in plan.Change)
        {
            var running = _running[spec.ChildName];
            running.Actor.Tell(new ElementSpecChanged(spec));
            _running[spec.ChildName] = (spec, running.Actor);
            log.Info("Changed {0}element {1}", plane, spec.ChildName);
        }
        foreach (var spec in plan.Start)
        {
            var kind = kinds.Kinds.First(k => k.Kind == spec.Kind);
            // A child of the same name may still be stopping (stopped by an earlier reconcile): a
            // unique suffix keeps the new one apart.
            var name = context.Child(spec.ChildName).IsNobody() ? spec.ChildName : $"{spec.ChildName}~{Guid.NewGuid():N}"[..Math.Min(spec.ChildName.Length + 9, 120)];
            _running[spec.ChildName] = (spec, context.ActorOf(kind.Props(spec), name));
            log.Info("Started {0}element {1}", plane, spec.ChildName);
        }
        return plan;
    }
}
