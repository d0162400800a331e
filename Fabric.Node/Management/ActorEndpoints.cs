using System.Collections.Concurrent;
using Akka.Actor;
using Fabric.Actors;

namespace Fabric.Node.Management;

/// <summary>This node's actor tree under /user (like Petabridge.Cmd's `actor hierarchy`).</summary>
public static class ActorEndpoints
{
    public sealed record ActorNode(string Path, string Name, IReadOnlyList<ActorNode> Children);

    private const int MaxDepth = 6;
    private static readonly TimeSpan LevelTimeout = TimeSpan.FromMilliseconds(200);

    public static void MapActorEndpoints(this WebApplication app)
    {
        app.MapGet("/actors", async (ActorSystem system, int? depth) =>
        {
            var root = await Walk(system, "/user", "user", 0, Math.Clamp(depth ?? MaxDepth, 1, MaxDepth));
            return Results.Ok(root);
        }).WithSummary("This node's actor tree under /user");
    }

    private static async Task<ActorNode> Walk(ActorSystem system, string path, string name, int level, int maxDepth)
    {
        if (level >= maxDepth) return new ActorNode(path, name, []);
        var children = await Children(system, path);
        var nodes = await Task.WhenAll(children.Select(c =>
            Walk(system, c.Path.ToStringWithoutAddress(), c.Path.Name, level + 1, maxDepth)));
        return new ActorNode(path, name, nodes.OrderBy(n => n.Name, StringComparer.Ordinal).ToList());
    }

    /// <summary>
    /// The children of <paramref name="path"/>: everything that answers an Identify sent to
    /// <c>path/*</c> within <see cref="LevelTimeout"/>. The answers are gathered by a short-lived
    /// system actor and the wait is a plain delay. Akka's <c>Inbox</c>, used before, sometimes
    /// never ended a <c>ReceiveAsync</c> whose timeout had passed (its deadline check compares
    /// against Akka's millisecond clock), so a request hung until the client gave up (CI stop 19;
    /// 6 of 150 calls here; 300 concurrent inbox receives left up to 14 waiting for good under
    /// Akka's own scheduler too).
    /// </summary>
    private static async Task<IReadOnlyList<IActorRef>> Children(ActorSystem system, string path)
    {
        var correlation = Guid.NewGuid();
        var found = new ConcurrentQueue<IActorRef>();
        var collector = ((ExtendedActorSystem)system).SystemActorOf(ActorProps.Of(() => new IdentityCollector(correlation, found)));
        try
        {
            system.ActorSelection(path + "/*").Tell(new Identify(correlation), collector);
            await Task.Delay(LevelTimeout);
        }
        finally
        {
            system.Stop(collector);
        }

        return [.. found];
    }

    /// <summary>Keeps the subjects of the identities answering one Identify.</summary>
    private sealed class IdentityCollector : ReceiveActor
    {
        public IdentityCollector(Guid correlation, ConcurrentQueue<IActorRef> found) =>
            Receive<ActorIdentity>(id =>
            {
                if (id.Subject is { } subject && Equals(id.MessageId, correlation))
                {
                    found.Enqueue(subject);
                }
            });
    }
}
