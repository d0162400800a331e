using Akka.Event;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Guardian;
using Fabric.Messages.Intent;

namespace Fabric.Actors.Gateway.Actors;

/// <summary>
/// A gateway's ports and output. Opens one port per port of the plan (TAP, simulated, ghost, or the
/// patch port of a logical switch), gives a TAP its port's MTU, restarts ports that go away, and is
/// the data path's <see cref="IFrameSink"/>: output is copied into each port's pending batch and
/// sent when the input batch is done (<see cref="Flush"/>). Used under the data path's lock, like
/// everything that touches the data path (<see cref="DatapathGate"/>).
/// </summary>
/// <remarks>
/// Port supervision: "a port I/O fault restarts the port with backoff" (docs/architecture.md). A port
/// whose device vanished (PortState.Gone: TAP deleted, its namespace deleted) or that could not be
/// opened is closed and re-opened after a delay that doubles from min-backoff to max-backoff; a
/// port that then stays up for stable-after gets its delay reset (fabric.gateway.port-restart). Frames for a port that is down are
/// dropped and counted (port-down, or no-room while it has no output batch).
/// </remarks>
internal sealed class GatewayPorts : IFrameSink
{
    /// <summary>Most frames captured per simulated port for <see cref="TakeSent"/>.</summary>
    private const int MaxCapturedFrames = 10_000;

    /// <summary>A simulated port that generates nothing (its receive loop is never started).</summary>
    private static readonly TrafficProfile IdleTraffic = new() { TotalFrames = 0, FramesPerSecond = 1e-9 };

    private readonly Dictionary<ushort, IPort> _ports = [];
    private readonly Dictionary<ushort, PacketBatch> _out = [];
    /// <summary>The ports whose output batch has frames since the last <see cref="Flush"/> (a batch's flush looks at these only).</summary>
    private readonly List<ushort> _pendingOut = [];
    private readonly Dictionary<string, Queue<byte[]>> _captured = [];
    private readonly Dictionary<ushort, PortRestartPolicy> _supervision = [];
    private readonly GatewayDatapath _dp;
    private readonly DatapathGate _gate;
    private readonly PacketBatchPool _pool;
    private readonly ILoggingAdapter _log;
    private readonly string _node;
    private readonly GhostPlaneContext? _ghost;
    private readonly PatchPanel? _patches;
    private readonly Action<PacketBatch> _received;
    private readonly Action<PacketBatch> _viaMailbox;
    private readonly Action<ushort, TimeSpan> _scheduleRestart;
    private readonly Action<ushort> _cancelRestart;
    private readonly Action _portWentAway;
    /// <summary>
    /// The one thread that receives for all this gateway's TAPs (an epoll set of its own, created
    /// with the first TAP): a frame the data path writes to one TAP is often answered at once by
    /// the host behind it (an echo reply, a SYN-ACK), and that answer is read by the same thread
    /// without a second thread waking up. One thread per gateway instead of one per TAP.
    /// </summary>
    private IoLoop? _tapLoop;
    /// <summary>The TAP devices the node created and keeps across restarts; null = TAPs live as long as their port (and in a ghost copy).</summary>
    private readonly AttachmentDevices? _devices;

