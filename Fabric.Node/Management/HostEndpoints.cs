using System.Text.RegularExpressions;
using Fabric.Actors.Switching;

namespace Fabric.Node.Management;

/// <summary>
/// The host this node runs and its MFE: container DCNs (VNIC port state and the frames that
/// belonged to no container), container ports (tag, MAC, IP, tenant, state, counters, drops by
/// reason) and the Geneve overlay.
/// </summary>
public static partial class HostEndpoints
{
    public static void MapHostEndpoints(this WebApplication app)
    {
        app.MapGet("/hosts", (SwitchingNode switching) => Results.Ok(new { hosts = switching.Summaries() }))
            .WithSummary("The hosts (MFEs) running on this node");

        app.MapGet("/hosts/{name}", (string name, SwitchingNode switching) =>
            !IsName(name) ? Problems.BadRequest($"'{name}' is not a host name (1..63 letters, digits, '.', '_' or '-', starting with a letter or digit)")
            : switching.Status(name) is { } host ? Results.Ok(host)
            : Problems.NotFound($"no host '{name}' on this node"))
            .WithSummary("One host: its MFE's DCNs, container ports with tag/MAC/IP/state/counters, and its overlay");

        app.MapGet("/ports", (string? host, SwitchingNode switching) =>
        {
            if (host is not null && !IsName(host))
            {
                return Problems.BadRequest($"host '{host}' is not a host name");
            }

            return Results.Ok(new { ports = switching.Ports().Where(p => host is null || p.Host == host).ToArray() });
        }).WithSummary("The container ports of this node's MFEs (optionally of one host)");
    }

    private static bool IsName(string name) => NamePattern().IsMatch(name);

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")]
    private static partial Regex NamePattern();
}
