using System.Collections.Immutable;
using System.Text;
using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using Akka.Hosting;
using Akka.Management.Cluster.Bootstrap;
using Akka.Management.Cluster.Bootstrap.ContactPoint;
using Akka.Management.Dsl;
using Fabric.Actors.Settings;
using Fabric.Node.Management;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Fabric.Node.Hosting;

/// <summary>
/// Cluster Bootstrap (Akka.Management 1.5.73) with discovery from <c>--discovery</c>: config
/// discovery of a fixed list of contact points, or the Kubernetes API. Akka.Management's own HTTP
/// server cannot run here: Akka.Http.Shim 1.5.73 is built against Ceen.Httpd 0.9.9 and only
/// 0.9.10 is served, which lacks the <c>HttpServer.ListenAsync</c> overload it calls
/// (MissingMethodException at bind). So the contact point is served by
/// <see cref="AkkaManagementServer"/> (Kestrel) with the same route and JSON, and Cluster
/// Bootstrap learns it through its public route-provider entry point.
/// </summary>
public static class AkkaManagementHosting
{
    /// <summary>The service name config discovery lists the contact points under (Cluster Bootstrap's default: the system name).</summary>
    public const string ServiceName = FabricNodeApp.SystemName;

    public static AkkaConfigurationBuilder AddClusterBootstrap(this AkkaConfigurationBuilder akka, NodeOptions options, Config hocon)
    {
        if (options.Discovery.IsEmpty) return akka;
        akka.AddHocon(BootstrapHocon(options, hocon), HoconAddMode.Prepend);
        if (options.KubernetesDiscovery && KubernetesDefaults() is { } k8s) akka.AddHocon(k8s, HoconAddMode.Append);
        return akka;
    }

    /// <summary>
    /// Discovery for Cluster Bootstrap. Config discovery: the listed contact points are every
    /// initial node, so bootstrap waits for all of them (<c>required-contact-point-nr</c>) and the
    /// one with the lowest address starts the cluster; the others join it. Kubernetes: pods
    /// labelled <c>app=fabric</c>, as many as <c>fabric.discovery.kubernetes.required-contact-points</c>.
    /// </summary>
    public static string BootstrapHocon(NodeOptions options, Config hocon)
    {
        var sb = new StringBuilder();
        if (options.KubernetesDiscovery)
        {
            var kubernetes = FabricSettings.From(hocon).Kubernetes;
            var required = kubernetes.RequiredContactPoints;
            var portName = kubernetes.PortName;
            sb.AppendLine("akka.discovery.method = kubernetes-api");
            sb.AppendLine($"akka.management.cluster.bootstrap.contact-point-discovery.required-contact-point-nr = {required}");
            sb.AppendLine($"akka.management.cluster.bootstrap.contact-point-discovery.port-name = \"{portName}\"");
        }
        else
        {
            sb.AppendLine("akka.discovery.method = config");
            sb.Append($"akka.discovery.config.services.{ServiceName}.endpoints = [");
            sb.Append(string.Join(", ", options.Discovery.Select(d => $"\"{d}\"")));
            sb.AppendLine("]");
            sb.AppendLine($"akka.management.cluster.bootstrap.contact-point-discovery.required-contact-point-nr = {options.Discovery.Length}");
            // Every listed endpoint is an Akka.Management port, each node's its own: keep them all
            // (the default keeps only those on fallback-port, Akka.Management's 8558).
            sb.AppendLine("akka.management.cluster.bootstrap.contact-point.filter-on-fallback-port = false");
        }
        sb.AppendLine($"akka.management.cluster.bootstrap.contact-point.fallback-port = {options.AkkaManagementEndpoint.Port}");
        sb.AppendLine($"akka.management.cluster.bootstrap.contact-point-discovery.service-name = \"{ServiceName}\"");
        return sb.ToString();
    }

    /// <summary>Akka.Discovery.KubernetesApi's reference configuration (class, API paths), read from its assembly.</summary>
    private static string? KubernetesDefaults()
    {
        var assembly = typeof(Akka.Discovery.KubernetesApi.KubernetesApiServiceDiscovery).Assembly;
        var name = assembly.GetManifestResourceNames().FirstOrDefault(n => n.EndsWith(".conf", StringComparison.Ordinal));
        if (name is null) return null;
        using var reader = new StreamReader(assembly.GetManifestResourceStream(name)!);
        return reader.ReadToEnd();
    }
}

