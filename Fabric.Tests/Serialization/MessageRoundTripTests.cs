using System.Reflection;
using Fabric.Messages;
using Fabric.Messages.Serialization;

namespace Fabric.Tests.Serialization;

/// <summary>
/// Every concrete IFabricMessage type in Fabric.Messages, one test case each (new types show up
/// by themselves): a reflection-built sample travels through the serializer Akka picks for it,
/// which must be ours, and comes back structurally equal.
/// </summary>
public sealed class MessageRoundTripTests(SerializationSystem fixture) : IClassFixture<SerializationSystem>
{
    private static readonly Assembly Messages = typeof(IFabricMessage).Assembly;

    public static TheoryData<string> MessageTypeNames
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (var type in MessageTypes())
                data.Add(type.FullName!);
            return data;
        }
    }

    [Fact]
    public void Fabric_Messages_contains_message_types_to_check()
    {
        // Guards the theory below: zero rows would otherwise pass by checking nothing.
        Assert.NotEmpty(MessageTypes());
        Assert.Contains(typeof(SerializationProbe), MessageTypes());
    }

    [Theory]
    [MemberData(nameof(MessageTypeNames))]
    public void Every_message_type_round_trips_through_the_Fabric_Hyperion_serializer(string typeName)
    {
        var type = Close(Messages.GetType(typeName, throwOnError: true)!);
        var sample = new SampleValues(fixture.ActorRef, Messages).Create(type);

        var serializer = fixture.System.Serialization.FindSerializerFor(sample);
        Assert.IsType<FabricHyperionSerializer>(serializer);
        Assert.Equal(441, serializer.Identifier);

        var bytes = serializer.ToBinary(sample);
        var back = fixture.System.Serialization.Deserialize(bytes, serializer.Identifier, type);

        DeepEquality.AssertEqual(sample, back);
    }

    private static List<Type> MessageTypes() =>
        Messages.GetTypes()
            .Where(t => t is { IsAbstract: false, IsInterface: false } && typeof(IFabricMessage).IsAssignableFrom(t))
            .OrderBy(t => t.FullName, StringComparer.Ordinal)
            .ToList();

    // A generic message type is checked closed over string, the simplest allowed argument.
    private static Type Close(Type type)
    {
        if (!type.IsGenericTypeDefinition)
            return type;
        try
        {
            return type.MakeGenericType(type.GetGenericArguments().Select(_ => typeof(string)).ToArray());
        }
        catch (ArgumentException e)
        {
            throw new InvalidOperationException($"{type} cannot be closed over string; give this test a sample for it.", e);
        }
    }
}
