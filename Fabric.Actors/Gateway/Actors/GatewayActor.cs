using System.Collections.Immutable;
using Akka.Actor;
using Akka.Event;
using Akka.Hosting;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Guardian;
using Fabric.Messages.Intent;

namespace Fabric.Actors.Gateway.Actors;

/// <summary>
/// /user/fabric/gw-NAME: a gateway element. Owns its ports (TAP or simulated, one per tenant
/// downlink and uplink), whose receive threads run the <see cref="GatewayDatapath"/> over each
/// batch to completion (hits apply cached entries and leave by their output port on the same
/// thread; nothing goes through a mailbox per batch) and send the batch's misses per bucket to
/// the flow-cache shard region (see GatewayActor.Misses.cs); the actor's own thread takes the
/// entities' answers, reconfigurations, sweeps and status, under the same lock; and it
/// supervises one tenant-T child per tenant holding that tenant's stage configuration.
/// </summary>
public sealed partial class GatewayActor : ReceiveActor, IWithTimers, IFrameSink
{
    /// <summary>Flow-cache buckets (sharding entities) per gateway.</summary>
    public const int Buckets = 16;
    /// <summary>Most frames captured per simulated port for <see cref="TakeSentFrames"/>.</summary>
    private const int MaxCapturedFrames = 10_000;

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly PacketBatchPool _pool = new(maxRetained: 64, batchCapacity: 256);
    private readonly Dictionary<ushort, IPort> _ports = [];
    private readonly Dictionary<ushort, PacketBatch> _out = [];
    private readonly Dictionary<string, Queue<byte[]>> _captured = [];
    /// <summary>Held by whoever runs the data path: a port's receive thread for its batch, or this actor for control work.</summary>
    private readonly DatapathGate _gate;
    private readonly Action<PacketBatch> _runBatch;
    /// <summary>Self, for the receive threads (which cannot ask the actor context).</summary>
    private IActorRef _self = ActorRefs.Nobody;
    private readonly string _node;
    /// <summary>Set for a ghost copy (ghost routing): ghost ports, local stages, every probe traced.</summary>
    private readonly GhostPlaneContext? _ghost;
    /// <summary>Where this gateway's router ports on logical switches meet the MFE (the ghost plane's for a ghost copy).</summary>
    private readonly PatchPanel? _patches;
    private readonly GatewaySettings _settings;
    /// <summary>Tells this actor's ledger from a previous one's (entities drop leases of another incarnation).</summary>
    private readonly long _incarnation = Random.Shared.NextInt64(1, long.MaxValue);
    private GatewaySpec _spec;
    private uint _generation = 1;
    private GatewayDatapath _dp;

    public ITimerScheduler Timers { get; set; } = null!;

    public GatewayActor(GatewaySpec spec, string node, GhostPlaneContext? ghost = null, PatchPanel? patches = null)
    {
        _spec = spec;
        _node = node;
        _ghost = ghost;
        _patches = ghost?.Patches ?? patches;
        _settings = GatewaySettings.For(Context.System);
        _dp = new GatewayDatapath(Compile(spec, _generation), Buckets, settings: _settings);
        // A ghost copy carries only probes, and a probe dropped for a busy data path would read as
        // "no answer" in a verdict: its ports wait for the data path instead of dropping.
        _gate = new DatapathGate(ghost is null ? _settings.IngressWait : Timeout.InfiniteTimeSpan);
        _runBatch = OnBatch;
        _entities = new IActorRef?[Buckets];
        _pending = new List<Parked>[Buckets];
        for (var i = 0; i < Buckets; i++) _pending[i] = [];

        // Everything that touches the data path holds its lock: the ports' receive threads (which
        // run it to completion, GatewayActor.Ports.cs) and these handlers on the actor's thread.
        Guarded<Messages.Gateway.FlowsResolved>(OnResolved);
        Guarded<Messages.Gateway.FlowCacheNeedsConfig>(n => ConfigureBucket(n.Bucket, restore: n.Fresh));
        Guarded<Messages.Gateway.UpdatePortBlocks>(OnUpdatePortBlocks);
        Guarded<Messages.Gateway.CheckConnections>(OnCheckConnections);
        Guarded<Sweep>(_ => _dp.Sweep(Environment.TickCount64));
        // A logical switch's frames arrive on the MFE's thread, which the gateway's answer goes
        // back through: they take the mailbox so the two never run inside each other.
        Guarded<PatchBatch>(m => _runBatch(m.Batch));
        Guarded<Terminated>(OnTerminated);
        Guarded<Tick>(_ => OnTick());
        Guarded<CheckPorts>(_ => OnCheckPorts());
        Guarded<RestartPort>(OnRestartPort);
        Guarded<ElementSpecChanged>(c => Reconfigure((GatewaySpec)c.Spec.Spec));
        Guarded<InjectFrames>(Inject);
        Guarded<TakeSentFrames>(t =>
        {
            var q = _captured.GetValueOrDefault(t.Port);
            Sender.Tell(new SentFrames(q is null ? [] : [.. q]));
            q?.Clear();
        });
        Guarded<ArmTrace>(a =>
        {
            _dp.TraceNext(a.Packets);
            Sender.Tell(new GatewayTraces(spec.Intent.Name, a.Packets, _dp.Traces()));
        });
        Guarded<GetGatewayTraces>(_ => Sender.Tell(new GatewayTraces(_spec.Intent.Name, 0, _dp.Traces())));
        Guarded<GetGatewayStatus>(_ => Sender.Tell(BuildStatus()));
        Guarded<SetCacheDisabled>(d =>
        {
            _dp.CacheDisabled = d.Disabled;
            Sender.Tell(d);
        });
    }

