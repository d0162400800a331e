using System.Collections.Immutable;
using Akka.Actor;
using Fabric.Actors.Scheduling;
using Akka.Event;
using Akka.Hosting;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Gateway.Pipeline;
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
/// (<see cref="DatapathGate"/>), and supervises one tenant-T child per tenant whose stage actors
/// (dr, sr, nat, fw) build and publish that tenant's stage tables. A reconfiguration is one round:
/// the new layout goes to every tenant, each stage actor answers with its table (rebuilt only when
/// its part changed), and the gateway installs the plan assembled from them with the next
/// generation; meanwhile its mailbox waits (stashed) and the ports' receive threads go on with
/// the old plan.
/// </summary>
public sealed class GatewayActor : ReceiveActor, IWithTimers, IWithStash
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
    /// <summary>The deadline the housekeeping timer is armed for: a miss's answer overdue, or a next hop's ARP retry (<see cref="long.MaxValue"/>: not armed).</summary>
    private long _housekeepAt = long.MaxValue;
    /// <summary>1 while a <see cref="NudgeSweep"/> is on its way.</summary>
    private int _sweepNudged;
    private readonly NeighborRetry _arp;
    private readonly IActorRef _self;

    /// <summary>The reconfiguration being assembled (null: none).</summary>
    private Round? _building;
    private int _round;

    public ITimerScheduler Timers { get; set; } = null!;
    public IStash Stash { get; set; } = null!;

    /// <summary>One reconfiguration: the spec, its layout, and the tables the stage actors published for it so far.</summary>
    private sealed class Round(int number, GatewaySpec spec, (ImmutableArray<GatewayPort> Ports, ImmutableArray<TenantLayout> Tenants) layout)
    {
        public int Number { get; } = number;
        public GatewaySpec Spec { get; } = spec;
        public (ImmutableArray<GatewayPort> Ports, ImmutableArray<TenantLayout> Tenants) Layout { get; } = layout;
        public Dictionary<(string Tenant, GatewayStage Stage), StageTable> Tables { get; } = [];
        public int Rebuilt { get; set; }
        public bool Complete => Tables.Count == Layout.Tenants.Length * TenantActor.Stages.Length;
    }

    private sealed record RoundTimedOut(int Round);

    public GatewayActor(GatewaySpec spec, string node, GhostPlaneContext? ghost = null, PatchPanel? patches = null, AttachmentDevices? devices = null)
    {
        _spec = spec;
        _node = node;
        _ghost = ghost;
        _settings = FabricSettings.Get(Context.System).Gateway;
        _arp = new NeighborRetry((long)_settings.NeighborRetryMin.TotalMilliseconds, (long)_settings.NeighborRetryMax.TotalMilliseconds);
        _dp = new GatewayDatapath(Compile(spec, _generation), settings: _settings);
        _gate = new DatapathGate(_settings.IngressWait);
        // Super-frames cross whole only on a live gateway's TAPs (a ghost copy's ports carry none).
        _pool = new PacketBatchPool(maxRetained: _settings.PoolRetainedBatches, superFrameRoom: _settings.SuperFrames && ghost is null ? TapPort.SuperFrameRoom : 0);
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
        Running();
    }

    /// <summary>The actor's normal behaviour.</summary>
    private void Running()
    {
        // Everything that touches the data path holds its lock: the ports' receive threads and
        // these handlers on the actor's thread.
        Guarded<Messages.Gateway.FlowsResolved>(r => _resolver?.OnResolved(r, Sender));
        Guarded<Messages.Gateway.FlowCacheNeedsConfig>(n => _resolver?.ConfigureBucket(n.Bucket, restore: n.Fresh));
        Guarded<Messages.Gateway.UpdatePortBlocks>(u => _resolver?.OnUpdatePortBlocks(u));
        Guarded<Messages.Gateway.CheckConnections>(c => _resolver?.OnCheckConnections(c, Sender));
        Guarded<Sweep>(_ =>
        {
            _sweepAt = long.MaxValue; // fired
            _dp.Sweep(Environment.TickCount64);
        });
        Guarded<NudgeSweep>(_ => Volatile.Write(ref _sweepNudged, 0));
        Guarded<MailboxBatch>(m => _runBatch(m.Batch));
        Guarded<Terminated>(t => _resolver?.OnTerminated(t));
        Guarded<Tick>(_ =>
        {
            _housekeepAt = long.MaxValue; // fired
            OnTick();
        });
        Guarded<CheckPorts>(_ => _ports.Check());
        Guarded<RestartPort>(r => _ports.Restart(r.Id));
        Guarded<ElementSpecChanged>(c => BeginReconfigure((GatewaySpec)c.Spec.Spec));
        Guarded<InjectFrames>(Inject);
        Guarded<TakeSentFrames>(t => Sender.Tell(new SentFrames([.. _ports.TakeSent(t.Port)])));
        Guarded<ArmTrace>(a =>
        {
            _dp.TraceNext(a.Packets);
            Sender.Tell(Traces(a.Packets));
        });
        Guarded<GetGatewayTraces>(_ => Sender.Tell(Traces(0)));
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
            ArmHousekeeping();
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
    private void ArmSweep() => Timers.ArmAt(Sweep.Instance, _dp.SettleExpiryFloor(), ref _sweepAt);

    /// <summary>
    /// Arms the housekeeping timer for the first thing due (a miss whose answer is overdue, an
    /// unanswered next hop's next ARP request): an idle gateway whose next hops answered never
    /// wakes for it. Not re-armed or cancelled as misses come and go (one answered SYN after
    /// another would each cost a timer registration): an armed timer fires, and the tick arms for
    /// what is due then. Actor thread, holding the data path's lock.
    /// </summary>
    private void ArmHousekeeping() => Timers.ArmNoLaterThan(Tick.Instance, Math.Min(_arp.NextDue, _resolver?.NextInflightExpiry ?? long.MaxValue), ref _housekeepAt);

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
        using (_gate.Hold())
        {
            ArmSweep();
            ArmHousekeeping();
            WatchPorts();
        }
    }

    protected override void PostStop()
    {
        using (_gate.Hold()) _ports.CloseAll();
    }

    private GatewayPlan Compile(GatewaySpec spec, uint generation) =>
        GatewayPlan.Compile(spec.Intent, generation, spec.Vnis.ToDictionary(v => v.Tenant, v => v.Vni), portBlockSize: _settings.Nat.PortBlockSize, portMtu: _settings.PortMtu);

    private (ImmutableArray<GatewayPort> Ports, ImmutableArray<TenantLayout> Tenants) Layout(GatewaySpec spec) =>
        GatewayPlan.Layout(spec.Intent, spec.Vnis.ToDictionary(v => v.Tenant, v => v.Vni), _settings.Nat.PortBlockSize, _settings.PortMtu);

    private static string TenantChild(string tenant) => "tenant-" + tenant;

    /// <summary>At start: one tenant actor per tenant, its stage actors holding the tables of the first plan.</summary>
    private void StartTenants()
    {
        foreach (var t in _dp.Plan.Tenants) Context.ActorOf(TenantActor.Props(t.Name, t.Tables), TenantChild(t.Name));
    }

    /// <summary>
    /// A new spec: every tenant's stage actors build their tables for its layout (new tenants get
    /// new actors, removed ones stop); the plan is installed when all have published
    /// (<see cref="Assembling"/>).
    /// </summary>
    private void BeginReconfigure(GatewaySpec spec)
    {
        var round = new Round(++_round, spec, Layout(spec));
        _building = round;
        foreach (var l in round.Layout.Tenants)
        {
            var child = Context.Child(TenantChild(l.Intent.Tenant));
            if (child.IsNobody()) child = Context.ActorOf(TenantActor.Props(l.Intent.Tenant, null), TenantChild(l.Intent.Tenant));
            child.Tell(new BuildStages(round.Number, l));
        }
        foreach (var child in Context.GetChildren())
        {
            if (!round.Layout.Tenants.Any(l => TenantChild(l.Intent.Tenant) == child.Path.Name)) Context.Stop(child);
        }
        if (round.Complete)
        {
            Install(round); // no tenants: nothing to wait for
            return;
        }
        Timers.StartSingleTimer(typeof(RoundTimedOut), new RoundTimedOut(round.Number), _settings.StageBuildTimeout);
        Become(Assembling);
    }

    /// <summary>Waiting for the stage actors' tables; everything else waits in the stash (the ports' receive threads go on with the old plan).</summary>
    private void Assembling()
    {
        Receive<StageBuilt>(b =>
        {
            if (_building is not { } round || b.Round != round.Number) return; // a superseded round
            round.Tables[(b.Tenant, b.Stage)] = b.Table;
            if (b.Rebuilt) round.Rebuilt++;
            if (round.Complete) Installed(round);
        });
        Receive<RoundTimedOut>(t =>
        {
            if (_building is not { } round || t.Round != round.Number) return;
            var missing = round.Layout.Tenants.SelectMany(l => TenantActor.Stages.Where(s => !round.Tables.ContainsKey((l.Intent.Tenant, s.Stage))).Select(s => $"{l.Intent.Tenant}/{s.Name}")).ToList();
            _log.Warning("Gateway {0}: stage actors {1} did not publish within {2}; building their tables here", round.Spec.Intent.Name, string.Join(", ", missing), _settings.StageBuildTimeout);
            foreach (var l in round.Layout.Tenants)
            {
                var previous = _dp.Plan.Tenants.FirstOrDefault(t => t.Name == l.Intent.Tenant)?.Tables;
                foreach (var (_, stage) in TenantActor.Stages)
                {
                    if (!round.Tables.ContainsKey((l.Intent.Tenant, stage))) round.Tables[(l.Intent.Tenant, stage)] = TenantStageTables.Build(stage, l, previous?[stage]);
                }
            }
            Installed(round);
        });
        ReceiveAny(_ => Stash.Stash());
    }

    private void Installed(Round round)
    {
        using (_gate.Hold())
        {
            Install(round);
            ArmSweep();
            ArmHousekeeping();
            WatchPorts();
        }
        Timers.Cancel(typeof(RoundTimedOut));
        Become(Running);
        Stash.UnstashAll();
    }

    /// <summary>Installs the plan assembled from <paramref name="round"/>'s tables with the next generation. Holds the data path's lock.</summary>
    private void Install(Round round)
    {
        var before = _dp.Plan;
        var spec = round.Spec;
        _building = null;
        _spec = spec;
        _generation++;
        var plan = GatewayPlan.Assemble(spec.Intent, _generation, round.Layout, l => new TenantStageTables(
            (DistributedRouterTable)round.Tables[(l.Intent.Tenant, GatewayStage.DistributedRouter)],
            (ServiceRouterTable)round.Tables[(l.Intent.Tenant, GatewayStage.ServiceRouter)],
            (NatStageTable)round.Tables[(l.Intent.Tenant, GatewayStage.Nat)],
            (FirewallTable)round.Tables[(l.Intent.Tenant, GatewayStage.Firewall)]));
        _dp.Reconfigure(plan);
        _ports.Intent = spec.Intent;
        if (_resolver is not null) _resolver.Spec = spec;
        _ports.Reconfigured(before, plan);
        _resolver?.ConfigureAllBuckets(restore: false);
        ResolveNextHops();
        _log.Info("Gateway {0} reconfigured: generation {1}, {2} stage tables rebuilt", spec.Intent.Name, _generation, round.Rebuilt);
    }

    /// <summary>The per-packet traces, and each stage's newest trace records.</summary>
    private GatewayTraces Traces(int armed) => new(_spec.Intent.Name, armed, _dp.Traces(),
        [.. _dp.Plan.Tenants.SelectMany(t => t.Tables.All).Where(x => x.Traces.Recent().Count > 0)
            .Select(x => new StageTraces(x.Tenant, GatewayCounters.Name(x.Stage), x.Generation, x.Traces.Recent()))]);

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
        // armed sweep, or a miss sent while no housekeeping is armed, has the actor re-arm them
        // (one nudge in flight at most).
        if ((_dp.ExpiryFloor < Volatile.Read(ref _sweepAt) || (_resolver?.NextInflightExpiry ?? long.MaxValue) < Volatile.Read(ref _housekeepAt))
            && Interlocked.Exchange(ref _sweepNudged, 1) == 0)
        {
            _self.Tell(NudgeSweep.Instance);
        }
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
    /// of a flow (a port-forward's SYN from outside included) need not wait for it; one that does
    /// not answer is asked again with backoff (<see cref="NeighborRetry"/>).
    /// </summary>
    private void ResolveNextHops()
    {
        var now = Environment.TickCount64;
        foreach (var t in _dp.Plan.Tenants)
        {
            foreach (var r in t.Routes.Entries)
            {
                if (!r.Connected && r.Port != 0 && !_dp.TryResolve(r.Port, r.NextHop, out _) && _arp.Ask(r.Port, r.NextHop, now)) _dp.SendArpRequest(r.Port, r.NextHop, t, _ports);
            }
            foreach (var d in t.Dnat)
            {
                if (t.DownlinkPort != 0 && !_dp.TryResolve(t.DownlinkPort, d.InternalAddress, out _) && _arp.Ask(t.DownlinkPort, d.InternalAddress, now)) _dp.SendArpRequest(t.DownlinkPort, d.InternalAddress, t, _ports);
            }
        }
        _arp.EndRound();
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

    /// <summary>A receive thread filed a connection due before the armed sweep, or sent a miss while no housekeeping was armed: re-arm them (on the actor's thread).</summary>
    private sealed class NudgeSweep
    {
        public static readonly NudgeSweep Instance = new();
    }
}
