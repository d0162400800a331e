using Akka.Actor;
using Akka.Hosting;
using Fabric.Actors.Guardian;
using Fabric.Actors.Pseudowire;
using Fabric.Messages.Node;
using Fabric.Messages.Pseudowire;

namespace Fabric.Node.Management;

/// <summary>PEs, PW trunks and PWs hosted on this node: configuration, liveness, counters and each member's share.</summary>
public static class PseudowireEndpoints
{
    public static void MapPseudowireEndpoints(this WebApplication app)
    {
        app.MapGet("/pes", (PseudowireNode pw) => Results.Ok(new
        {
            pes = pw.Pes.Keys.Order(StringComparer.Ordinal).Select(pw.PeStatus).Where(s => s is not null).ToArray(),
        })).WithSummary("PEs hosted on this node");

        app.MapGet("/pes/{name}", async (string name, PseudowireNode pw, ActorRegistry registry, CancellationToken ct) =>
        {
            if (Problems.BadName("PE", name) is { } bad) return bad;
            if (pw.PeStatus(name) is { } pe)
                return Results.Ok(new
                {
                    pe,
                    trunks = pe.Trunks.Select(pw.TrunkStatus).Where(t => t is not null).ToArray(),
                    pws = pw.PwStatuses().Where(p => p.Pe == name).ToArray(),
                });
            // Not running: the guardian may be retrying it after a failed start.
            if (registry.TryGet<FabricGuardianActor>(out var guardian)
                && (await guardian.Ask<AppliedIntent>(GetAppliedIntent.Instance, TimeSpan.FromSeconds(5), ct)) is var applied
                && applied.Restarting.FirstOrDefault(r => r.Kind == "pe" && r.Name == name) is { } restarting)
                return Results.Ok(new
                {
                    pe = new PeStatus(name, applied.Node, "", "", [], [], [], restarting.State, restarting.LastError, restarting.StartFailures),
                    trunks = Array.Empty<object>(),
                    pws = Array.Empty<object>(),
                });
            return Problems.NotFound($"no PE '{name}' on this node");
        }).WithSummary("One PE with its trunks and PWs (state restarting with lastError while its start is retried)");

        app.MapGet("/trunks", (PseudowireNode pw) => Results.Ok(new
        {
            trunks = pw.Trunks.Keys.Order(StringComparer.Ordinal).Select(pw.TrunkStatus).Where(t => t is not null).ToArray(),
        })).WithSummary("PW trunks hosted on this node: state, members, shares");

        app.MapGet("/trunks/{name}", (string name, PseudowireNode pw) => Problems.BadName("trunk", name) ?? (pw.TrunkStatus(name) is { } trunk
            ? Results.Ok(trunk)
            : Problems.NotFound($"no trunk '{name}' on this node"))).WithSummary("One PW trunk: state, members, shares");

        app.MapGet("/pws", (PseudowireNode pw) => Results.Ok(new { pws = pw.PwStatuses() }))
            .WithSummary("PWs hosted on this node with liveness and counters");
    }
}
