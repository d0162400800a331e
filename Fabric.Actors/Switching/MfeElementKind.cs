using System.Collections.Immutable;
using Akka.Actor;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Guardian;
using Fabric.Actors.Switching.Actors;
using Fabric.Messages.Intent;

namespace Fabric.Actors.Switching;

/// <summary>
/// The "host" element kind: the host a node runs (at most one) becomes /user/fabric/host-H with
/// its MFE below it. The spec carries the containers of the host's tenants on other hosts too,
/// so adding a container on one host reconfigures the other hosts' MFEs (a table swap, no port
/// is touched).
/// </summary>
public sealed class MfeElementKind(SwitchingNode node) : IElementKind
{
    /// <summary>Underlay address of a node without one in the intent (fine for a single node).</summary>
    public static readonly Ipv4Address DefaultUnderlay = new(127, 0, 0, 1);

    public string Kind => "host";

    public SwitchingNode Node => node;

    public IEnumerable<ElementSpec> Desired(IntentDocument intent, string nodeName)
    {
        foreach (var host in intent.Hosts.Where(h => h.Node == nodeName))
        {
            var spec = Spec(intent, host, node.GenevePort);
            yield return new ElementSpec(Kind, host.Name, spec, spec.Fingerprint());
        }
    }

    public Props Props(ElementSpec spec) => HostActor.Props((MfeSpec)spec.Spec, node);

    /// <summary>What <paramref name="host"/>'s MFE forwards on, from the whole intent (pure).</summary>
    public static MfeSpec Spec(IntentDocument intent, HostIntent host, ushort genevePort)
    {
        var vni = intent.Tenants.ToDictionary(t => t.Name, t => t.Vni);
        var address = intent.Nodes.ToDictionary(n => n.Name, n => n.Address is { } a ? new Ipv4Address(a.Value) : DefaultUnderlay);
        var containers = host.Containers
            .OrderBy(c => c.Name, StringComparer.Ordinal)
            .Select(c => new ContainerSpec(
                c.Name, c.Dcn, new VlanId(c.LocalTag), new MacAddress(c.Mac.Value), new Ipv4Address(c.Ip.Value),
                c.Tenant, c.Tenant is { } t ? vni.GetValueOrDefault(t) : 0, c.Ingress, c.Egress, c.Capture))
            .ToImmutableArray();
        var routers = RouterPorts(intent, vni).ToList();
        var tenants = containers.Where(c => c.Vni != 0).Select(c => c.Vni)
            .Concat(routers.Where(r => r.Node == host.Node).Select(r => r.Vni)).ToHashSet();
        var remotes = intent.Hosts
            .Where(h => h.Name != host.Name)
            .SelectMany(h => h.Containers.Select(c => (Host: h, Container: c)))
            .Where(x => x.Container.Tenant is { } t && vni.TryGetValue(t, out var v) && tenants.Contains(v))
            .OrderBy(x => x.Host.Name, StringComparer.Ordinal).ThenBy(x => x.Container.Name, StringComparer.Ordinal)
            .Select(x => new RemoteContainer(
                x.Host.Name, x.Container.Name, new MacAddress(x.Container.Mac.Value), new Ipv4Address(x.Container.Ip.Value),
                vni[x.Container.Tenant!], new UnderlayEndpoint(address.GetValueOrDefault(x.Host.Node, DefaultUnderlay), genevePort)))
            .ToImmutableArray();
        return new MfeSpec(
            host.Name,
            host.Mfe.Name,
            host.Node,
            address.GetValueOrDefault(host.Node, DefaultUnderlay),
            host.ContainerDcns.OrderBy(d => d.Name, StringComparer.Ordinal)
                .Select(d => new DcnSpec(d.Name, new MacAddress(d.VnicMac.Value), d.VnicPort)).ToImmutableArray(),
            containers,
            remotes,
            [.. routers.Where(r => tenants.Contains(r.Vni)).Select(r => new RouterPortSpec(
                r.Gateway, r.Tenant, r.Vni, r.Mac, r.Addresses,
                r.Node == host.Node ? null : new UnderlayEndpoint(address.GetValueOrDefault(r.Node, DefaultUnderlay), genevePort)))]);
    }

    /// <summary>Every gateway tenant whose downlink is its logical switch: a router port on the MFE of the gateway's node.</summary>
    private static IEnumerable<(string Gateway, string Tenant, string Node, uint Vni, MacAddress Mac, ImmutableArray<Ipv4Address> Addresses)> RouterPorts(
        IntentDocument intent, Dictionary<string, uint> vni) =>
        intent.Gateways
            .OrderBy(g => g.Name, StringComparer.Ordinal)
            .SelectMany(g => g.Tenants
                .Where(t => t.Downlink is { Kind: PortKind.LogicalSwitch } && vni.ContainsKey(t.Tenant))
                .OrderBy(t => t.Tenant, StringComparer.Ordinal)
                .Select(t => (g.Name, t.Tenant, g.Node, vni[t.Tenant], new MacAddress(g.RouterMac.Value),
                    t.Networks.Select(n => new Ipv4Address(n.Address.Value)).ToImmutableArray())));
}
