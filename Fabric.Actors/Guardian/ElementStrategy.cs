using Akka.Actor;

namespace Fabric.Actors.Guardian;

/// <summary>
/// The supervisor strategy of an actor whose children are elements (the node guardian, the ghost
/// copy): the default one, except that a failed start is not logged with its stack on every
/// attempt: the <see cref="ElementReconciler"/> logs one warning line with the reason and the next delay.
/// </summary>
internal sealed class ElementStrategy(Func<Exception, Directive> decider) : OneForOneStrategy(decider)
{
    /// <summary>
    /// An element whose actor throws while it is created is stopped (as by default) and its failure
    /// handed to <paramref name="elements"/> for its retry; any other failure of a running element
    /// restarts it as by default.
    /// </summary>
    public static ElementStrategy For(ElementReconciler elements) => new(cause =>
    {
        if (cause is ActorInitializationException { Actor: { } child }) elements.InitFailed(child, cause);
        return SupervisorStrategy.DefaultDecider.Decide(cause);
    });

    protected override void LogFailure(IActorContext context, IActorRef child, Exception cause, Directive directive)
    {
        if (cause is not ActorInitializationException) base.LogFailure(context, child, cause, directive);
    }
}
