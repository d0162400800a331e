using System.Collections.Immutable;
using Akka.Actor;
using Akka.Serialization;
using Fabric.Messages;
using Fabric.Messages.Serialization;

namespace Fabric.Tests.Serialization;

/// <summary>
/// The serializer's identity, binding and byte format are a contract with every stored journal
/// row and every other node: these tests fail when any of them changes.
/// </summary>
public sealed class WireFormatTests(SerializationSystem fixture) : IClassFixture<SerializationSystem>
{
    private static readonly SerializationProbe Golden =
        new("golden", [1, 2, 3], new DateTimeOffset(2026, 11, 24, 16, 30, 0, TimeSpan.FromHours(1)));

    // Written by this serializer (identifier 441) when the format was fixed. Changing the options
    // (version tolerance, reference preservation), the Hyperion version or a message type name
    // changes these bytes; old journal rows would then no longer read. Do not just update it.
    private const string GoldenHex =
        // 255 (object manifest), name length, "Fabric.Messages.Serialization.SerializationProbe, Fabric.Messages"
        "FF410000004661627269632E4D657373616765732E53657269616C697A6174696F6E2E53657269616C697A6174696F6E" +
        "50726F62652C204661627269632E4D65737361676573" +
        // <At>k__BackingField (fields go in name order, primitives untagged): ticks, offset ticks
        "00F4342F484ADF080068C46108000000" +
        // <Text>k__BackingField: length + 1, "golden"
        "07676F6C64656E" +
        // <Values>k__BackingField: 255, name length, "System.Collections.Immutable.ImmutableArray`1[[System.Int32, System.Private.CoreLib,%core%]], System.Collections.Immutable"
        "FF7A00000053797374656D2E436F6C6C656374696F6E732E496D6D757461626C652E496D6D757461626C654172726179" +
        "60315B5B53797374656D2E496E7433322C2053797374656D2E507269766174652E436F72654C69622C25636F7265255D" +
        "5D2C2053797374656D2E436F6C6C656374696F6E732E496D6D757461626C65" +
        // count 3, then each element as an object: Int32 tag 8, value
        "03000000080100000008020000000803000000";

    [Fact]
    public void The_identifier_is_441_and_no_manifest_is_used()
    {
        var serializer = new FabricHyperionSerializer((ExtendedActorSystem)fixture.System);

        Assert.Equal(441, serializer.Identifier);
        Assert.Equal(FabricSerialization.SerializerId, serializer.Identifier);
        Assert.False(serializer.IncludeManifest);
    }

    [Fact]
    public void The_golden_probe_serializes_to_the_recorded_bytes()
    {
        var bytes = fixture.System.Serialization.FindSerializerFor(Golden).ToBinary(Golden);

        Assert.Equal(GoldenHex, Convert.ToHexString(bytes));
    }

    [Fact]
    public void The_recorded_bytes_still_deserialize()
    {
        var back = fixture.System.Serialization.Deserialize(Convert.FromHexString(GoldenHex), 441, typeof(SerializationProbe));

        Assert.Equal(Golden, back);
    }

    [Fact]
    public void The_HOCON_registers_the_serializer_binds_IFabricMessage_to_it_and_leaves_System_Object_alone()
    {
        var config = FabricSerialization.Config;

        var serializerType = Type.GetType(config.GetString("akka.actor.serializers.hyperion"));
        var bindings = config.GetConfig("akka.actor.serialization-bindings").AsEnumerable()
            .ToDictionary(kv => Type.GetType(kv.Key) ?? throw new InvalidOperationException($"Unresolved binding {kv.Key}"), kv => kv.Value.GetString());

        Assert.Equal(typeof(FabricHyperionSerializer), serializerType);
        Assert.Equal("hyperion", bindings[typeof(IFabricMessage)]);
        Assert.False(bindings.ContainsKey(typeof(object)));
    }

    [Fact]
    public void Types_that_are_no_Fabric_message_keep_Akka_s_serializers()
    {
        var serialization = fixture.System.Serialization;

        Assert.NotEqual(441, serialization.FindSerializerForType(typeof(object)).Identifier);
        Assert.NotEqual(441, serialization.FindSerializerForType(typeof(ForeignCommand)).Identifier);
        Assert.NotEqual(441, serialization.FindSerializerForType(typeof(byte[])).Identifier);
        Assert.Equal(441, serialization.FindSerializerForType(typeof(SerializationProbe)).Identifier);
    }

    [Fact]
    public void The_health_check_passes_with_the_HOCON_and_fails_without_it()
    {
        FabricSerialization.VerifyRoundTrip(fixture.System);

        using var bare = ActorSystem.Create("bare", "akka.loglevel = WARNING");
        var error = Assert.Throws<InvalidOperationException>(() => FabricSerialization.VerifyRoundTrip(bare));
        Assert.Contains("441", error.Message);
    }

    [Fact]
    public void The_hocon_file_in_the_repository_is_the_embedded_one()
    {
        var file = Path.Combine(RepositoryRoot(), "hocon", "serialization.conf");

        Assert.Equal(File.ReadAllText(file), FabricSerialization.Hocon);
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Fabric.sln")))
                return dir.FullName;
        }
        throw new InvalidOperationException("Fabric.sln not found above the test output directory.");
    }
}
