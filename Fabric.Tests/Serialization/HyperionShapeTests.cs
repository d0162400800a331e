using System.Collections.Immutable;
using Akka.Actor;
using Fabric.Messages;
using Fabric.Messages.Serialization;
using Fabric.Tests.Serialization.Shapes;

namespace Fabric.Tests.Serialization;

/// <summary>
/// What Hyperion 0.12.2, configured as FabricHyperionSerializer configures it, really does with
/// the shapes our messages use: immutable collections, nested and polymorphic records, enums,
/// init-only properties, shared references, actor references.
/// </summary>
public sealed class HyperionShapeTests(ShapeSerializationSystem fixture) : IClassFixture<ShapeSerializationSystem>
{
    private static readonly DateTimeOffset At = new(2026, 11, 24, 16, 0, 0, TimeSpan.FromHours(-5));

    public static TheoryData<string> ShapeTypeNames
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (var type in typeof(Leaf).Assembly.GetTypes()
                         .Where(t => t.Namespace == "Fabric.Tests.Serialization.Shapes"
                                     && t is { IsAbstract: false, IsInterface: false }
                                     && typeof(IFabricMessage).IsAssignableFrom(t))
                         .OrderBy(t => t.FullName, StringComparer.Ordinal))
            {
                data.Add(type.FullName!);
            }
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(ShapeTypeNames))]
    public void A_fully_populated_sample_of_each_shape_round_trips(string typeName)
    {
        var type = typeof(Leaf).Assembly.GetType(typeName, throwOnError: true)!;
        var sample = new SampleValues(fixture.ActorRef, typeof(Leaf).Assembly).Create(type);

        DeepEquality.AssertEqual(sample, RoundTrip(sample));
    }

    [Fact]
    public void The_shape_system_uses_the_Fabric_serializer_identity()
    {
        var serializer = fixture.System.Serialization.FindSerializerFor(new Pong("x"));
        Assert.IsType<ShapeTrustingSerializer>(serializer);
        Assert.Equal(FabricSerialization.SerializerId, serializer.Identifier);
    }

    [Fact]
    public void A_default_ImmutableArray_comes_back_default_and_an_empty_one_empty()
    {
        var defaultBack = RoundTrip(new WithImmutableArray("default", default));
        var emptyBack = RoundTrip(new WithImmutableArray("empty", ImmutableArray<int>.Empty));

        Assert.True(defaultBack.Values.IsDefault);
        Assert.False(emptyBack.Values.IsDefault);
        Assert.Empty(emptyBack.Values);
    }

    [Fact]
    public void Initialized_ImmutableArrays_are_written_byte_for_byte_as_Hyperion_itself_writes_them()
    {
        // Fabric's ImmutableArray serializer only adds support for default arrays.
        var vanilla = new Hyperion.Serializer(new Hyperion.SerializerOptions(
            versionTolerance: false, preserveObjectReferences: true, surrogates: [ActorRefSurrogate.For(fixture.System)],
            serializerFactories: null, knownTypes: null, ignoreISerializable: true, packageNameOverrides: null,
            disallowUnsafeTypes: true, typeFilter: Hyperion.DisabledTypeFilter.Instance));
        var shared = new Leaf("shared", 1);
        IFabricMessage[] messages =
        [
            new WithImmutableArray("ints", [1, 2, 3]),
            new Carrier(ImmutableArray.Create<Leaf?>(shared, null, shared, new Leaf("other", 2))),
            new Carrier(ImmutableArray.Create<IFabricMessage>(new Pong("a"), new Point(1, 2), new Pong("a"), new Carrier(shared))),
            (IFabricMessage)new SampleValues(fixture.ActorRef, typeof(Leaf).Assembly).Create(typeof(Everything)),
        ];

        foreach (var message in messages)
        {
            using var expected = new MemoryStream();
            vanilla.Serialize(message, expected);
            Assert.Equal(Convert.ToHexString(expected.ToArray()), Convert.ToHexString(Serializer.ToBinary(message)));
        }
    }

    [Fact]
    public void Init_only_properties_keep_their_values()
    {
        var message = new WithInitProperties
        {
            Name = "intent", Leaves = [new Leaf("a", 1), new Leaf("b", 2)], Color = Color.Blue, Revision = 7,
        };

        var back = RoundTrip(message);

        DeepEquality.AssertEqual(message, back);
        Assert.Equal(Color.Blue, back.Color);
    }

    [Fact]
    public void Enums_keep_undefined_flag_combinations_and_nested_records_keep_their_depth()
    {
        var deep = new Tree("root", [new Tree("a", [new Tree("a1", [])]), new Tree("b", [])]);
        var envelope = new Carrier(new Square(2.5, (Color)7));

        DeepEquality.AssertEqual(deep, RoundTrip(deep));
        Assert.Equal((Color)7, ((Square)RoundTrip(envelope).Payload!).Color);
    }

    [Fact]
    public void A_shared_instance_stays_shared_because_object_references_are_preserved()
    {
        var leaf = new Leaf("shared", 1);

        var back = RoundTrip(new SharedLeaves(leaf, leaf));

        Assert.Same(back.First, back.Second);
    }

    [Fact]
    public void Object_typed_payloads_carry_records_primitives_and_collections()
    {
        object[] payloads = [42, "text", new Leaf("x", 1), ImmutableArray.Create(1, 2), new Point(3, 4), At, Guid.Empty];

        foreach (var payload in payloads)
            DeepEquality.AssertEqual(payload, RoundTrip(new Carrier(payload)).Payload);
    }

    [Fact]
    public void Actor_references_travel_as_paths_and_resolve_to_the_same_actor()
    {
        var message = new ActorRefList([fixture.ActorRef, ActorRefs.Nobody], Maybe: null);

        var back = RoundTrip(message);

        Assert.Equal(fixture.ActorRef, back.Refs[0]);
        Assert.Equal(ActorRefs.Nobody, back.Refs[1]);
        Assert.Null(back.Maybe);
    }

    [Fact]
    public void A_record_struct_message_round_trips_as_the_root()
    {
        Assert.Equal(new Point(1, -2), RoundTrip(new Point(1, -2)));
    }

    private Akka.Serialization.Serializer Serializer => fixture.System.Serialization.FindSerializerForType(typeof(IFabricMessage));

    private T RoundTrip<T>(T message)
        where T : notnull
    {
        var serializer = fixture.System.Serialization.FindSerializerFor(message);
        Assert.Equal(FabricSerialization.SerializerId, serializer.Identifier);
        return (T)fixture.System.Serialization.Deserialize(serializer.ToBinary(message), serializer.Identifier, typeof(T));
    }
}
