using System.Collections.Immutable;
using Akka.Actor;
using Fabric.Messages;

// Test-only message shapes: everything our messages are expected to hold, checked against
// Hyperion 0.12.2 through ShapeTrustingSerializer (the production filter does not know them).
namespace Fabric.Tests.Serialization.Shapes;

public enum Color { Red = 1, Green = 2, Blue = 4 }

[Flags]
public enum Permissions : byte { None = 0, Read = 1, Write = 2 }

public sealed record Leaf(string Name, int Weight);

public abstract record Shape : IFabricMessage;

public sealed record Circle(double Radius) : Shape;

public sealed record Square(double Side, Color Color) : Shape;

public sealed record Everything(
    bool Flag, byte Small, short Short, int Int, long Long, ulong Unsigned, double Double, decimal Money, char Letter,
    string Text, string? Missing, Guid Id, DateTime When, DateTimeOffset At, TimeSpan Timeout,
    Color Color, Permissions Permissions, int? SomeNumber, int? NoNumber, long[] Longs, byte[] Bytes, byte[][] Chunks,
    Leaf Nested, Leaf[] NestedArray, Shape Polymorphic,
    ImmutableArray<int> Ints, ImmutableArray<Leaf> Leaves, ImmutableArray<string> Strings, ImmutableArray<Color> Colors,
    ImmutableList<string> List, ImmutableHashSet<string> Set, ImmutableDictionary<string, Leaf> ByName,
    ImmutableDictionary<Guid, ImmutableArray<int>> Nested2, List<Leaf> MutableList, Dictionary<int, string> MutableMap) : IFabricMessage;

/// <summary>A record whose state is all init-only properties (no primary constructor).</summary>
public sealed record WithInitProperties : IFabricMessage
{
    public required string Name { get; init; }
    public ImmutableArray<Leaf> Leaves { get; init; } = ImmutableArray<Leaf>.Empty;
    public Color Color { get; init; } = Color.Green;
    public int Revision { get; init; }
}

public sealed record WithImmutableArray(string Name, ImmutableArray<int> Values) : IFabricMessage;

public sealed record Tree(string Name, ImmutableList<Tree> Children) : IFabricMessage;

public sealed record Carrier(object? Payload) : IFabricMessage;

public sealed record SharedLeaves(Leaf First, Leaf Second) : IFabricMessage;

public readonly record struct Point(int X, int Y) : IFabricMessage;

public sealed record Ping(IActorRef ReplyTo, string Text) : IFabricMessage;

public sealed record Pong(string Text) : IFabricMessage;

public sealed record ActorRefList(ImmutableArray<IActorRef> Refs, IActorRef? Maybe) : IFabricMessage;