    /// <param name="received">A port's receive thread with its batch (runs the data path to completion).</param>
    /// <param name="viaMailbox">A batch for the actor's mailbox: a logical switch's patch port (on the MFE's thread) and the ghost copy's ports (on a shared I/O loop, which must never wait).</param>
    /// <param name="scheduleRestart">Re-open port id after a delay (the actor's timer calls <see cref="Restart"/>).</param>
    /// <param name="cancelRestart">Forget a scheduled re-open.</param>
    /// <param name="portWentAway">A port became gone (any thread): have <see cref="Check"/> run.</param>
    /// <param name="devices">The node's record of the TAP devices it created (see <see cref="AttachmentDevices"/>).</param>
    public GatewayPorts(GatewayDatapath dp, DatapathGate gate, PacketBatchPool pool, ILoggingAdapter log, GatewayIntent intent, string node,
        GhostPlaneContext? ghost, PatchPanel? patches, Action<PacketBatch> received, Action<PacketBatch> viaMailbox,
        Action<ushort, TimeSpan> scheduleRestart, Action<ushort> cancelRestart, Action portWentAway, AttachmentDevices? devices = null)
    {
        _portWentAway = portWentAway;
        _devices = devices;
        _dp = dp;
        _gate = gate;
        _pool = pool;
        _log = log;
        Intent = intent;
        _node = node;
        _ghost = ghost;
        _patches = patches;
        _received = received;
        _viaMailbox = viaMailbox;
        _scheduleRestart = scheduleRestart;
        _cancelRestart = cancelRestart;
    }

    /// <summary>The gateway's intent as of the data path's plan (ghost ports and simulated traffic read it).</summary>
    public GatewayIntent Intent { get; set; }

    private string Name => Intent.Name;

    public void OpenAll()
    {
        foreach (var p in _dp.Plan.Ports) TryOpen(p);
    }

    /// <summary>Closes every port (joining its receive thread, see <see cref="DatapathGate.ClosingPorts"/>). Holds the data path's lock.</summary>
    public void CloseAll()
    {
        _gate.ClosingPorts(() =>
        {
            foreach (var p in _ports.Values) p.Dispose();
        });
        _ports.Clear();
        _tapLoop?.Dispose();
        _tapLoop = null;
        _captured.Clear();
        foreach (var b in _out.Values) b.Return();
        _out.Clear();
        _pendingOut.Clear();
    }

    /// <summary>
    /// After the data path took a new plan: the same ports keep running (a TAP whose MTU changed is
    /// told so); other ports start afresh, their pending restarts and history dropped.
    /// </summary>
    public void Reconfigured(GatewayPlan before, GatewayPlan plan)
    {
        if (before.Ports.Select(p => (p.Id, p.Ref)).SequenceEqual(plan.Ports.Select(p => (p.Id, p.Ref))))
        {
            foreach (var p in plan.Ports.Where(p => before.MtuOf(p.Id) != p.Mtu)) ApplyMtu(p);
            return;
        }
        foreach (var id in _supervision.Keys) _cancelRestart(id);
        _supervision.Clear();
        RetireUnwantedDevices(before.Ports.Select(p => p.Ref), plan.Ports.Select(p => p.Ref));
        CloseAll();
        OpenAll();
    }

    /// <summary>
    /// TAP devices of <paramref name="before"/> that no port of <paramref name="after"/> uses: a
    /// device the node created is deleted when its port closes (one made by someone else is only detached).
    /// </summary>
    private void RetireUnwantedDevices(IEnumerable<PortRef> before, IEnumerable<PortRef> after)
    {
        if (_devices is null) return;
        var kept = after.Where(r => r.Kind == PortKind.Tap).Select(r => (r.Namespace ?? "", r.Name)).ToHashSet();
        foreach (var r in before.Where(r => r.Kind == PortKind.Tap && !kept.Contains((r.Namespace ?? "", r.Name))))
            _devices.Retire(r.Namespace ?? "", r.Name);
    }

    /// <summary>A scheduled re-open: unless the port left the plan or is open again already.</summary>
    public void Restart(ushort id)
    {
        var p = _dp.Plan.Port(id);
        if (p is not null && !_ports.ContainsKey(id)) TryOpen(p);
    }

    /// <summary>
    /// True while a port's supervision is not settled (it is restarting, or its backoff has yet to
    /// start over after <c>stable-after</c>): only then does <see cref="Check"/> need a timer.
    /// A port going away says so itself (<see cref="IPort.WentAway"/>).
    /// </summary>
    public bool Unsettled
    {
        get
        {
            // Asked after every message the actor handles: a loop, nothing allocated.
            foreach (var s in _supervision.Values)
            {
                if (s.Restarting || s.Backoff != s.Initial) return true;
            }

            return false;
        }
    }

