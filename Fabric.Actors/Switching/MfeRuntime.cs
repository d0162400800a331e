using System.Collections.Concurrent;
using System.Collections.Immutable;
using Fabric.Actors.DataPlane.Io;
using Fabric.Messages.Intent;
using Fabric.Messages.Switching;

namespace Fabric.Actors.Switching;

/// <summary>
/// A running MFE as management sees it: written by the MFE actor (spec, VNICs, ports, the
/// datapath whose table is current), read by any thread.
/// </summary>
public sealed class MfeRuntime(MfeSpec spec, MfeDatapath datapath)
{
    private volatile MfeSpec _spec = spec;

    public MfeSpec Spec
    {
        get => _spec;
        set => _spec = value;
    }

    public MfeDatapath Datapath => datapath;

    public ConcurrentDictionary<string, DcnVnic> Vnics { get; } = new();

    public ConcurrentDictionary<string, ContainerPort> Ports { get; } = new();

    /// <summary>The gateways' router ports this MFE carries, by link name.</summary>
    public ConcurrentDictionary<string, RouterPort> Routers { get; } = new();

    /// <summary>Why a VNIC port is not open (the last error), by DCN.</summary>
    public ConcurrentDictionary<string, string> VnicErrors { get; } = new();

    /// <summary>True once every container of the spec forwards (its port and its VNIC are in the table).</summary>
    public bool IsReady
    {
        get
        {
            var spec = Spec;
            var table = datapath.Table;
            return spec.Containers.All(c => table.Locals.Any(l => l.Port.Name == c.Name && l.Tag == c.Tag && l.Vnic.Name == c.Dcn));
        }
    }

    public HostSummary Summary()
    {
        var status = Status();
        return new HostSummary(status.Name, status.Node, status.Mfe, status.Overlay?.Local, status.Dcns.Length, status.Ports.Length,
            status.Ports.Count(p => p.State == "up"), status.TableGeneration);
    }

    public HostStatus Status()
    {
        var spec = Spec;
        var table = datapath.Table;
        var forwarding = table.Locals.ToDictionary(l => l.Port.Name);
        var dcns = spec.Dcns.Select(d =>
        {
            Vnics.TryGetValue(d.Name, out var vnic);
            var port = vnic?.Port;
            return new DcnStatus(
                d.Name, d.VnicMac.ToString(), d.Port.Kind == PortKind.Tap ? "tap" : "simulated", d.Port.Name,
                port is null ? "closed" : Kebab(port.State), port?.StateDetail ?? VnicErrors.GetValueOrDefault(d.Name),
                port?.Counters.RxFrames ?? 0, port?.Counters.RxBytes ?? 0, port?.Counters.TxFrames ?? 0, port?.Counters.TxBytes ?? 0,
                port?.Counters.TotalDrops ?? 0,
                vnic?.Counters.DropsByName() ?? new Dictionary<string, long>(),
                [.. spec.Containers.Where(c => c.Dcn == d.Name).Select(c => c.Name)]);
        }).ToImmutableArray();
        var ports = spec.Containers.Select(c =>
        {
            Ports.TryGetValue(c.Name, out var port);
            string state = !forwarding.TryGetValue(c.Name, out var local) ? "starting"
                : local.Vnic.Port.State == PortState.Up ? "up" : "vnic-down";
            var counters = port?.Counters;
            return new MfePortStatus(
                spec.Host, c.Name, c.Dcn, c.Tag.Value, c.Mac.ToString(), c.Ip.ToString(), c.Tenant, c.Vni, state,
                counters?.RxFrames ?? 0, counters?.RxBytes ?? 0, counters?.TxFrames ?? 0, counters?.TxBytes ?? 0,
                counters?.DropsByName() ?? new Dictionary<string, long>(),
                c.Ingress?.Rules.Length ?? 0, c.Egress?.Rules.Length ?? 0, c.Capture);
        }).ToImmutableArray();
        var underlay = datapath.Underlay;
        var overlay = underlay is null ? null : new OverlayStatus(
            underlay.Local.ToString(), underlay.Counters.RxFrames, underlay.Counters.RxBytes,
            underlay.Counters.TxFrames, underlay.Counters.TxBytes, underlay.Counters.DropsByName());
        var routers = spec.RouterPorts.Select(r =>
        {
            Routers.TryGetValue(r.Link, out var port);
            string state = r.Remote is not null ? "remote" : port is null ? "starting" : port.GatewayAttached ? "up" : "gateway-absent";
            return new RouterPortStatus(r.Gateway, r.Tenant, r.Vni, r.Mac.ToString(), [.. r.Addresses.Select(a => a.ToString())],
                r.Remote?.ToString(), state, port?.Counters.RxFrames ?? 0, port?.Counters.TxFrames ?? 0,
                port?.Counters.DropsByName() ?? new Dictionary<string, long>());
        }).ToImmutableArray();
        return new HostStatus(spec.Host, spec.Node, spec.Mfe, datapath.Ghost, table.Generation, table.Remotes, overlay, dcns, ports, routers);
    }

    private static string Kebab(PortState state) => state switch
    {
        PortState.Up => "up",
        PortState.LinkDown => "link-down",
        PortState.Gone => "gone",
        _ => "closed",
    };
}