/// <summary>
/// The Akka.Management endpoint (<see cref="NodeOptions.AkkaManagementEndpoint"/>: <c>--akka-management</c>,
/// or the remoting host and the Fabric API's port + 10000): <c>GET /bootstrap/seed-nodes</c> (Cluster
/// Bootstrap's contact point, Akka.Management's JSON), <c>/alive</c>, <c>/ready</c>
/// (<see cref="NodeHealth"/>) and <c>/remote/address</c>. Read-only, no token: it tells what
/// remoting already tells. Its own small Kestrel server, apart from the Fabric API, so the two
/// never share a port, a pipeline or a token rule. Once it listens, Cluster Bootstrap starts
/// (with <c>--discovery</c>).
/// </summary>
public sealed class AkkaManagementServer(NodeContext node, IServiceProvider services, ILoggerFactory logs) : IHostedService, IAsyncDisposable
{
    private readonly ILogger _log = logs.CreateLogger("fabric-node.akka-management");
    private WebApplication? _app;

    public Uri? BaseUri { get; private set; }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var options = node.Options;
        var (host, port) = options.AkkaManagementEndpoint;
        var system = services.GetRequiredService<ActorSystem>(); // started: Akka's hosted service runs first
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "fabric-node.akka-management" });
        builder.Logging.ClearProviders();
        // This host lives inside the node's: it starts and stops with it, and must not handle
        // SIGTERM/SIGINT itself (its console lifetime would cancel its own start on a signal
        // before the node's handler had asked to stop, and the node crashed with exit 134).
        builder.Services.AddSingleton<IHostLifetime, InnerHostLifetime>();
        // Kestrel's core: plain HTTP/1.1 (UseKestrel would add HTTPS configuration and HTTP/3, loading QUIC).
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = 0;
            k.Listen(ManagementEndpoint.Resolve(host), port, l => l.Protocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http1);
        });
        var app = builder.Build();
        app.MapGet("/alive", () => Results.Ok(new { status = system.WhenTerminated.IsCompleted ? "terminated" : "alive" }));
        app.MapGet("/ready", async (CancellationToken ct) =>
        {
            var health = await NodeHealth.ReadyAsync(system, ct);
            return health.Ready ? Results.Ok(health) : Results.Json(health, statusCode: 503);
        });
        app.MapGet("/remote/address", () => Results.Text(
            Newtonsoft.Json.JsonConvert.SerializeObject(new { Address = Cluster.Get(system).SelfAddress.ToString() }), "application/json"));
        app.MapGet("/bootstrap/seed-nodes", () => Results.Text(SeedNodesJson(Cluster.Get(system)), "application/json"));
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (IOException e)
        {
            await app.DisposeAsync();
            // Without its contact point a bootstrapping node can never join: it does not start. A
            // node with seeds, or alone, only goes without /alive and /ready there.
            if (!options.Discovery.IsEmpty) throw new ArgumentException($"Akka.Management endpoint {host}:{port}: {e.Message}");
            _log.LogWarning("Akka.Management endpoint {Host}:{Port} not served: {Reason}", host, port, e.Message);
            return;
        }
        _app = app;
        var bound = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        BaseUri = new Uri($"http://{host}:{bound.Port}/");
        _log.LogInformation("Akka.Management HTTP on {Uri} (Cluster Bootstrap contact point, /alive, /ready)", BaseUri);

        if (options.Discovery.IsEmpty) return;
        // ClusterBootstrap takes its self contact point from its route provider's settings.
        ClusterBootstrap.Get(system).Routes(ManagementRouteProviderSettings.Create(BaseUri, readOnly: true));
        _log.LogInformation("Cluster Bootstrap: {How}", options.KubernetesDiscovery
            ? "Kubernetes API discovery"
            : "config discovery of " + string.Join(", ", options.Discovery));
        _ = ClusterBootstrap.Get(system).Start();
    }

    /// <summary>What Akka.Management's <c>/bootstrap/seed-nodes</c> answers (HttpClusterBootstrapRoutes): its types, its serializer.</summary>
    public static string SeedNodesJson(Cluster cluster)
    {
        var self = cluster.SelfMember;
        if (self.Status is MemberStatus.Down or MemberStatus.Exiting or MemberStatus.Leaving or MemberStatus.Removed)
            return Newtonsoft.Json.JsonConvert.SerializeObject(new HttpBootstrapJsonProtocol.SeedNodes(self.UniqueAddress.Address,
                ImmutableList<HttpBootstrapJsonProtocol.ClusterMember>.Empty));
        var state = cluster.State;
        var members = state.Members
            .Where(m => !state.Unreachable.Contains(m))
            .Where(m => m.Status is MemberStatus.Up or MemberStatus.WeaklyUp or MemberStatus.Joining)
            .Select(m => new HttpBootstrapJsonProtocol.ClusterMember(m.UniqueAddress.Address, m.UniqueAddress.Uid, m.Status, m.Roles))
            .ToImmutableList();
        return Newtonsoft.Json.JsonConvert.SerializeObject(new HttpBootstrapJsonProtocol.SeedNodes(self.UniqueAddress.Address, members));
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is not null) await _app.StopAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null) await _app.DisposeAsync();
    }
}

/// <summary>The lifetime of a host run inside the node's host: no signal handling of its own.</summary>
internal sealed class InnerHostLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
