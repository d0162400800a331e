using Fabric.Actors.Pseudowire;

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

        app.MapGet("/pes/{name}", (string name, PseudowireNode pw) => Problems.BadName("PE", name) ?? (pw.PeStatus(name) is { } pe
            ? Results.Ok(new
            {
                pe,
                trunks = pe.Trunks.Select(pw.TrunkStatus).Where(t => t is not null).ToArray(),
                pws = pw.PwStatuses().Where(p => p.Pe == name).ToArray(),
            })
            : Problems.NotFound($"no PE '{name}' on this node"))).WithSummary("One PE with its trunks and PWs");

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
