using System.Collections.Concurrent;
using System.Collections.Immutable;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Messages.Intent;
using Fabric.Messages.Pseudowire;

namespace Fabric.Actors.Pseudowire;

/// <summary>
/// The node-level part of the pseudowire capability: the one underlay socket (opened on the
/// first PE's start, on the node's intent address), the batch pool, how attachment ports are
/// opened, and the live objects the PE/trunk/PW actors publish for management to read.
/// Created once per node by <c>AddPseudowires</c>.
/// </summary>
public sealed class PseudowireNode : IDisposable
{
    private readonly Lock _lock = new();
    private PwUnderlay? _underlay;
    private bool _livenessQuiet;
    private IReadOnlySet<string> _livenessUrgent = new HashSet<string>();
    private ushort _nextPortId = 1;

    public PseudowireNode(ushort underlayPort = MplsInUdp.Port)
    {
        UnderlayPort = underlayPort;
    }

    /// <summary>
    /// The node's ghost pseudowires (ghost routing): the same PE, trunk and PW code on a ghost
    /// underlay of their own (<paramref name="underlayPort"/>, by default <see cref="GhostUnderlayPort"/>,
    /// so no ghost datagram ever reaches a live PW), attachment circuits on ghost ports from
    /// <paramref name="ports"/>, a pool and live state of their own, and every probe traced.
    /// </summary>
    public static PseudowireNode Ghost(GhostPortSet ports, ushort underlayPort = GhostUnderlayPort, LivenessSettings? liveness = null) =>
        new(underlayPort)
        {
            IsGhost = true,
            Liveness = liveness ?? LivenessSettings.Default,
            Tracer = ports.Tracer,
            PortFactory = ports.Factory(),
        };

    /// <summary>UDP port of the ghost PW underlay: RFC 7510's 6635 + 1 (documented in the README).</summary>
    public const ushort GhostUnderlayPort = MplsInUdp.Port + 1;

    /// <summary>True for the ghost network's pseudowires.</summary>
    public bool IsGhost { get; private init; }

    /// <summary>Ghost only: where probes' hops are reported.</summary>
    public IHopTracer? Tracer { get; private init; }

    /// <summary>UDP port of the underlay (RFC 7510: 6635).</summary>
    public ushort UnderlayPort { get; }

    /// <summary>
    /// Batches the PWs deliver into (attachment circuits) and trunks send from; grown on demand,
    /// nothing preallocated. Frames are 2 KiB slots: a 1514-byte CE frame plus the PW header fits
    /// the headroom. Receiving uses the I/O loops' pools.
    /// </summary>
    public PacketBatchPool Pool { get; } = new(maxRetained: 64);

    /// <summary>How the underlay's liveness clock runs (hocon <c>fabric.pseudowire.liveness</c>).</summary>
    public LivenessSettings Liveness { get; init; } = LivenessSettings.Default;

    /// <summary>The underlay receive queue's delay limit (hocon <c>fabric.pseudowire.underlay</c>; null = none). The ghost copy's underlay has none: probes are never dropped for delay.</summary>
    public CoDelSettings UnderlayQueueDelay { get; init; } = Settings.FabricSettings.Default.Pseudowire.UnderlayQueueDelay;

    /// <summary>Optional capture of every underlay datagram (set before the first PE starts).</summary>
    public string? UnderlayPcapPath { get; set; }

    /// <summary>
    /// The TAP devices this node created and keeps persistent across restarts (from the node's
    /// data directory); null = TAPs live as long as their port (tests, benchmarks).
    /// </summary>
    public AttachmentDevices? Devices { get; init; }

    /// <summary>Opens an attachment port; tests and benchmarks may replace it (e.g. to keep the simulated port).</summary>
    public Func<PortRef, ushort, IPort> PortFactory
    {
        get => _portFactory ?? ((port, id) => DefaultPort(port, id, Devices));
        set => _portFactory = value;
    }

    private Func<PortRef, ushort, IPort>? _portFactory;

