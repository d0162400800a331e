using Akka.Actor;
using Hyperion;

namespace Fabric.Messages.Serialization;

/// <summary>
/// How an <see cref="IActorRef"/> inside a Fabric message travels: as its serialized path
/// (<see cref="Akka.Serialization.Serialization.SerializedActorPath"/>, which adds the sending
/// node's address when remoting), resolved back with the receiving system's provider.
/// </summary>
/// <remarks>
/// A Fabric type rather than Akka's <c>ActorRefBase+Surrogate</c>: its name is written into
/// payloads and journal rows, so it must be ours to keep stable. Never rename or move it.
/// </remarks>
internal sealed record ActorRefSurrogate(string Path)
{
    internal static Surrogate For(ActorSystem system) =>
        Surrogate.Create<IActorRef, ActorRefSurrogate>(
            actorRef => new ActorRefSurrogate(
                ActorRefs.Nobody.Equals(actorRef) ? "" : Akka.Serialization.Serialization.SerializedActorPath(actorRef)),
            surrogate => surrogate.Path.Length == 0
                ? ActorRefs.Nobody
                : ((ExtendedActorSystem)system).Provider.ResolveActorRef(surrogate.Path));
}
