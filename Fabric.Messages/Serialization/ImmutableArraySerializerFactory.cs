using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Runtime.InteropServices;
using System.Runtime.Serialization;
using Hyperion;
using Hyperion.SerializerFactories;
using Hyperion.ValueSerializers;

namespace Fabric.Messages.Serialization;

/// <summary>
/// Serializes <see cref="ImmutableArray{T}"/>, including <c>default</c>, which Hyperion 0.12.2
/// cannot write (its immutable-collection writer asks a default array for its count and throws).
/// </summary>
/// <remarks>
/// Same bytes as Hyperion's own immutable-collection serializer for every initialized array:
/// type manifest, Int32 count, each element as an object, then (with reference preservation)
/// the array tracked after its elements, exactly as Hyperion does on both sides. A default
/// array is written with count -1 and read back as default, so a round trip is exact.
/// The reader refuses a count larger than the bytes left, so a forged count cannot make it
/// allocate a huge array.
/// </remarks>
/// <param name="preserveObjectReferences">The option the Hyperion instance was built with (Hyperion keeps it internal).</param>
internal sealed class ImmutableArraySerializerFactory(bool preserveObjectReferences) : ValueSerializerFactory
{
    private const int DefaultArrayCount = -1;

    public override bool CanSerialize(Hyperion.Serializer serializer, Type type) =>
        type.IsGenericType && type.GetGenericTypeDefinition() == typeof(ImmutableArray<>);

    public override bool CanDeserialize(Hyperion.Serializer serializer, Type type) => CanSerialize(serializer, type);

    public override ValueSerializer BuildSerializer(Hyperion.Serializer serializer, Type type, ConcurrentDictionary<Type, ValueSerializer> typeMapping)
    {
        var arraySerializer = new ObjectSerializer(type);
        // Registered before the element serializer is looked up, so recursive types find it.
        typeMapping.TryAdd(type, arraySerializer);
        try
        {
            typeof(ImmutableArraySerializerFactory)
                .GetMethod(nameof(Initialize), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
                .MakeGenericMethod(type.GetGenericArguments()[0])
                .Invoke(null, [serializer, arraySerializer, preserveObjectReferences]);
        }
        catch (Exception e)
        {
            // Hyperion has already cached this serializer; left uninitialized it would make every
            // later use spin forever. Initialize it to fail instead.
            var error = (e as System.Reflection.TargetInvocationException)?.InnerException ?? e;
            arraySerializer.Initialize(
                reader: (_, _) => throw new SerializationException($"Cannot read {type}: {error.Message}", error),
                writer: (_, _, _) => throw new SerializationException($"Cannot write {type}: {error.Message}", error));
        }
        return arraySerializer;
    }

    private static void Initialize<T>(Hyperion.Serializer serializer, ObjectSerializer arraySerializer, bool preserveReferences)
    {
        var elementSerializer = serializer.GetSerializerByType(typeof(T));
        // Hyperion never tracks its primitives (they have no identity to share), so looking
        // them up is wasted work; skipping it leaves the bytes unchanged.
        var elementsCanBeShared = preserveReferences && !IsUntrackedPrimitive(typeof(T));

        arraySerializer.Initialize(
            reader: (stream, session) =>
            {
                var count = ReadInt32(stream);
                ImmutableArray<T> array = default;
                if (count != DefaultArrayCount)
                {
                    if (count < 0 || (stream.CanSeek && count > stream.Length - stream.Position))
                        throw new SerializationException($"ImmutableArray<{typeof(T).Name}> claims {count} elements; the payload cannot hold them.");
                    var items = new T[count];
                    for (var i = 0; i < items.Length; i++)
                        items[i] = (T)serializer.Deserialize(stream, session)!;
                    array = ImmutableCollectionsMarshal.AsImmutableArray(items);
                }
                object boxed = array;
                if (preserveReferences)
                    session.TrackDeserializedObject(boxed);
                return boxed;
            },
            writer: (stream, value, session) =>
            {
                var array = (ImmutableArray<T>)value;
                WriteInt32(stream, array.IsDefault ? DefaultArrayCount : array.Length);
                if (!array.IsDefault)
                {
                    foreach (var item in array)
                        WriteElement(stream, item, elementSerializer, elementsCanBeShared, session);
                }
                if (preserveReferences)
                    session.TrackSerializedObject(value);
            });
    }

    // Hyperion's internal StreamEx.WriteObject, which the element layout must match:
    // null tag, or a back-reference to an object already written, or manifest + value.
    private static void WriteElement<T>(Stream stream, T item, ValueSerializer elementSerializer, bool canBeShared, SerializerSession session)
    {
        if (item is null)
        {
            stream.WriteByte(NullManifest);
            return;
        }
        if (canBeShared && session.TryGetObjectId(item, out var objectId))
        {
            ObjectReferenceSerializer.Instance.WriteManifest(stream, session);
            ObjectReferenceSerializer.Instance.WriteValue(stream, objectId, session);
            return;
        }
        var valueSerializer = item.GetType() == typeof(T) ? elementSerializer : session.Serializer.GetSerializerByType(item.GetType());
        valueSerializer.WriteManifest(stream, session);
        valueSerializer.WriteValue(stream, item, session);
    }

    private static bool IsUntrackedPrimitive(Type type) =>
        type.IsPrimitive || type == typeof(string) || type == typeof(decimal) || type == typeof(Guid)
        || type == typeof(DateTime) || type == typeof(DateTimeOffset);

    // Hyperion's NullSerializer.Manifest (the class is internal).
    private const byte NullManifest = 0;

    // Hyperion writes Int32 with BitConverter: little-endian on every platform we run on.
    private static void WriteInt32(Stream stream, int value)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, value);
        stream.Write(bytes);
    }

    private static int ReadInt32(Stream stream)
    {
        Span<byte> bytes = stackalloc byte[4];
        stream.ReadExactly(bytes);
        return BinaryPrimitives.ReadInt32LittleEndian(bytes);
    }
}
