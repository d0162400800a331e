using System.Runtime.Serialization;
using Fabric.Messages.Serialization;

namespace Fabric.Tests.Serialization;

/// <summary>Nothing falls back to Akka's type-name-trusting JSON serializer.</summary>
public sealed class CatchAllRefusalTests(SerializationSystem fixture) : IClassFixture<SerializationSystem>
{
    private sealed record NotAFabricMessage(string Text);

    [Fact]
    public void A_type_that_is_not_a_Fabric_message_gets_the_refusing_catch_all_and_cannot_be_sent()
    {
        var serializer = fixture.System.Serialization.FindSerializerFor(new NotAFabricMessage("x"));
        Assert.IsType<ForeignTypeSerializer>(serializer);
        var error = Assert.Throws<SerializationException>(() => serializer.ToBinary(new NotAFabricMessage("x")));
        Assert.Contains(nameof(NotAFabricMessage), error.Message);
    }

    [Fact]
    public void A_payload_arriving_under_the_JSON_serializer_id_is_refused()
    {
        var json = """{"$type":"System.IO.FileInfo, System.Private.CoreLib","OriginalPath":"/etc/passwd"}"""u8.ToArray();
        Assert.Throws<SerializationException>(() =>
            fixture.System.Serialization.Deserialize(json, ForeignTypeSerializer.SerializerId, typeof(object)));
    }

    [Fact]
    public async Task Akka_messages_keep_their_own_serializers_on_a_cluster_node()
    {
        using var system = Akka.Actor.ActorSystem.Create("catch-all", FabricSerialization.Config.WithFallback(
            "akka.actor.provider = cluster\nakka.remote.dot-netty.tcp.port = 0\nakka.loglevel = WARNING"));
        try
        {
            Assert.IsNotType<ForeignTypeSerializer>(system.Serialization.FindSerializerFor(new Akka.Actor.Identify(1)));
            Assert.IsType<FabricHyperionSerializer>(system.Serialization.FindSerializerFor(new SerializationProbe("p", [], DateTimeOffset.UnixEpoch)));
        }
        finally
        {
            await system.Terminate();
        }
    }
}
