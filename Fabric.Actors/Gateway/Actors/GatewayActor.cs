using System.Collections.Immutable;
using Akka.Actor;
using Akka.Event;
using Akka.Hosting;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Guardian;
using Fabric.Actors.Settings;
using Fabric.Messages.Intent;

namespace Fabric.Actors.Gateway.Actors;

/// <summary>
/// /user/fabric/gw-NAME: a gateway element, the thin shell over its <see cref="GatewayDatapath"/>.
/// Its parts each have one job: <see cref="GatewayPorts"/> owns the ports and the output (their
/// receive threads run the data path over each batch to completion, hits leave by their output
/// port on the same thread), <see cref="MissResolver"/> sends the misses to the flow-cache
/// entities and keeps them configured and restored, <see cref="GatewayStatusReport"/> renders the
/// status. The actor carries their messages and timers, under the data path's lock
/// (<see cref="DatapathGate"/>), applies reconfigurations, and supervises one tenant-T child per
/// tenant holding that tenant's stage configuration.
/// </summary>
public sealed class GatewayActor : ReceiveActor, IWithTimers
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly PacketBatchPool _pool;
    /// <summary>Held by whoever runs the data path: a port's receive thread for its batch, or this actor for control work.</summary>
    private readonly DatapathGate _gate;
    private readonly Action<PacketBatch> _runBatch;
    private readonly string _node;
    /// <summary>Set for a ghost copy (ghost routing): ghost ports, local stages, every probe traced.</summary>
    private readonly GhostPlaneContext? _ghost;
    private readonly GatewaySettings _settings;
    private readonly GatewayDatapath _dp;
    private readonly GatewayPorts _ports;
    /// <summary>The sharded miss path; null when the stages run in process (a ghost copy, or no region on this node).</summary>
    private MissResolver? _resolver;
    private GatewaySpec _spec;
    private uint _generation = 1;
    /// <summary>The deadline the sweep timer is armed for (<see cref="long.MaxValue"/>: not armed); written by the actor under the lock.</summary>
    private long _sweepAt = long.MaxValue;
    /// <summary>1 while a <see cref="NudgeSweep"/> is on its way.</summary>
    private int _sweepNudged;
    private readonly IActorRef _self;

    public ITimerScheduler Timers { get; set; } = null!;

    public GatewayActor(GatewaySpec spec, string node, GhostPlaneContext? ghost = null, PatchPanel? patches = null, AttachmentDevices? devices = null)
    {
        _spec = spec;
        _node = node;
        _ghost = ghost;
        _settings = FabricSettings.Get(Context.System).Gateway;
        _dp = new GatewayDatapath(Compile(spec, _generation), settings: _settings);
        _gate = new DatapathGate(_settings.IngressWait);
        _pool = new PacketBatchPool(maxRetained: _settings.PoolRetainedBatches);
        _runBatch = OnBatch;
        var self = Self;
        _self = self;
        _ports = new GatewayPorts(_dp, _gate, _pool, _log, spec.Intent, node, ghost, ghost?.Patches ?? patches,
            // A port's receive thread, with its batch: runs the data path to completion there unless
            // it stays busy longer than fabric.gateway.ingress-wait, then drops the batch at ingress
            // (counted). One batch per port is ever in flight; nothing is queued behind a mailbox.
            received: batch => _gate.TryRun(batch, _runBatch),
            // A logical switch's frames (which arrive on the MFE's thread) and the ghost copy's
            // probes take the mailbox: see MailboxBatch.
            viaMailbox: batch => self.Tell(new MailboxBatch(batch)),
            scheduleRestart: (id, delay) => Timers.StartSingleTimer(new RestartPort(id), new RestartPort(id), delay),
            cancelRestart: id => Timers.Cancel(new RestartPort(id)),
            portWentAway: () => self.Tell(CheckPorts.Instance),
            devices: ghost is null ? devices : null);

        // Everything that touches the data path holds its lock: the ports' receive threads and
        // these handlers on the actor's thread.
        Guarded<Messages.Gateway.FlowsResolved>(r => _resolver?.OnResolved(r, Sender));
        Guarded<Messages.Gateway.FlowCacheNeedsConfig>(n => _resolver?.ConfigureBucket(n.Bucket, restore: n.Fresh));
        Guarded<Messages.Gateway.UpdatePortBlocks>(u => _resolver?.OnUpdatePortBlocks(u));
        Guarded<Messages.Gateway.CheckConnections>(c =>
        {
            if (_resolver is not null) Sender.Tell(_resolver.OnCheckConnections(c));
        });
        Guarded<Sweep>(_ =>
        {
            _sweepAt = long.MaxValue; // fired
            _dp.Sweep(Environment.TickCount64);
        });
        Guarded<NudgeSweep>(_ => Volatile.Write(ref _sweepNudged, 0));
        Guarded<MailboxBatch>(m => _runBatch(m.Batch));
        Guarded<Terminated>(t => _resolver?.OnTerminated(t));
        Guarded<Tick>(_ => OnTick());
        Guarded<CheckPorts>(_ => _ports.Check());
        Guarded<RestartPort>(r => _ports.Restart(r.Id));
        Guarded<ElementSpecChanged>(c => Reconfigure((GatewaySpec)c.Spec.Spec));
        Guarded<InjectFrames>(Inject);
        Guarded<TakeSentFrames>(t => Sender.Tell(new SentFrames([.. _ports.TakeSent(t.Port)])));
        Guarded<ArmTrace>(a =>
        {
            _dp.TraceNext(a.Packets);
            Sender.Tell(new GatewayTraces(_spec.Intent.Name, a.Packets, _dp.Traces()));
        });
        Guarded<GetGatewayTraces>(_ => Sender.Tell(new GatewayTraces(_spec.Intent.Name, 0, _dp.Traces())));
        Guarded<GetGatewayStatus>(_ => Sender.Tell(GatewayStatusReport.Build(_dp, _ports, _resolver, _gate, _node, Akka.Cluster.Cluster.Get(Context.System).SelfAddress)));
        Guarded<SetCacheDisabled>(d =>
        {
            _dp.CacheDisabled = d.Disabled;
            Sender.Tell(d);
        });
    }

    /// <summary>Handles <typeparamref name="T"/> on the actor's thread while holding the data path's lock.</summary>
    private void Guarded<T>(Action<T> handler) => Receive<T>(m =>
    {
        using (_gate.Hold())
        {
            handler(m);
            ArmSweep();
            WatchPorts();
        }
    });

    /// <summary>
    /// The port check runs on a timer only while a port's supervision is unsettled (restarting, or
    /// waiting out stable-after to reset its backoff); a port that goes away tells the actor
    /// itself (<see cref="IPort.WentAway"/>), so healthy ports cost no wake-up.
    /// </summary>
    private void WatchPorts()
    {
        var active = Timers.IsTimerActive(CheckPorts.Instance);
        if (_ports.Unsettled && !active) Timers.StartPeriodicTimer(CheckPorts.Instance, CheckPorts.Instance, _settings.PortCheckInterval);
        else if (!_ports.Unsettled && active) Timers.Cancel(CheckPorts.Instance);
    }

    /// <summary>
    /// Arms the sweep for when the first tracked connection can be due, or stops it while none
    /// is: a gateway without connections never wakes for them (it used to sweep every
    /// sweep-interval regardless). Actor thread, holding the data path's lock.
    /// </summary>
    private void ArmSweep()
    {
        var next = _dp.NextExpiry;
        if (next == _sweepAt) return;
        if (next == long.MaxValue)
        {
            Timers.Cancel(Sweep.Instance);
            Volatile.Write(ref _sweepAt, long.MaxValue);
            return;
        }
        Volatile.Write(ref _sweepAt, next);
        Timers.StartSingleTimer(Sweep.Instance, Sweep.Instance, TimeSpan.FromMilliseconds(Math.Max(1, next - Environment.TickCount64)));
    }

    public static Props Props(GatewaySpec spec, string node, GhostPlaneContext? ghost = null, PatchPanel? patches = null, AttachmentDevices? devices = null) =>
        ActorProps.Of(() => new GatewayActor(spec, node, ghost, patches, devices));

    protected override void PreStart()
    {
        if (_ghost is not null)
        {
            _dp.Tracer = _ghost.Tracer;
        }
        else if (ActorRegistry.For(Context.System).TryGet<FlowCacheRegion>(out var region))
        {
            _resolver = new MissResolver(_dp, _settings, _spec, region, Self, Context, _log, _ports);
            _dp.Resolver = _resolver;
        }
        else
        {
            _log.Warning("No flow-cache shard region on this node: gateway {0} runs its stages in process", _spec.Intent.Name);
        }
        using (_gate.Hold())
        {
            StartTenants();
            _ports.OpenAll();
            _resolver?.ConfigureAllBuckets(restore: true);
            ResolveNextHops();
        }
        Timers.StartPeriodicTimer(Tick.Instance, Tick.Instance, _settings.HousekeepingInterval);
        using (_gate.Hold())
        {
            ArmSweep();
            WatchPorts();
        }
    }

    protected override void PostStop()
    {
        using (_gate.Hold()) _ports.CloseAll();
    }

    private GatewayPlan Compile(GatewaySpec spec, uint generation) =>
        GatewayPlan.Compile(spec.Intent, generation, spec.Vnis.ToDictionary(v => v.Tenant, v => v.Vni), portBlockSize: _settings.Nat.PortBlockSize, portMtu: _settings.PortMtu);

    private void StartTenants()
    {
        foreach (var t in _spec.Intent.Tenants)
        {
            var name = "tenant-" + t.Tenant;
            var child = Context.Child(name);
            if (child.IsNobody()) Context.ActorOf(TenantActor.Props(t), name);
            else child.Tell(new TenantActor.Update(t));
        }
        foreach (var child in Context.GetChildren())
        {
            if (!_spec.Intent.Tenants.Any(t => "tenant-" + t.Tenant == child.Path.Name)) Context.Stop(child);
        }
    }

    private void Reconfigure(GatewaySpec spec)
    {
        var before = _dp.Plan;
        _spec = spec;
        _generation++;
        var plan = Compile(spec, _generation);
        _dp.Reconfigure(plan);
        _ports.Intent = spec.Intent;
        if (_resolver is not null) _resolver.Spec = spec;
        _ports.Reconfigured(before, plan);
        StartTenants();
        _resolver?.ConfigureAllBuckets(restore: false);
        ResolveNextHops();
        _log.Info("Gateway {0} reconfigured: generation {1}", spec.Intent.Name, _generation);
    }

    /// <summary>
    /// A batch run on the actor's thread instead of its receive thread: the router port's patch
    /// link (run inline, a gateway answer would re-enter the MFE on the MFE's own thread) and the
    /// ghost copy's ports. A ghost port receives on a shared I/O loop and must never block it, and
    /// a probe dropped for a busy data path would read as "no answer" in a verdict: probes are
    /// few, so they queue here instead.
    /// </summary>
    private sealed record MailboxBatch(PacketBatch Batch);

    private sealed record RestartPort(ushort Id);

    private sealed class CheckPorts
    {
        public static readonly CheckPorts Instance = new();
    }

    /// <summary>Runs the data path over <paramref name="batch"/> (then returned), sends its output and its misses. Holds the data path's lock.</summary>
    private void OnBatch(PacketBatch batch)
    {
        try
        {
            _dp.Process(batch, Environment.TickCount64, _ports);
        }
        finally
        {
            batch.Return();
        }
        _ports.Flush();
        _resolver?.Flush();
        // On a receive thread the actor's timers are out of reach: a connection due before the
        // armed sweep has the actor re-arm it (one nudge in flight at most).
        if (_dp.NextExpiry < Volatile.Read(ref _sweepAt) && Interlocked.Exchange(ref _sweepNudged, 1) == 0) _self.Tell(NudgeSweep.Instance);
    }

    private void Inject(InjectFrames inject)
    {
        var port = _dp.Plan.Ports.FirstOrDefault(p => p.Ref.Name == inject.Port);
        if (port is null)
        {
            Sender.Tell(new Status.Failure(new ArgumentException($"gateway {_spec.Intent.Name} has no port '{inject.Port}'")));
            return;
        }
        var batch = _pool.Rent();
        var n = 0;
        _ports.CountInjected(port.Id, inject.Frames.Length, inject.Frames.Sum(f => (long)f.Length));
        foreach (var f in inject.Frames)
        {
            if (!batch.TryAppend(f, port.Id))
            {
                OnBatch(batch);
                batch = _pool.Rent();
                batch.TryAppend(f, port.Id);
            }
            n++;
        }
        OnBatch(batch);
        Sender.Tell(new FramesInjected(n));
    }

    /// <summary>
    /// Asks ARP for every static next hop and DNAT target not resolved yet, so the first packets
    /// of a flow (a port-forward's SYN from outside included) need not wait for it.
    /// </summary>
    private void ResolveNextHops()
    {
        foreach (var t in _dp.Plan.Tenants)
        {
            foreach (var r in t.Routes.Entries)
            {
                if (!r.Connected && r.Port != 0 && !_dp.TryResolve(r.Port, r.NextHop, out _)) _dp.SendArpRequest(r.Port, r.NextHop, t, _ports);
            }
            foreach (var d in t.Dnat)
            {
                if (t.DownlinkPort != 0 && !_dp.TryResolve(t.DownlinkPort, d.InternalAddress, out _)) _dp.SendArpRequest(t.DownlinkPort, d.InternalAddress, t, _ports);
            }
        }
        _ports.Flush();
    }

    private void OnTick()
    {
        _resolver?.ExpireInflight(Environment.TickCount64);
        ResolveNextHops();
    }

    private sealed class Tick
    {
        public static readonly Tick Instance = new();
    }

    /// <summary>Expires connections (and, in process, NAT bindings) that are due; armed only while some are tracked.</summary>
    private sealed class Sweep
    {
        public static readonly Sweep Instance = new();
    }

    /// <summary>A receive thread filed a connection due before the armed sweep: re-arm it (on the actor's thread).</summary>
    private sealed class NudgeSweep
    {
        public static readonly NudgeSweep Instance = new();
    }
}

