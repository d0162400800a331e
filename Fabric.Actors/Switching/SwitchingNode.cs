using System.Collections.Concurrent;
using System.Collections.Immutable;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Messages.Intent;
using Fabric.Messages.Switching;

namespace Fabric.Actors.Switching;

/// <summary>
/// The node-level part of the switching capability, for one plane: whether it is the ghost copy,
/// how every attachment port (a DCN's VNIC) is opened, the Geneve underlay port, the batch pool,
/// the underlay sockets (one per address, opened by the first MFE that needs it), and the running
/// MFEs that management reads. Created once per plane by <c>AddSwitching</c>.
/// </summary>
/// <remarks>In ghost mode nothing real is opened but the ghost underlay socket: ports come from
/// <see cref="PortFactory"/> (without one, idle simulated ports), captures are not written, and
/// every frame handled is a ghost frame.</remarks>
public sealed class SwitchingNode : IDisposable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<Ipv4Address, GeneveUnderlay> _underlays = new();
    private ushort _nextPortId = 0x4000; // apart from the PE and gateway port ids, for readable captures

    /// <param name="poolRetainedBatches">Idle batches the plane's pool keeps (<c>fabric.switching.pool-retained-batches</c>; the shipped value when not given).</param>
    public SwitchingNode(bool ghost = false, Func<PortRef, ushort, IPort>? portFactory = null, ushort genevePort = UdpPorts.Geneve, PatchPanel? patches = null,
        int? poolRetainedBatches = null)
    {
        Ghost = ghost;
        var retained = poolRetainedBatches ?? SwitchingSettings.Default.PoolRetainedBatches;
        Pool = new PacketBatchPool(maxRetained: retained, preallocate: Math.Min(8, retained));
        Patches = patches ?? new PatchPanel();
        PortFactory = portFactory ?? (ghost ? IdlePort : DefaultPort);
        GenevePort = genevePort;
    }

    /// <summary>True for the ghost plane.</summary>
    public bool Ghost { get; }

    /// <summary>This plane's links to the gateways of this node: an MFE carries their router ports there.</summary>
    public PatchPanel Patches { get; }

    /// <summary>Ghost plane only: where the forwarders report each probe's hops and drops (null on main).</summary>
    public IHopTracer? Tracer { get; init; }

    /// <summary>Opens every attachment port of this plane (a DCN's VNIC), given its intent reference and a port id.</summary>
    public Func<PortRef, ushort, IPort> PortFactory { get; }

    /// <summary>UDP port of the Geneve underlay (6081, RFC 8926 §3.3, unless configured); every node of a plane uses the same.</summary>
    public ushort GenevePort { get; }

    /// <summary>Frames are 2 KiB slots: a 1518-byte tagged frame plus a Geneve header fits.</summary>
    public PacketBatchPool Pool { get; }

    /// <summary>The MFEs running on this plane, by host name.</summary>
    public ConcurrentDictionary<string, MfeRuntime> Mfes { get; } = new();

    public IReadOnlyList<GeneveUnderlay> Underlays
    {
        get
        {
            lock (_lock)
            {
                return [.. _underlays.Values];
            }
        }
    }

    /// <summary>The underlay socket on <paramref name="address"/>:<see cref="GenevePort"/>, opened the first time.</summary>
    public GeneveUnderlay EnsureUnderlay(Ipv4Address address)
    {
        lock (_lock)
        {
            if (!_underlays.TryGetValue(address, out var underlay))
            {
                underlay = GeneveUnderlay.Open(address, GenevePort, Pool, Ghost, Tracer);
                _underlays[address] = underlay;
            }

            return underlay;
        }
    }

    public ushort NextPortId()
    {
        lock (_lock)
        {
            return _nextPortId++;
        }
    }

    /// <summary>
    /// Main plane: a TAP for <c>tap</c> (in the namespace the port names; it lives as long as its
    /// port: persistence is for PE and gateway attachments so far), an idle generator for
    /// <c>simulated</c> (tests and benchmarks supply their own through the factory).
    /// </summary>
    public static IPort DefaultPort(PortRef port, ushort id) => port.Kind switch
    {
        PortKind.Tap => TapPort.Open(port.Name, id, netns: port.Namespace),
        _ => IdlePort(port, id),
    };

    /// <summary>A simulated port that generates nothing and sinks what it is given.</summary>
    public static IPort IdlePort(PortRef port, ushort id) =>
        new SimulatedPort(port.Name, id, new TrafficProfile { TotalFrames = 0, FramesPerSecond = 1e-9 });

    /// <summary>The router ports the running MFEs carry: how many have their gateway attached, of how many.</summary>
    public (int Up, int Total) RouterLiveness()
    {
        var routers = Mfes.Values.SelectMany(m => m.Routers.Values).ToList();
        return (routers.Count(r => r.GatewayAttached), routers.Count);
    }

    public HostStatus? Status(string host) => Mfes.TryGetValue(host, out var mfe) ? mfe.Status() : null;

    public ImmutableArray<HostSummary> Summaries() =>
        [.. Mfes.Values.OrderBy(m => m.Spec.Host, StringComparer.Ordinal).Select(m => m.Summary())];

    public ImmutableArray<MfePortStatus> Ports() =>
        [.. Mfes.Values.OrderBy(m => m.Spec.Host, StringComparer.Ordinal).SelectMany(m => m.Status().Ports)];

    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var underlay in _underlays.Values)
            {
                underlay.Dispose();
            }

            _underlays.Clear();
        }
    }
}
