using Akka.Actor;
using Akka.Cluster;
using Akka.Hosting;
using Fabric.Actors.Config;
using Fabric.Messages.Config;

namespace Fabric.Node.Management;

public static class HealthEndpoints
{
    public sealed record Health(string Status, string Member, bool ConfigStore, long? IntentVersion, string? Reason);

    public static void MapHealthEndpoints(this WebApplication app)
    {
        app.MapGet("/health/alive", () => Results.Ok(new { status = "alive" }))
            .WithSummary("The process answers");

        app.MapGet("/health/ready", async (ActorSystem system, IRequiredActor<ConfigStoreActor> store, CancellationToken ct) =>
        {
            var self = Cluster.Get(system).SelfMember;
            var member = self.Status.ToString();
            if (self.Status != MemberStatus.Up)
                return Results.Json(new Health("not-ready", member, false, null, $"member is {member}, not Up"), statusCode: 503);
            try
            {
                var intent = await store.ActorRef.Ask<CurrentIntent>(GetIntent.Instance, TimeSpan.FromSeconds(2), ct);
                return Results.Ok(new Health("ready", member, true, intent.Version, null));
            }
            catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
            {
                return Results.Json(new Health("not-ready", member, false, null, "the config store does not answer"), statusCode: 503);
            }
        }).WithSummary("Member Up and the config store answering");
    }
}
