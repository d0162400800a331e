using Akka.Actor;

namespace Fabric.Node.Management;

/// <summary>The Fabric API's health routes; the same answers as Akka.Management's /alive and /ready (<see cref="NodeHealthRoutes"/>).</summary>
public static class HealthEndpoints
{
    public static void MapHealthEndpoints(this WebApplication app)
    {
        app.MapGet("/health/alive", () => Results.Ok(new { status = "alive" }))
            .WithSummary("The process answers");

        app.MapGet("/health/ready", async (ActorSystem system, CancellationToken ct) =>
        {
            var health = await NodeHealth.ReadyAsync(system, ct);
            return health.Ready ? Results.Ok(health) : Results.Json(health, statusCode: 503);
        }).WithSummary("Member Up, the config store answering, and the committed intent applied on this node");
    }
}
