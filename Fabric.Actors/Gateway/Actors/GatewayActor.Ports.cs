using Akka.Actor;
using Akka.Event;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.Guardian;
using Fabric.Messages.Intent;

namespace Fabric.Actors.Gateway.Actors;

// Ports and output. The data path's output is copied into each port's pending output batch and
// sent when the input batch is done (Send, FlushOut), on whichever thread holds the data path.
// Port supervision: "a port I/O fault restarts the port with backoff" (docs/architecture.md). A port
// whose device vanished (PortState.Gone: TAP deleted, its namespace deleted) or that could not be
// opened is closed and re-opened after a delay that doubles from InitialBackoff to MaxBackoff; a
// port that then stays up for StableAfter gets its delay reset. Frames for a port that is down
// are dropped and counted as before (no-room: there is no output batch while it is absent).
public sealed partial class GatewayActor
{
    /// <summary>First delay before re-opening a failed port.</summary>
    public static readonly TimeSpan InitialBackoff = TimeSpan.FromMilliseconds(100);
    /// <summary>The delay doubles up to this.</summary>
    public static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(5);
    /// <summary>A re-opened port that stays up this long starts again from <see cref="InitialBackoff"/>.</summary>
    public static readonly TimeSpan StableAfter = TimeSpan.FromSeconds(10);
    /// <summary>How often the ports' states are checked (a Gone port is noticed within this).</summary>
    private static readonly TimeSpan PortCheckInterval = TimeSpan.FromMilliseconds(100);

    private readonly Dictionary<ushort, PortRestartPolicy> _supervision = [];

    private sealed record RestartPort(ushort Id);

    private sealed class CheckPorts
    {
        public static readonly CheckPorts Instance = new();
    }

    private PortRestartPolicy SupervisionOf(ushort id)
    {
        if (!_supervision.TryGetValue(id, out var s)) _supervision[id] = s = new PortRestartPolicy(InitialBackoff, MaxBackoff, StableAfter);
        return s;
    }

    /// <summary>Opens one port of the plan; on failure schedules a retry with backoff. True when it is open.</summary>
    private bool TryOpenPort(GatewayPort p)
    {
        var s = SupervisionOf(p.Id);
        try
        {
            var port = OpenPort(p);
            _ports[p.Id] = port;
            if (!_out.ContainsKey(p.Id)) _out[p.Id] = _pool.Rent();
            if (port is GhostPort ghostPort) Announce(p, ghostPort);
            var restart = s.Restarting;
            s.Opened(Environment.TickCount64);
            if (restart) _log.Info("Gateway {0}: port {1} re-opened (restart {2})", _spec.Intent.Name, p.Ref.Name, s.Restarts);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            var delay = s.Failed(e.Message, openFailed: true);
            _log.Error("Gateway {0}: cannot open port {1} ({2}): {3}; retrying in {4} ms", _spec.Intent.Name, p.Ref.Name, p.Ref.Kind, e.Message, (int)delay.TotalMilliseconds);
            Timers.StartSingleTimer(new RestartPort(p.Id), new RestartPort(p.Id), delay);
            return false;
        }
    }

    private void OnRestartPort(RestartPort r)
    {
        var p = _dp.Plan.Port(r.Id);
        // Unless the port left the plan (reconfigured) or is open again already.
        if (p is not null && !_ports.ContainsKey(r.Id)) TryOpenPort(p);
    }

