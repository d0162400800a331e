using System.Collections.Immutable;
using Akka.Actor;
using Akka.Configuration;

namespace Fabric.Messages.Serialization;

/// <summary>How Fabric messages are serialized: the serializer's identity and its Akka binding.</summary>
public static class FabricSerialization
{
    /// <summary>
    /// <see cref="FabricHyperionSerializer"/>'s Akka serializer identifier. Stored with every
    /// payload (remoting frames, journal and snapshot rows): never change it.
    /// </summary>
    public const int SerializerId = 441;

    /// <summary>The serializer's name in <c>akka.actor.serializers</c>.</summary>
    public const string SerializerName = "hyperion";

    private const string HoconResource = "Fabric.Messages.hocon.serialization.conf";

    /// <summary>
    /// The text of <c>hocon/serialization.conf</c> (embedded at build time, so the file and
    /// this string cannot drift): registers the serializer and binds
    /// <see cref="IFabricMessage"/> to it.
    /// </summary>
    public static string Hocon { get; } = ReadHocon();

    /// <summary><see cref="Hocon"/> parsed; put it in front of the node's configuration.</summary>
    public static Akka.Configuration.Config Config { get; } = ConfigurationFactory.ParseString(Hocon);

    /// <summary>
    /// The node's serialization health check: sends a <see cref="SerializationProbe"/> through
    /// <paramref name="system"/>'s serialization and back. Throws
    /// <see cref="InvalidOperationException"/> if the probe was not handled by
    /// <see cref="FabricHyperionSerializer"/> or did not come back equal.
    /// </summary>
    public static void VerifyRoundTrip(ActorSystem system)
    {
        var probe = new SerializationProbe("fabric", ImmutableArray.Create(4, 4, 1), DateTimeOffset.UtcNow);
        var serializer = system.Serialization.FindSerializerFor(probe);
        if (serializer.Identifier != SerializerId)
        {
            throw new InvalidOperationException(
                $"{nameof(IFabricMessage)} is bound to serializer {serializer.Identifier} ({serializer.GetType()}), " +
                $"not {SerializerId}: is {nameof(FabricSerialization)}.{nameof(Config)} part of the configuration?");
        }
        var bytes = serializer.ToBinary(probe);
        var back = system.Serialization.Deserialize(bytes, serializer.Identifier, typeof(SerializationProbe));
        if (!probe.Equals(back))
            throw new InvalidOperationException($"{nameof(SerializationProbe)} did not survive a round trip: got [{back}].");
    }

    private static string ReadHocon()
    {
        using var stream = typeof(FabricSerialization).Assembly.GetManifestResourceStream(HoconResource)
            ?? throw new InvalidOperationException($"Embedded resource {HoconResource} is missing from Fabric.Messages.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
