using System.Text;
using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using Akka.Hosting;
using Akka.Event;
using Akka.Management;
using Akka.Management.Dsl;
using Akka.Management.Cluster.Bootstrap;
using Fabric.Node.Management;

namespace Fabric.Node.Hosting;

/// <summary>
/// Akka.Management on its own HTTP server (Akka.Http.Shim over Ceen, not Kestrel): Cluster
/// Bootstrap's contact point (<c>/bootstrap/seed-nodes</c>), <c>/remote/address</c>, and the
/// node's <c>/alive</c> and <c>/ready</c> (<see cref="NodeHealthRoutes"/>). It listens on
/// <see cref="NodeOptions.AkkaManagementEndpoint"/>: <c>--akka-management</c>, or the remoting
/// host with the Fabric API's port + 10000, so two nodes that differ only in <c>--management</c>
/// never share it. The Fabric API (Kestrel, <c>--management</c>) stays where operators and
/// scripts know it; Akka.Management's routes are read-only and carry no token.
/// </summary>
public static class AkkaManagementHosting
{
    /// <summary>The service name config discovery lists the contact points under (Cluster Bootstrap's default: the system name).</summary>
    public const string ServiceName = FabricNodeApp.SystemName;

    public static AkkaConfigurationBuilder AddAkkaManagement(this AkkaConfigurationBuilder akka, NodeOptions options, Config hocon)
    {
        var (host, port) = options.AkkaManagementEndpoint;
        akka.WithAkkaManagement(o =>
        {
            o.HostName = host;
            o.Port = port;
            o.BindHostName = host;
            o.BindPort = port;
            o.WithRouteProvider<NodeHealthRoutes>("fabric-health");
        }, autoStart: false);

        if (!options.Discovery.IsEmpty) akka.AddHocon(BootstrapHocon(options, hocon), HoconAddMode.Prepend);
        if (options.KubernetesDiscovery && KubernetesDefaults() is { } k8s) akka.AddHocon(k8s, HoconAddMode.Append);

        return akka.WithActors((system, _) => Start(system, options, host, port));
    }

    /// <summary>Starts Akka.Management's server, and Cluster Bootstrap when discovery is set, off the ActorSystem's start.</summary>
    private static void Start(ActorSystem system, NodeOptions options, string host, int port)
    {
        var log = system.Log;
        _ = Task.Run(async () =>
            {
                try
                {
                    var uri = await AkkaManagement.Get(system).Start();
                    log.Info("Akka.Management HTTP on {0} (Cluster Bootstrap contact point, /alive, /ready)", uri);
                    if (!options.Discovery.IsEmpty)
                    {
                        log.Info("Cluster Bootstrap: {0}", options.KubernetesDiscovery
                            ? "Kubernetes API discovery"
                            : "config discovery of " + string.Join(", ", options.Discovery));
                        await ClusterBootstrap.Get(system).Start();
                    }
                }
                catch (Exception e)
                {
                    // Without its contact point a bootstrapping node can never join: stop it, the
                    // host then exits non-zero. A node with seeds or alone only loses /alive and /ready.
                    log.Error(e, "Akka.Management could not listen on {0}:{1}", host, port);
                    if (!options.Discovery.IsEmpty) await CoordinatedShutdown.Get(system).Run(CoordinatedShutdown.ClrExitReason.Instance);
                }
            });
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
            var required = hocon.GetInt("fabric.discovery.kubernetes.required-contact-points", 3);
            var portName = hocon.GetString("fabric.discovery.kubernetes.port-name", "management");
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
        }
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