    /// <summary>Notices ports whose device went away, closes them and schedules their restart; resets the backoff of ports that stayed up.</summary>
    private void OnCheckPorts()
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
            _log.Warning("Gateway {0}: port {1} is gone ({2}); restarting it in {3} ms", _spec.Intent.Name, port.Name, port.StateDetail, (int)delay.TotalMilliseconds);
            _ports.Remove(id);
            _gate.ClosingPorts(port.Dispose);
            Timers.StartSingleTimer(new RestartPort(id), new RestartPort(id), delay);
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
        FlushOut();
    }

    private IPort OpenPort(GatewayPort p)
    {
        if (p.Ref.Kind == PortKind.LogicalSwitch)
        {
            // The router port on the tenant's logical switch: the MFE of this node's host carries the other side.
            if (_patches is null) throw new ArgumentException($"node {_node} has no switching plane for logical switch {p.Ref.Name}");
            var patch = _patches.Open(PatchPanel.RouterPort(_spec.Intent.Name, _dp.Plan.Tenants[p.TenantIndex].Name), p.Id);
            var self = Self;
            patch.Listen(_pool, batch => self.Tell(new PatchBatch(batch)));
            return patch;
        }
        if (_ghost is not null)
        {
            var tenant = _dp.Plan.Tenants[p.TenantIndex].Name;
            var role = p.Role.ToString().ToLowerInvariant();
            var intent = _spec.Intent.Tenants[p.TenantIndex];
            // The addresses this gateway answers ARP for on the port: the world behind the ghost port must not.
            var owned = p.Role == PortRole.Uplink
                ? (intent.Uplink is { } u ? [GatewayPlan.Address(u.Address.Address)] : Array.Empty<DataPlane.Wire.Ipv4Address>())
                : intent.Networks.Select(n => GatewayPlan.Address(n.Address)).ToArray();
            var ghost = _ghost.Ports.Open(GhostPlaneContext.GatewayPortKey(_spec.Intent.Name, tenant, role), p.Ref.Name, p.Id,
                $"{_spec.Intent.Name}/{tenant}/{role}", answersArp: true, owned, p.Ref.Segment);
            ghost.StartReceiving(_pool, OnPortBatch);
            return ghost;
        }
        if (p.Ref.Kind == PortKind.Tap)
        {
            var tap = TapPort.Open(p.Ref.Name, p.Id);
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
            tap.StartReceiving(_pool, OnPortBatch);
            return tap;
        }
        var queue = new Queue<byte[]>();
        _captured[p.Ref.Name] = queue;
        // A downlink with `traffic` in the intent generates it (inside hosts to an outside address); see SimulatedWorld.
        var tenantIntent = _spec.Intent.Tenants[p.TenantIndex];
        var profile = SimulatedWorld.Profile(_dp.Plan, tenantIntent, p);
        // The sink observer runs on this actor's thread (SendBatch is called from FlushOut).
        var simulated = new SimulatedPort(p.Ref.Name, p.Id, profile ?? IdleTraffic, sinkObserver: batch =>
        {
            for (var i = 0; i < batch.Count && queue.Count < MaxCapturedFrames; i++) queue.Enqueue(batch.Frame(i).ToArray());
        });
        if (profile is not null)
        {
            foreach (var (port, address, mac) in SimulatedWorld.Neighbors(_dp.Plan, tenantIntent, p.TenantIndex)) _dp.AddNeighbor(port, address, mac);
            simulated.StartReceiving(_pool, OnPortBatch);
        }
        return simulated;
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
            _log.Warning("Gateway {0}: port {1} keeps its device MTU: {2}", _spec.Intent.Name, p.Ref.Name, e.Message);
        }
    }

    /// <summary>A simulated port that generates nothing (its receive loop is never started).</summary>
    private static readonly TrafficProfile IdleTraffic = new() { TotalFrames = 0, FramesPerSecond = 1e-9 };

    /// <summary>The datapath's output: copied into the port's pending output batch, sent after the input batch.</summary>
    public void Send(ushort port, ReadOnlySpan<byte> frame)
    {
        if (!_out.TryGetValue(port, out var batch))
        {
            _dp.Counters.Drops[(int)Pipeline.GatewayDrop.NoRoom]++;
            return;
        }
        if (batch.IsFull) FlushPort(port, batch);
        if (!batch.TryAppend(frame, port)) _dp.Counters.Drops[(int)Pipeline.GatewayDrop.NoRoom]++;
        else if (_ghost is not null) batch[batch.Count - 1].IsGhost = true;
    }

    private void FlushOut()
    {
        foreach (var (id, batch) in _out)
        {
            if (batch.Count > 0) FlushPort(id, batch);
        }
    }

    private void FlushPort(ushort id, PacketBatch batch)
    {
        if (_ports.TryGetValue(id, out var port)) port.SendBatch(batch); // non-blocking: a full TAP queue drops and counts
        else _dp.Counters.Drops[(int)Pipeline.GatewayDrop.PortDown] += batch.Count;
        batch.Clear();
    }
}
