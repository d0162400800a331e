using Akka.Actor;
using Akka.Configuration;
using Fabric.Messages.Serialization;

namespace Fabric.Tests.Serialization;

/// <summary>
/// One local ActorSystem configured with Fabric's serialization HOCON, shared by a test class
/// (an ActorSystem per theory row would dominate the run time as message types accumulate).
/// </summary>
public class SerializationSystem : IDisposable
{
    public SerializationSystem() : this(Akka.Configuration.Config.Empty)
    {
    }

    protected SerializationSystem(Akka.Configuration.Config overrides)
    {
        System = ActorSystem.Create(
            "serialization-" + Guid.NewGuid().ToString("N")[..8],
            overrides.WithFallback(FabricSerialization.Config).WithFallback("akka.loglevel = WARNING"));
        ActorRef = System.ActorOf(Props.Empty, "reply-to");
    }

    public ActorSystem System { get; }

    /// <summary>A live actor to put into IActorRef fields (it must resolve again on deserialize).</summary>
    public IActorRef ActorRef { get; }

    public void Dispose()
    {
        System.Terminate().Wait(TimeSpan.FromSeconds(30));
        GC.SuppressFinalize(this);
    }
}

/// <summary>The same, with the serializer that also trusts the test shape types.</summary>
public sealed class ShapeSerializationSystem() : SerializationSystem(ConfigurationFactory.ParseString(
    $"akka.actor.serializers.hyperion = \"{typeof(ShapeTrustingSerializer).AssemblyQualifiedName}\""));