    public ConcurrentDictionary<string, PeRuntime> Pes { get; } = new();
    public ConcurrentDictionary<string, TrunkRuntime> Trunks { get; } = new();
    public ConcurrentDictionary<string, PwLink> Pws { get; } = new();

    public PwUnderlay? Underlay => Volatile.Read(ref _underlay);

    /// <summary>
    /// The ghost copy between verifications: its liveness clock sends hellos less often
    /// (<see cref="PwLivenessClock.Quiet"/>), now and when its underlay opens later.
    /// </summary>
    public bool LivenessQuiet
    {
        get => Volatile.Read(ref _livenessQuiet);
        set
        {
            lock (_lock)
            {
                _livenessQuiet = value;
                if (_underlay is { } underlay)
                {
                    underlay.Liveness.Quiet = value;
                }
            }
        }
    }

    /// <summary>
    /// The ghost copy's PWs a verification is about to judge: they run at their intent intervals
    /// whatever the hello budget does to the others (<see cref="PwLivenessClock.Urgent"/>), now
    /// and when the underlay opens later.
    /// </summary>
    public IReadOnlySet<string> LivenessUrgent
    {
        get => Volatile.Read(ref _livenessUrgent);
        set
        {
            lock (_lock)
            {
                _livenessUrgent = value;
                _underlay?.Liveness.Urgent = value;
            }
        }
    }

    /// <summary>The node's underlay, opened on <paramref name="address"/> the first time.</summary>
    public PwUnderlay EnsureUnderlay(Ipv4Address address)
    {
        lock (_lock)
        {
            if (_underlay is { } existing)
            {
                return existing;
            }

            PcapWriter? tee = UnderlayPcapPath is { } path ? new PcapWriter(path) : null;
            _underlay = PwUnderlay.Open(address, UnderlayPort, pool: null, tee, Tracer, Liveness, IsGhost || !UnderlayQueueDelay.IsOn ? null : UnderlayQueueDelay);
            if (_livenessQuiet)
            {
                _underlay.Liveness.Quiet = true;
            }

            if (_livenessUrgent.Count > 0)
            {
                _underlay.Liveness.Urgent = _livenessUrgent;
            }

            return _underlay;
        }
    }

    public ushort NextPortId()
    {
        lock (_lock)
        {
            return _nextPortId++;
        }
    }

    public static IPort DefaultPort(PortRef port, ushort id) => DefaultPort(port, id, devices: null);

    /// <summary>A TAP in the namespace the intent names (recorded in <paramref name="devices"/> when the node creates it), or a simulated port.</summary>
    public static IPort DefaultPort(PortRef port, ushort id, AttachmentDevices? devices) => port.Kind switch
    {
        PortKind.Tap => TapPort.Open(port.Name, id, netns: port.Namespace, devices: devices),
        // The intent's `traffic` rate (UDP flows between two made-up CE MACs), else an idle generator:
        // no traffic unless a test or scenario supplies a profile through PortFactory.
        _ => new SimulatedPort(port.Name, id, new TrafficProfile { TotalFrames = 0, FramesPerSecond = port.Traffic ?? 1e-9, Seed = port.Name.Length }),
    };

    public PeStatus? PeStatus(string name) => Pes.TryGetValue(name, out var pe) ? pe.Status() : null;

    public TrunkStatus? TrunkStatus(string name) => Trunks.TryGetValue(name, out var t) ? t.Status() : null;

    public ImmutableArray<PwStatus> PwStatuses() =>
        Pws.Values.OrderBy(p => p.Name, StringComparer.Ordinal).Select(Status).ToImmutableArray();

    public static PwStatus Status(PwLink p) => new(
        p.Name, p.Config.Pe, p.Config.RemotePe, p.Config.Trunk, p.Config.LocalLabel.Value, p.Config.RemoteLabel.Value,
        p.Config.ControlWord, p.Config.FlowLabel, p.Config.Weight, p.Config.Remote.ToString(),
        p.HasLiveness ? p.Liveness.State.ToString().ToLowerInvariant() : "up (no liveness without a control word)",
        p.Liveness.Transitions, p.TxFrames, p.TxBytes, p.RxFrames, p.RxBytes, p.RxReordered, p.RxLost, p.RxMalformed,
        p.HellosSent, p.Liveness.HellosReceived, p.FaultDrops,
        p.Liveness.Interval.TotalMilliseconds, p.Liveness.TxInterval.TotalMilliseconds);