    /// <summary>Notices ports whose device went away, closes them and schedules their restart; resets the backoff of ports that stayed up.</summary>
    public void Check()
    {
        var now = Environment.TickCount64;
        List<ushort>? gone = null;
        foreach (var (id, port) in _ports)
        {
            var s = SupervisionOf(id);
            if (port.State == PortState.Gone) (gone ??= []).Add(id);
            else s.StillUp(now);
        }
        if (gone is null) return;
        foreach (var id in gone)
        {
            var port = _ports[id];
            var delay = SupervisionOf(id).Failed(port.StateDetail, openFailed: false);
            _log.Warning("Gateway {0}: port {1} is gone ({2}); restarting it in {3} ms", Name, port.Name, port.StateDetail, (int)delay.TotalMilliseconds);
            _ports.Remove(id);
            _gate.ClosingPorts(port.Dispose);
            _scheduleRestart(id, delay);
        }
    }

    /// <summary>The data path's output: copied into the port's pending output batch, sent by <see cref="Flush"/>.</summary>
    public void Send(ushort port, ReadOnlySpan<byte> frame) => Send(port, frame, checksumsValid: false);

    public void Send(ushort port, ReadOnlySpan<byte> frame, bool checksumsValid)
    {
        if (!_out.TryGetValue(port, out var batch))
        {
            _dp.Counters.Drop(Pipeline.GatewayDrop.NoRoom);
            return;
        }
        if (batch.IsFull) FlushPort(port, batch);
        if (batch.Count == 0) _pendingOut.Add(port);
        if (!batch.TryAppend(frame, port))
        {
            _dp.Counters.Drop(Pipeline.GatewayDrop.NoRoom);
            return;
        }
        ref var sent = ref batch[batch.Count - 1];
        sent.ChecksumsValid = checksumsValid;
        if (_ghost is not null) sent.IsGhost = true;
    }

    /// <summary>
    /// A super-frame forwarded whole: an offloading TAP writes it as it is (straight from the
    /// receive batch, after the port's pending output, which came first); any other port gets its
    /// segments, cut into its output batch.
    /// </summary>
    public void SendSuperFrame(ushort port, ReadOnlySpan<byte> frame, ushort gsoSize)
    {
        if (_ports.TryGetValue(port, out var device) && device is TapPort { Offloads: true } tap && _ghost is null)
        {
            if (_out.TryGetValue(port, out var pending) && pending.Count > 0) FlushPort(port, pending);
            tap.SendSuperFrame(frame, gsoSize);
            return;
        }
        if (!TcpSegmenter.TryCreate(frame, gsoSize, out var segmenter))
        {
            _dp.Counters.Drop(Pipeline.GatewayDrop.Malformed);
            return;
        }
        while (segmenter.Remaining > 0)
        {
            if (!_out.TryGetValue(port, out var batch))
            {
                _dp.Counters.Drop(Pipeline.GatewayDrop.NoRoom, segmenter.Remaining);
                return;
            }
            if (batch.IsFull) FlushPort(port, batch);
            if (batch.Count == 0) _pendingOut.Add(port);
            if (!segmenter.TryNext(batch.NextFrameRoom(), out var length))
            {
                _dp.Counters.Drop(Pipeline.GatewayDrop.NoRoom, segmenter.Remaining);
                return;
            }
            batch.Commit(length, port).ChecksumsValid = true;
        }
    }

    /// <summary>Sends every port's pending output.</summary>
    public void Flush()
    {
        if (_pendingOut.Count == 0) return;
        foreach (var id in _pendingOut)
        {
            if (_out.TryGetValue(id, out var batch) && batch.Count > 0) FlushPort(id, batch);
        }
        _pendingOut.Clear();
    }