    /// <summary>Handles <typeparamref name="T"/> on the actor's thread while holding the data path's lock.</summary>
    private void Guarded<T>(Action<T> handler) => Receive<T>(m =>
    {
        using (_gate.Hold()) handler(m);
    });

    public static Props Props(GatewaySpec spec, string node, GhostPlaneContext? ghost = null, PatchPanel? patches = null) =>
        Akka.Actor.Props.Create(() => new GatewayActor(spec, node, ghost, patches));

    protected override void PreStart()
    {
        _self = Self;
        if (_ghost is not null)
        {
            _dp.Tracer = _ghost.Tracer;
        }
        else if (ActorRegistry.For(Context.System).TryGet<FlowCacheRegion>(out var region))
        {
            _region = region;
            _dp.Resolver = this;
        }
        else
        {
            _log.Warning("No flow-cache shard region on this node: gateway {0} runs its stages in process", _spec.Intent.Name);
        }
        using (_gate.Hold())
        {
            StartTenants();
            OpenPorts();
            ConfigureAllBuckets(restore: true);
            ResolveNextHops();
        }
        Timers.StartPeriodicTimer(Tick.Instance, Tick.Instance, TimeSpan.FromMilliseconds(500));
        Timers.StartPeriodicTimer(Sweep.Instance, Sweep.Instance, _settings.SweepInterval);
        Timers.StartPeriodicTimer(CheckPorts.Instance, CheckPorts.Instance, PortCheckInterval);
    }

    protected override void PostStop()
    {
        using (_gate.Hold()) ClosePorts();
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
        var before = _dp.Plan.Ports.Select(p => (p.Id, p.Ref)).ToList();
        var mtus = _dp.Plan.Ports.ToDictionary(p => p.Id, p => p.Mtu);
        _spec = spec;
        _generation++;
        var plan = Compile(spec, _generation);
        _dp.Reconfigure(plan);
        if (before.SequenceEqual(plan.Ports.Select(p => (p.Id, p.Ref))))
        {
            // The same ports: a TAP whose MTU changed is told so (the data path already holds the new one).
            foreach (var p in plan.Ports.Where(p => mtus.GetValueOrDefault(p.Id) != p.Mtu)) ApplyMtu(p);
        }
        else
        {
            // Ports start afresh: pending restarts and their history belong to the old ports.
            foreach (var id in _supervision.Keys) Timers.Cancel(new RestartPort(id));
            _supervision.Clear();
            ClosePorts();
            OpenPorts();
        }
        StartTenants();
        ConfigureAllBuckets(restore: false);
        ResolveNextHops();
        _log.Info("Gateway {0} reconfigured: generation {1}", spec.Intent.Name, _generation);
    }

    private void OpenPorts()
    {
        foreach (var p in _dp.Plan.Ports) TryOpenPort(p);
    }

    /// <summary>Closes every port (joining its receive thread, see <see cref="DatapathGate.ClosingPorts"/>). Holds the data path's lock.</summary>
    private void ClosePorts()
    {
        _gate.ClosingPorts(() =>
        {
            foreach (var p in _ports.Values) p.Dispose();
        });
        _ports.Clear();
        _captured.Clear();
        foreach (var b in _out.Values) b.Return();
        _out.Clear();
    }

    /// <summary>
    /// A port's receive thread, with its batch: runs the data path to completion here (hits are
    /// sent out of their ports, misses leave for their flow-cache entities) unless the data path
    /// stays busy longer than fabric.gateway.ingress-wait, then drops the batch at ingress
    /// (counted). One batch per port is ever in flight; nothing is queued behind a mailbox.
    /// </summary>
    private void OnPortBatch(PacketBatch batch) => _gate.TryRun(batch, _runBatch);

    /// <summary>A batch from the router port's patch link (see the constructor).</summary>
    private sealed record PatchBatch(PacketBatch Batch);

    /// <summary>Runs the data path over <paramref name="batch"/> (then returned), sends its output and its misses. Holds the data path's lock.</summary>
    private void OnBatch(PacketBatch batch)
    {
        try
        {
            _dp.Process(batch, Environment.TickCount64, this);
        }
        finally
        {
            batch.Return();
        }
        FlushOut();
        FlushMisses();
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
        if (_ports.TryGetValue(port.Id, out var device)) device.Counters.AddRx(inject.Frames.Length, inject.Frames.Sum(f => (long)f.Length));
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
                if (!r.Connected && r.Port != 0 && !_dp.TryResolve(r.Port, r.NextHop, out _)) _dp.SendArpRequest(r.Port, r.NextHop, t, this);
            }
            foreach (var d in t.Dnat)
            {
                if (t.DownlinkPort != 0 && !_dp.TryResolve(t.DownlinkPort, d.InternalAddress, out _)) _dp.SendArpRequest(t.DownlinkPort, d.InternalAddress, t, this);
            }
        }
        FlushOut();
    }

    private void OnTick()
    {
        ExpireInflight(Environment.TickCount64);
        ResolveNextHops();
    }

    private sealed class Tick
    {
        public static readonly Tick Instance = new();
    }

    /// <summary>Expires connections (and, in process, NAT bindings) every sweep interval.</summary>
    private sealed class Sweep
    {
        public static readonly Sweep Instance = new();
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
        foreach (var (name, summary) in Stages(tenant)) Context.ActorOf(Akka.Actor.Props.Create(() => new StageActor(tenant.Tenant, name, summary)), name);
        Receive<Update>(u =>
        {
            foreach (var (name, summary) in Stages(u.Tenant)) Context.Child(name).Tell(new StageActor.Set(summary));
        });
    }

    public static Props Props(GatewayTenantIntent tenant) => Akka.Actor.Props.Create(() => new TenantActor(tenant));

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