/// <summary>
/// tenant-T: one tenant of a gateway, supervising its stage actors dr, sr, nat and fw. Each holds
/// its stage's configuration (the part of the tenant's intent it decides with) as the
/// control-plane home of that stage; the miss path itself runs the same stage functions over the
/// compiled plan inside the flow-cache entity (see Fabric.Actors/Gateway/README.md).
/// </summary>
public sealed class TenantActor : ReceiveActor
{
    public sealed record Update(GatewayTenantIntent Tenant);

    /// <summary>Asks a stage actor for its configuration; replies <see cref="StageConfig"/>.</summary>
    public sealed record GetStageConfig
    {
        public static readonly GetStageConfig Instance = new();
    }

    public sealed record StageConfig(string Tenant, string Stage, string Summary);

    public TenantActor(GatewayTenantIntent tenant)
    {
        foreach (var (name, summary) in Stages(tenant)) Context.ActorOf(ActorProps.Of(() => new StageActor(tenant.Tenant, name, summary)), name);
        Receive<Update>(u =>
        {
            foreach (var (name, summary) in Stages(u.Tenant)) Context.Child(name).Tell(new StageActor.Set(summary));
        });
    }

    public static Props Props(GatewayTenantIntent tenant) => ActorProps.Of(() => new TenantActor(tenant));

