using System.Reflection;

namespace Fabric.Node.Dashboard;

/// <summary>
/// The dashboard (<c>GET /dashboard</c>): one static page and its script, embedded in the binary,
/// that read the management API from the browser (members, topology, trunks, gateways with their
/// cache hit rate, hosts, modems, changes with their ghost verdicts).
/// </summary>
public static class DashboardEndpoints
{
    private static readonly byte[] Page = Resource("index.html");
    private static readonly byte[] Script = Resource("dashboard.js");

    public static void MapDashboard(this WebApplication app)
    {
        app.MapGet("/dashboard", () => Results.Bytes(Page, "text/html; charset=utf-8"))
            .WithSummary("The dashboard page (reads this API from the browser)").ExcludeFromDescription();
        app.MapGet("/dashboard/dashboard.js", () => Results.Bytes(Script, "text/javascript; charset=utf-8"))
            .ExcludeFromDescription();
    }

    private static byte[] Resource(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream($"Fabric.Node.Dashboard.{name}")
            ?? throw new InvalidOperationException($"the dashboard's {name} is not embedded in fabric-node");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
