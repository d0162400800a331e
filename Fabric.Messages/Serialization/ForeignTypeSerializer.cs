using System.Runtime.Serialization;
using Akka.Actor;

namespace Fabric.Messages.Serialization;

/// <summary>
/// Takes the place of Akka's catch-all Newtonsoft JSON serializer (bound to System.Object,
/// identifier 1). That serializer writes and trusts .NET type names (TypeNameHandling.All),
/// so any peer could make a node instantiate any type. Here nothing falls back to it: sending
/// a type that is neither an Akka message with its own serializer nor an
/// <see cref="IFabricMessage"/> fails on the sender with the type's name, and a payload that
/// arrives under identifier 1 is refused (remoting logs and drops it; the association stays up).
/// </summary>
public sealed class ForeignTypeSerializer : Akka.Serialization.Serializer
{
    /// <summary>The identifier of the serializer it replaces, so payloads naming it find this one.</summary>
    public const int SerializerId = 1;

    public ForeignTypeSerializer(ExtendedActorSystem system) : base(system) { }

    public ForeignTypeSerializer(ExtendedActorSystem system, Akka.Configuration.Config config) : base(system) => _ = config;

    public override int Identifier => SerializerId;

    public override bool IncludeManifest => false;

    public override byte[] ToBinary(object obj) => throw new SerializationException(
        $"{obj.GetType().FullName} is not a Fabric message (IFabricMessage) and has no serializer of its own: " +
        "it cannot leave this node or be persisted");

    public override object FromBinary(byte[] bytes, Type type) => throw new SerializationException(
        $"refused a {bytes.Length}-byte payload for the catch-all JSON serializer (type {type?.FullName ?? "unnamed"}): " +
        "only Fabric messages and Akka's own messages are accepted");
}
