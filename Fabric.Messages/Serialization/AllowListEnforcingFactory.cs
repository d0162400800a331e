using System.Collections.Concurrent;
using System.Runtime.Serialization;
using Hyperion;
using Hyperion.SerializerFactories;
using Hyperion.ValueSerializers;

namespace Fabric.Messages.Serialization;

/// <summary>
/// Makes the writing side refuse what the reading side would refuse, at any depth, so a bad
/// message fails on the sender with a clear error instead of being dropped by the receiver.
/// </summary>
/// <remarks>
/// Hyperion itself checks only the root type on <c>Serialize</c>. But every type it meets while
/// writing (field types while compiling a writer, runtime types of polymorphic values) goes
/// through <c>Serializer.GetSerializerByType</c>, which asks the factories first; this factory
/// sits first and answers for refused types with a <see cref="RefusedTypeSerializer"/> that
/// throws only when a value would actually be written. It never throws while serializers are
/// being built: Hyperion caches a half-built serializer before building it, and an exception
/// at that point leaves a serializer that spins forever on next use.
/// Used by the writing Hyperion instance only (the reading instance has the name filter).
/// </remarks>
internal sealed class AllowListEnforcingFactory(FabricTypeFilter filter, IReadOnlyList<Surrogate> surrogates) : ValueSerializerFactory
{
    public override bool CanSerialize(Hyperion.Serializer serializer, Type type)
    {
        // Interfaces and abstract types are only declared types: the runtime type is what gets
        // named on the wire, and it comes through here when it is met.
        if (type.IsInterface || type.IsAbstract)
            return false;
        foreach (var surrogate in surrogates)
        {
            if (surrogate.IsSurrogateFor(type))
                return false; // written as its surrogate, which comes through here itself
        }
        return !filter.IsAllowed(type);
    }

    public override bool CanDeserialize(Hyperion.Serializer serializer, Type type) => false;

    public override ValueSerializer BuildSerializer(Hyperion.Serializer serializer, Type type, ConcurrentDictionary<Type, ValueSerializer> typeMapping)
    {
        var refused = new RefusedTypeSerializer(type, filter.Explain(type) ?? $"[{type}]");
        return typeMapping.GetOrAdd(type, refused);
    }
}

/// <summary>Stands in for a type that is not on the allow-list; fails as soon as it is used.</summary>
internal sealed class RefusedTypeSerializer(Type type, string reason) : ValueSerializer
{
    public override void WriteManifest(Stream stream, SerializerSession session) => throw Refusal();

    public override void WriteValue(Stream stream, object value, SerializerSession session) => throw Refusal();

    public override object ReadValue(Stream stream, DeserializerSession session) => throw Refusal();

    public override Type GetElementType() => type;

    private SerializationException Refusal() =>
        new($"FabricHyperionSerializer refuses to serialize type [{type}]: {reason}.");
}
