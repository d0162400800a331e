using System.Collections.Immutable;
using System.Diagnostics;
using Akka.Actor;
using Fabric.Messages.Serialization;
using Xunit.Abstractions;

namespace Fabric.Tests.Serialization;

/// <summary>
/// A quick cost measurement printed to the test output (not a benchmark: Debug build, shared
/// CPU). The assertion only catches something pathological, like a type check per byte.
/// </summary>
public sealed class SerializationCostTests(SerializationSystem fixture, ITestOutputHelper output) : IClassFixture<SerializationSystem>
{
    [Fact]
    public void Serializing_and_deserializing_a_small_message_costs_microseconds()
    {
        var serializer = new FabricHyperionSerializer((ExtendedActorSystem)fixture.System);
        var small = new SerializationProbe("probe", [1, 2, 3], DateTimeOffset.UnixEpoch);
        var large = new SerializationProbe("batch", [.. Enumerable.Range(0, 4096)], DateTimeOffset.UnixEpoch);

        var (smallWrite, smallRead, smallBytes) = Measure(serializer, small, iterations: 20_000);
        var (largeWrite, largeRead, largeBytes) = Measure(serializer, large, iterations: 500);

        output.WriteLine($"small probe ({smallBytes} B): serialize {smallWrite:F2} µs, deserialize {smallRead:F2} µs");
        output.WriteLine($"4096-int probe ({largeBytes} B): serialize {largeWrite:F2} µs, deserialize {largeRead:F2} µs");
        Assert.InRange(smallWrite + smallRead, 0, 1_000);
    }

    private static (double WriteMicros, double ReadMicros, int Bytes) Measure(FabricHyperionSerializer serializer, SerializationProbe message, int iterations)
    {
        var bytes = serializer.ToBinary(message);
        for (var i = 0; i < iterations / 10; i++)
            serializer.FromBinary(serializer.ToBinary(message), typeof(SerializationProbe));

        var clock = Stopwatch.StartNew();
        for (var i = 0; i < iterations; i++)
            serializer.ToBinary(message);
        var write = clock.Elapsed.TotalMicroseconds / iterations;

        clock.Restart();
        for (var i = 0; i < iterations; i++)
            serializer.FromBinary(bytes, typeof(SerializationProbe));
        var read = clock.Elapsed.TotalMicroseconds / iterations;

        return (write, read, bytes.Length);
    }
}