    /// <summary>Counts frames injected into port <paramref name="id"/> as received there (tests, demos).</summary>
    public void CountInjected(ushort id, int frames, long bytes)
    {
        if (_ports.TryGetValue(id, out var device)) device.Counters.AddRx(frames, bytes);
    }

    /// <summary>The frames sent out of simulated port <paramref name="name"/> since the last call.</summary>
    public byte[][] TakeSent(string name)
    {
        if (!_captured.TryGetValue(name, out var q)) return [];
        var frames = q.ToArray();
        q.Clear();
        return frames;
    }

    public GatewayPortStatus StatusOf(GatewayPort p)
    {
        var plan = _dp.Plan;
        var s = _supervision.GetValueOrDefault(p.Id);
        var (kind, role, tenant) = (p.Ref.Kind.ToString().ToLowerInvariant(), p.Role.ToString().ToLowerInvariant(), plan.Tenants[p.TenantIndex].Name);
        var restarts = s?.Restarts ?? 0;
        var failures = s?.OpenFailures ?? 0;
        return _ports.TryGetValue(p.Id, out var port)
            ? new GatewayPortStatus(p.Id, p.Ref.Name, kind, role, tenant, port.State.ToString().ToLowerInvariant(), port.Counters.RxFrames, port.Counters.TxFrames, port.Counters.TotalDrops,
                restarts, failures, s?.LastError, p.Mtu)
            : new GatewayPortStatus(p.Id, p.Ref.Name, kind, role, tenant, s?.Restarting == true ? "restarting" : "absent", 0, 0, 0, restarts, failures, s?.LastError, p.Mtu);
    }

    private void FlushPort(ushort id, PacketBatch batch)
    {
        if (_ports.TryGetValue(id, out var port)) port.SendBatch(batch); // non-blocking: a full TAP queue drops and counts
        else _dp.Counters.Drop(Pipeline.GatewayDrop.PortDown, batch.Count);
        batch.Clear();
    }

    private PortRestartPolicy SupervisionOf(ushort id)
    {
        if (!_supervision.TryGetValue(id, out var s)) _supervision[id] = s = _dp.Settings.PortRestart.NewPolicy();
        return s;
    }

    /// <summary>Opens one port of the plan; on failure schedules a retry with backoff. True when it is open.</summary>
    private bool TryOpen(GatewayPort p)
    {
        var s = SupervisionOf(p.Id);
        try
        {
            var port = Open(p);
            _ports[p.Id] = port;
            port.WentAway += _portWentAway;
            if (port.State == PortState.Gone) _portWentAway(); // gone before anyone listened
            if (!_out.ContainsKey(p.Id)) _out[p.Id] = _pool.Rent();
            if (port is GhostPort ghostPort) Announce(p, ghostPort);
            var restart = s.Restarting;
            s.Opened(Environment.TickCount64);
            if (restart) _log.Info("Gateway {0}: port {1} re-opened (restart {2})", Name, p.Ref.Name, s.Restarts);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            var delay = s.Failed(e.Message, openFailed: true);
            _log.Error("Gateway {0}: cannot open port {1} ({2}): {3}; retrying in {4} ms", Name, p.Ref.Name, p.Ref.Kind, e.Message, (int)delay.TotalMilliseconds);
            _scheduleRestart(p.Id, delay);
            return false;
        }
    }

    /// <summary>
    /// Gratuitous ARP for each of the gateway's addresses on a ghost port (RFC 5227 §3's
    /// announcement): elements sharing its segment learn them even if they resolved one before
    /// this port existed (the ghost world only answers for addresses nobody on the segment owns).
    /// </summary>
    private void Announce(GatewayPort p, GhostPort port)
    {
        var tenant = _dp.Plan.Tenants[p.TenantIndex];
        foreach (var address in port.Owned) _dp.SendArpRequest(p.Id, address, tenant, this);
        Flush();
    }

