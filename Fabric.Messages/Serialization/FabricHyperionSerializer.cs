using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Configuration;
using Hyperion;
using Hyperion.Internal;
using Hyperion.SerializerFactories;
using HyperionSerializer = Hyperion.Serializer;

namespace Fabric.Messages.Serialization;

/// <summary>
/// The Akka serializer for every <see cref="IFabricMessage"/>: Hyperion, restricted to the types
/// of <see cref="FabricTypeFilter"/>. Bound in <c>hocon/serialization.conf</c>
/// (<see cref="FabricSerialization.Hocon"/>).
/// </summary>
/// <remarks>
/// <para>
/// A payload naming any other type is refused with a <see cref="SerializationException"/> that
/// names it; over remoting Akka logs that and drops the message, and the association stays up.
/// Writing is held to the same list (<see cref="AllowListEnforcingFactory"/>), so a message that
/// the receiver would refuse fails on the sender instead.
/// </para>
/// <para>
/// Only <see cref="IFabricMessage"/> roots are written or read. Hyperion writes type names into
/// the payload (there is no manifest): renaming or moving a persisted message type breaks
/// recovery, so message type names are a stable contract.
/// </para>
/// <para>
/// Wire format, fixed for the life of the journal: <c>preserveObjectReferences</c> on (an
/// instance shared within a message stays shared), <c>versionTolerance</c> off. Hyperion
/// 0.12.2's version tolerance writes field names into each type manifest but its reader skips
/// them and reads fields positionally anyway (checked: a field added or removed fails either
/// way), so it only costs bytes and a tag per field. Fields are written in field-name order, so
/// renaming, adding or removing a property of a persisted message breaks old rows: evolve it
/// by adding a new type. Changing either flag changes how fields are read: old journal rows
/// would no longer deserialize (WireFormatTests holds golden bytes).
/// </para>
/// </remarks>
public sealed class FabricHyperionSerializer : Akka.Serialization.Serializer
{
    // Wire format flags: see the remarks above before touching either.
    private const bool PreserveObjectReferences = true;
    private const bool VersionTolerance = false;

    private readonly FabricTypeFilter _filter;
    private readonly bool _fabricMessageRootsOnly;
    private readonly HyperionSerializer _writer;
    private readonly HyperionSerializer _reader;

    /// <summary>Called by Akka when the serializer has no <c>serialization-settings</c> section.</summary>
    public FabricHyperionSerializer(ExtendedActorSystem system)
        : this(system, FabricTypeFilter.Default, fabricMessageRootsOnly: true)
    {
    }

    /// <summary>
    /// Called by Akka when <c>akka.actor.serialization-settings.hyperion</c> exists. No key is
    /// read: the allow-list and the wire format are code, not configuration, so no deployment
    /// can loosen them.
    /// </summary>
    public FabricHyperionSerializer(ExtendedActorSystem system, Akka.Configuration.Config config)
        : this(system)
    {
        _ = config;
    }

    /// <summary>Tests only: another filter, and optionally any root type (to forge payloads).</summary>
    internal FabricHyperionSerializer(ExtendedActorSystem system, FabricTypeFilter filter, bool fabricMessageRootsOnly)
        : base(system)
    {
        _filter = filter;
        _fabricMessageRootsOnly = fabricMessageRootsOnly;

        var surrogates = new[] { ActorRefSurrogate.For(system) };
        // Two Hyperion instances: the writer also enforces the allow-list below the root; the
        // reader relies on the name filter, which Hyperion consults for every type name it reads.
        // The allow-list check must come before every other factory (it refuses what they would write).
        _writer = new HyperionSerializer(Options(surrogates, filter,
            [new AllowListEnforcingFactory(filter, surrogates), new ImmutableArraySerializerFactory(PreserveObjectReferences)]));
        _reader = new HyperionSerializer(Options(surrogates, filter, [new ImmutableArraySerializerFactory(PreserveObjectReferences)]));
    }

    /// <summary>
    /// 441, forever: Akka writes it next to every payload, in remoting frames and journal rows,
    /// to find the serializer again. Changing it makes every stored event unreadable.
    /// </summary>
    public override int Identifier => FabricSerialization.SerializerId;

    /// <summary>Hyperion names the type inside the payload, so Akka needs no manifest.</summary>
    public override bool IncludeManifest => false;

    public override byte[] ToBinary(object obj)
    {
        ArgumentNullException.ThrowIfNull(obj);
        var type = obj.GetType();
        if (_filter.Explain(type) is { } refused)
            throw new SerializationException($"FabricHyperionSerializer refuses to serialize type [{type}]: {refused}.");
        if (_fabricMessageRootsOnly && obj is not IFabricMessage)
            throw new SerializationException($"FabricHyperionSerializer only writes {nameof(IFabricMessage)} roots, not [{type}].");

        using var stream = new MemoryStream();
        try
        {
            _writer.Serialize(obj, stream);
        }
        catch (Exception e) when (e is not SerializationException)
        {
            throw new SerializationException($"FabricHyperionSerializer failed to serialize [{type}]: {e.Message}", e);
        }
        return stream.ToArray();
    }

    public override object FromBinary(byte[] bytes, Type type)
    {
        object result;
        try
        {
            using var stream = new MemoryStream(bytes, writable: false);
            result = _reader.Deserialize<object>(stream);
        }
        catch (Exception e)
        {
            if (FindRefusal(e) is { } refusal)
            {
                throw new SerializationException(
                    $"FabricHyperionSerializer refused a payload naming type [{refusal.BadTypeString}]: it is not on the allow-list.", e);
            }
            throw new SerializationException($"FabricHyperionSerializer failed to deserialize a payload: {e.Message}", e);
        }
        if (_fabricMessageRootsOnly && result is not IFabricMessage)
        {
            throw new SerializationException(
                $"FabricHyperionSerializer refused a payload whose root is [{result?.GetType().ToString() ?? "null"}], not an {nameof(IFabricMessage)}.");
        }
        return result;
    }

    private static SerializerOptions Options(Surrogate[] surrogates, ITypeFilter filter, ValueSerializerFactory[] factories) =>
        new(
            versionTolerance: VersionTolerance,
            preserveObjectReferences: PreserveObjectReferences,
            surrogates: surrogates,
            serializerFactories: factories,
            knownTypes: null,
            ignoreISerializable: true,
            packageNameOverrides: null,
            disallowUnsafeTypes: true,
            typeFilter: filter);

    // Hyperion wraps the filter's refusal (at any depth) in its own exceptions.
    private static EvilDeserializationException? FindRefusal(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is EvilDeserializationException evil)
                return evil;
        }
        return null;
    }
}