    public void Dispose()
    {
        lock (_lock)
        {
            _underlay?.Tee?.Dispose();
            _underlay?.Dispose();
            _underlay = null;
        }
    }
}

/// <summary>A running PE as management sees it.</summary>
public sealed class PeRuntime(PeElement element, string underlay)
{
    public PeElement Element { get; set; } = element;
    public ConcurrentDictionary<string, AttachmentCircuit> AttachmentCircuits { get; } = new();

    /// <summary>Circuits whose port failed to open (retried with backoff by the PE actor): the port and why.</summary>
    public ConcurrentDictionary<string, (PortRef Port, string Error)> FailedCircuits { get; } = new();

    public PeStatus Status() => new(
        Element.Pe.Name, Element.Node, Element.Pe.RouterId.ToString(), underlay,
        AttachmentCircuits.Values.OrderBy(a => a.Name, StringComparer.Ordinal).Select(a =>
        {
            var kind = Element.Pe.AttachmentCircuits.FirstOrDefault(x => x.Name == a.Name)?.Port.Kind.ToString().ToLowerInvariant() ?? "";
            return new AttachmentCircuitStatus(a.Name, kind, a.Port.Name, a.Port.State.ToString(),
                a.Port.Counters.RxFrames, a.Port.Counters.TxFrames, a.Port.Counters.TotalDrops, a.NoTrunkDrops + a.TrunkDownDrops);
        }).Concat(FailedCircuits.Select(f => new AttachmentCircuitStatus(f.Key, f.Value.Port.Kind.ToString().ToLowerInvariant(), f.Value.Port.Name,
            "restarting", 0, 0, 0, 0, f.Value.Error))).OrderBy(a => a.Name, StringComparer.Ordinal).ToImmutableArray(),
        Element.Trunks.Select(t => t.Name).ToImmutableArray(),
        Element.Pws.Select(p => p.Name).ToImmutableArray());
}

/// <summary>A running trunk as management sees it (state written by the trunk actor).</summary>
public sealed class TrunkRuntime(TrunkIntent intent, TrunkForwarder forwarder, AttachmentCircuit ac)
{
    public TrunkIntent Intent => intent;
    public TrunkForwarder Forwarder => forwarder;
    public long Transitions;
    public long MemberTransitions;

    public TrunkStatus Status()
    {
        var selector = forwarder.Selector;
        long frames = forwarder.Members.Sum(m => m.TxFrames);
        long bytes = forwarder.Members.Sum(m => m.TxBytes);
        var members = forwarder.Members.Select((m, i) => new TrunkMemberStatus(
            m.Name, m.Config.Weight, m.IsUp ? "up" : m.Liveness.State.ToString().ToLowerInvariant(), selector.IsActive(i),
            m.TxFrames, m.TxBytes, frames == 0 ? 0 : (double)m.TxFrames / frames, bytes == 0 ? 0 : (double)m.TxBytes / bytes,
            m.Liveness.Transitions, forwarder.Pins?.LiveFlows(i) ?? 0)).ToImmutableArray();
        return new TrunkStatus(intent.Name, intent.Pe, intent.AttachmentCircuit,
            intent.Mode == TrunkMode.PerFlow ? "perFlow" : "perPacket", intent.MinActive, selector.ActiveCount,
            forwarder.IsUp ? "up" : "down", Interlocked.Read(ref Transitions), Interlocked.Read(ref MemberTransitions),
            ac.TrunkDownDrops, members,
            intent.Mode == TrunkMode.PerPacket ? "spray" : forwarder.Pins is null ? "hash" : "leastLoaded",
            forwarder.Pins?.Assigned ?? 0, forwarder.Pins?.IdleMoves ?? 0, forwarder.Pins?.Failovers ?? 0, forwarder.Pins?.LiveEvictions ?? 0);
    }
}