    private static IEnumerable<(string, string)> Stages(GatewayTenantIntent t)
    {
        yield return ("dr", $"networks {string.Join(", ", t.Networks)}; downlink {t.Downlink?.Name ?? "-"}");
        yield return ("sr", $"routes {string.Join(", ", t.Routes.Select(r => $"{r.Prefix} via {r.NextHop}"))}; uplink {t.Uplink?.Port.Name ?? "-"} {t.Uplink?.Address}");
        yield return ("nat", $"snat pool {string.Join(", ", t.SnatPool)}; dnat {string.Join(", ", t.Dnat.Select(d => $"{d.Protocol}/{d.ExternalPort}->{d.InternalAddress}:{d.InternalPort}"))}");
        yield return ("fw", t.Firewall is null ? "no firewall" : $"default {t.Firewall.DefaultPolicy}; rules {string.Join(", ", t.Firewall.Rules.Select(r => $"{r.Name}:{r.Action}"))}");
    }

    private sealed class StageActor : ReceiveActor
    {
        public sealed record Set(string Summary);

        public StageActor(string tenant, string stage, string summary)
        {
            Receive<Set>(s => summary = s.Summary);
            Receive<GetStageConfig>(_ => Sender.Tell(new StageConfig(tenant, stage, summary)));
        }
    }
}