    /// <summary>Gives an open TAP port's device the port's (changed) MTU; a device that refuses is logged, the data path holds the new MTU all the same.</summary>
    private void ApplyMtu(GatewayPort p)
    {
        if (!_ports.TryGetValue(p.Id, out var port) || port is not TapPort tap) return;
        try
        {
            tap.SetMtu(p.Mtu);
        }
        catch (IOException e)
        {
            _log.Warning("Gateway {0}: port {1} keeps its device MTU: {2}", Name, p.Ref.Name, e.Message);
        }
    }

    private IPort Open(GatewayPort p)
    {
        if (p.Ref.Kind == PortKind.LogicalSwitch)
        {
            // The router port on the tenant's logical switch: the MFE of this node's host carries the other side.
            if (_patches is null) throw new ArgumentException($"node {_node} has no switching plane for logical switch {p.Ref.Name}");
            var patch = _patches.Open(PatchPanel.RouterPort(Name, _dp.Plan.Tenants[p.TenantIndex].Name), p.Id);
            patch.Listen(_pool, _viaMailbox);
            return patch;
        }
        if (_ghost is not null)
        {
            var tenant = _dp.Plan.Tenants[p.TenantIndex].Name;
            var role = p.Role.ToString().ToLowerInvariant();
            var intent = Intent.Tenants[p.TenantIndex];
            // The addresses this gateway answers ARP for on the port: the world behind the ghost port must not.
            var owned = p.Role == PortRole.Uplink
                ? (intent.Uplink is { } u ? [GatewayPlan.Address(u.Address.Address)] : Array.Empty<DataPlane.Wire.Ipv4Address>())
                : intent.Networks.Select(n => GatewayPlan.Address(n.Address)).ToArray();
            var ghost = _ghost.Ports.Open(GhostPlaneContext.GatewayPortKey(Name, tenant, role), p.Ref.Name, p.Id,
                $"{Name}/{tenant}/{role}", answersArp: true, owned, p.Ref.Segment);
            ghost.StartReceiving(_pool, _viaMailbox);
            return ghost;
        }
        if (p.Ref.Kind == PortKind.Tap)
        {
            var tap = TapPort.Open(p.Ref.Name, p.Id, netns: p.Ref.Namespace, devices: _devices);
            try
            {
                // The host side sends nothing larger than what the gateway forwards out of it.
                tap.SetMtu(p.Mtu);
            }
            catch (IOException)
            {
                tap.Dispose();
                throw;
            }
            tap.KeepsSuperFrames = _pool.SuperFrameRoom >= TapPort.SuperFrameRoom;
            _tapLoop ??= IoLoops.Shared.NewOwnLoop($"gw-rx-{Name}", _pool);
            tap.StartReceiving(_pool, _received, _tapLoop);
            return tap;
        }
        var queue = new Queue<byte[]>();
        _captured[p.Ref.Name] = queue;
        // A downlink with `traffic` in the intent generates it (inside hosts to an outside address); see SimulatedWorld.
        var tenantIntent = Intent.Tenants[p.TenantIndex];
        var profile = SimulatedWorld.Profile(_dp.Plan, tenantIntent, p);
        // The sink observer runs on the thread that flushes (under the data path's lock).
        var simulated = new SimulatedPort(p.Ref.Name, p.Id, profile ?? IdleTraffic, sinkObserver: batch =>
        {
            for (var i = 0; i < batch.Count && queue.Count < MaxCapturedFrames; i++) queue.Enqueue(batch.Frame(i).ToArray());
        });
        if (profile is not null)
        {
            foreach (var (port, address, mac) in SimulatedWorld.Neighbors(_dp.Plan, tenantIntent, p.TenantIndex)) _dp.AddNeighbor(port, address, mac);
            simulated.StartReceiving(_pool, _received);
        }
        return simulated;
    }
}
