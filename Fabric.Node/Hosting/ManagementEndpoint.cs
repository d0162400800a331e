using System.Net;
using System.Net.NetworkInformation;
using System.Security.Cryptography.X509Certificates;

namespace Fabric.Node.Hosting;

/// <summary>
/// Where management HTTP listens and who may reach it. Loopback: plain HTTP is fine. Any other
/// address: HTTPS with <c>--management-cert/--management-key</c>, or plain HTTP only with an
/// explicit <c>--insecure-management</c> (logged as a warning at every start). Either way the
/// Host header must name this node (<see cref="AllowedHosts"/>), which stops DNS rebinding.
/// </summary>
public static class ManagementEndpoint
{
    public static IPAddress Resolve(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase) ? IPAddress.Loopback
        : IPAddress.TryParse(host, out var address) ? address
        : throw new ArgumentException($"--management host '{host}' must be an IP address or localhost");

    public static bool IsWildcard(IPAddress address) => address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any);

    public static bool UsesTls(NodeOptions options) => options.ManagementCert is not null;

    /// <summary>True when management listens beyond loopback over plain HTTP (allowed only with --insecure-management).</summary>
    public static bool IsInsecure(NodeOptions options) =>
        !UsesTls(options) && !IPAddress.IsLoopback(Resolve(options.ManagementHost));

    /// <summary>Throws <see cref="ArgumentException"/> with a one-line reason when the management settings do not hold together.</summary>
    public static void Validate(NodeOptions options)
    {
        if ((options.ManagementCert is null) != (options.ManagementKey is null))
            throw new ArgumentException("--management-cert and --management-key go together (a PEM certificate and its private key)");
        foreach (var file in new[] { options.ManagementCert, options.ManagementKey })
        {
            if (file is not null && !File.Exists(file)) throw new ArgumentException($"management TLS: no such file '{file}'");
        }
        if (IsInsecure(options) && !options.InsecureManagement)
            throw new ArgumentException(
                $"--management {options.ManagementHost}:{options.ManagementPort} is reachable beyond this machine: " +
                "give it a certificate (--management-cert FILE --management-key FILE) for HTTPS, " +
                "or accept plain HTTP, bearer token in clear text, with --insecure-management");
    }

    /// <summary>The certificate for management HTTPS (PEM files), or null for plain HTTP.</summary>
    public static X509Certificate2? Certificate(NodeOptions options) =>
        options.ManagementCert is { } cert && options.ManagementKey is { } key
            ? X509Certificate2.CreateFromPemFile(cert, key)
            : null;

    /// <summary>
    /// Host header names (without port) this node answers to, lower case: the bound address; for
    /// loopback and wildcard binds also localhost and the loopback addresses; for a wildcard bind
    /// every local interface address and the host name; plus <c>--management-allowed-host</c>.
    /// </summary>
    public static IReadOnlySet<string> AllowedHosts(NodeOptions options)
    {
        var address = Resolve(options.ManagementHost);
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { Normalize(address.ToString()) };
        if (IPAddress.IsLoopback(address) || IsWildcard(address))
        {
            names.UnionWith(["localhost", "127.0.0.1", "::1"]);
        }
        if (IsWildcard(address))
        {
            names.Add(Normalize(Environment.MachineName));
            try { names.Add(Normalize(Dns.GetHostName())); } catch (System.Net.Sockets.SocketException) { }
            foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
            {
                foreach (var unicast in nic.GetIPProperties().UnicastAddresses)
                    names.Add(Normalize(unicast.Address.ToString()));
            }
        }
        foreach (var name in options.ManagementAllowedHosts) names.Add(Normalize(name));
        return names;
    }

    /// <summary>A Host header's name part, compared without brackets, zone, case or trailing dot.</summary>
    public static string Normalize(string host)
    {
        var name = host.Trim().TrimStart('[').TrimEnd(']').TrimEnd('.');
        var zone = name.IndexOf('%');
        return (zone > 0 ? name[..zone] : name).ToLowerInvariant();
    }
}
