using Akka.Actor;

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

    /// <summary>Identifies every child of <paramref name="path"/>: an ActorSelection with a wildcard, answers gathered briefly.</summary>
    private static async Task<IReadOnlyList<IActorRef>> Children(ActorSystem system, string path)
    {
        var inbox = Inbox.Create(system);
        var correlation = Guid.NewGuid();
        system.ActorSelection(path + "/*").Tell(new Identify(correlation), inbox.Receiver);
        var found = new List<IActorRef>();
        var deadline = DateTime.UtcNow + LevelTimeout;
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero) break;
            try
            {
                if (await inbox.ReceiveAsync(left) is ActorIdentity { Subject: { } subject } id && Equals(id.MessageId, correlation))
                    found.Add(subject);
            }
            catch (TimeoutException)
            {
                break;
            }
        }
        inbox.Dispose();
        return found;
    }
}
