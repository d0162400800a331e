using Akka.Actor;

namespace Fabric.Actors;

/// <summary>
/// Props that create their actor by calling a delegate. <c>ActorProps.Of(() => new X(...))</c>
/// takes an expression tree and compiles each constructor argument's expression when the Props
/// is made (a dynamic method jitted per argument): a node starting 5,000 elements did that
/// 5,000 times, at the cost of several hundred milliseconds of JIT on the thread pool while the
/// elements came up. A delegate is compiled once, with the calling code.
/// </summary>
/// <remarks>
/// The delegate runs on every (re)start of the actor, as the expression did, with the same
/// captured arguments. Such Props are local only: they cannot be deployed remotely (no element
/// here is).
/// </remarks>
public static class ActorProps
{
    public static Props Of<TActor>(Func<TActor> create) where TActor : ActorBase =>
        Props.CreateBy(new Producer<TActor>(create));

    private sealed class Producer<TActor>(Func<TActor> create) : IIndirectActorProducer where TActor : ActorBase
    {
        public Type ActorType => typeof(TActor);

        public ActorBase Produce() => create();

        public void Release(ActorBase actor)
        {
        }
    }
}
