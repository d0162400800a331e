using System.Net;
using Fabric.Actors.Config;

namespace Fabric.Node.Hosting;

/// <summary>What the management API and background services need to know about this node.</summary>
public sealed record NodeContext(NodeOptions Options, StoreDatabase Database, string Token, string TokenSource, string DataDir);

public static class ManagementEndpoint
{
    public static IPAddress Resolve(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase) ? IPAddress.Loopback
        : IPAddress.TryParse(host, out var address) ? address
        : throw new ArgumentException($"--management host '{host}' must be an IP address or localhost");
}
