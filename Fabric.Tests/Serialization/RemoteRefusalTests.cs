using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using Akka.Remote;
using Fabric.Messages.Serialization;
using Xunit.Abstractions;

namespace Fabric.Tests.Serialization;

/// <summary>
/// Over real remoting (two ActorSystems on 127.0.0.1): a peer that sends a payload naming a
/// foreign type under our serializer's identifier gets it refused and dropped on receipt, while
/// the receiving node and the association stay up and later Fabric messages still arrive.
/// </summary>
public sealed class RemoteRefusalTests(ITestOutputHelper output)
    : Akka.TestKit.Xunit2.TestKit(RemoteConfig.Node(), "receiver", output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static readonly DateTimeOffset At = new(2026, 11, 24, 16, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task A_foreign_type_from_a_remote_peer_is_refused_while_the_node_and_the_association_stay_up()
    {
        Sys.ActorOf(Props.Create(() => new Forwarder(TestActor)), "inbox");
        var warnings = CreateTestProbe();
        Sys.EventStream.Subscribe(warnings.Ref, typeof(Warning));
        var disassociations = CreateTestProbe();
        Sys.EventStream.Subscribe(disassociations.Ref, typeof(DisassociatedEvent));

        // The hostile peer: ForeignCommand bound to a serializer with our identifier that writes anything.
        var peerConfig = ConfigurationFactory.ParseString($$"""
            akka.actor.serializers.hyperion = "{{typeof(ForgingSerializer).AssemblyQualifiedName}}"
            akka.actor.serialization-bindings { "{{typeof(ForeignCommand).AssemblyQualifiedName}}" = hyperion }
            """).WithFallback(RemoteConfig.Node());
        var peer = ActorSystem.Create("peer", peerConfig);
        try
        {
            var inboxPath = new RootActorPath(((ExtendedActorSystem)Sys).Provider.DefaultAddress) / "user" / "inbox";
            var inbox = await peer.ActorSelection(inboxPath).ResolveOne(Timeout);

            for (var round = 1; round <= 2; round++)
            {
                inbox.Tell(new ForeignCommand($"rm -rf / #{round}"));
                inbox.Tell(new SerializationProbe($"after refusal {round}", [round], At));

                // Same association, so in order: had the foreign message got through, it would come first.
                var arrived = await ExpectMsgAsync<SerializationProbe>(Timeout);
                Assert.Equal($"after refusal {round}", arrived.Text);
                await warnings.FishForMessageAsync<Warning>(
                    w => $"{w} {w.Cause}".Contains(typeof(ForeignCommand).FullName!, StringComparison.Ordinal), Timeout);
            }

            Assert.False(HasMessages);
            Assert.False(disassociations.HasMessages);
            Assert.False(Sys.WhenTerminated.IsCompleted);
        }
        finally
        {
            await peer.Terminate();
        }
    }
}

/// <summary>
/// An IActorRef inside a Fabric message crosses nodes as its path (with the sender's address)
/// and resolves on the receiver to a reference that reaches the original actor.
/// </summary>
public sealed class RemoteActorRefTests(ITestOutputHelper output)
    : Akka.TestKit.Xunit2.TestKit(RemoteConfig.Node(trustShapes: true), "responder", output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_remote_actor_reference_in_a_message_can_be_replied_to()
    {
        Sys.ActorOf(Props.Create(() => new PingResponder(TestActor)), "responder");
        var requester = ActorSystem.Create("requester", RemoteConfig.Node(trustShapes: true));
        try
        {
            var replies = CreateTestProbe(requester);
            var responderPath = new RootActorPath(((ExtendedActorSystem)Sys).Provider.DefaultAddress) / "user" / "responder";
            var responder = await requester.ActorSelection(responderPath).ResolveOne(Timeout);

            responder.Tell(new Shapes.Ping(replies.Ref, "hello"));

            var ping = await ExpectMsgAsync<Shapes.Ping>(Timeout);
            Assert.Equal(((ExtendedActorSystem)requester).Provider.DefaultAddress, ping.ReplyTo.Path.Address);
            Assert.Equal("hello", (await replies.ExpectMsgAsync<Shapes.Pong>(Timeout)).Text);
        }
        finally
        {
            await requester.Terminate();
        }
    }

    private sealed class PingResponder : ReceiveActor
    {
        public PingResponder(IActorRef observer) =>
            Receive<Shapes.Ping>(ping =>
            {
                observer.Tell(ping);
                ping.ReplyTo.Tell(new Shapes.Pong(ping.Text));
            });
    }
}

internal sealed class Forwarder : ReceiveActor
{
    public Forwarder(IActorRef target) => ReceiveAny(target.Forward);
}

internal static class RemoteConfig
{
    /// <summary>A remoting node on 127.0.0.1 with a free port, carrying Fabric's serialization HOCON.</summary>
    public static Akka.Configuration.Config Node(bool trustShapes = false)
    {
        var serializer = trustShapes
            ? $"akka.actor.serializers.hyperion = \"{typeof(ShapeTrustingSerializer).AssemblyQualifiedName}\""
            : "";
        return ConfigurationFactory.ParseString($$"""
            {{serializer}}
            akka.actor.provider = remote
            akka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = 0 }
            akka.loglevel = WARNING
            """).WithFallback(FabricSerialization.Config);
    }
}
