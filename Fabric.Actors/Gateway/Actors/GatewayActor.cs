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
/// downlink and uplink), whose receive threads hand it <see cref="PortBatch"/>es; runs the
/// <see cref="GatewayDatapath"/> over each batch on its own thread (hits apply cached entries,
/// nothing per frame goes through a mailbox); sends the batch's misses per bucket to the
/// flow-cache shard region (see GatewayActor.Misses.cs); and supervises one tenant-T child per
/// tenant holding that tenant's stage configuration.
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
        _entities = new IActorRef?[Buckets];
        _pending = new List<Parked>[Buckets];
        for (var i = 0; i < Buckets; i++) _pending[i] = [];

        Receive<PortBatch>(b => OnBatch(b.Batch));
        Receive<Messages.Gateway.FlowsResolved>(OnResolved);
        Receive<Messages.Gateway.FlowCacheNeedsConfig>(n => ConfigureBucket(n.Bucket, restore: n.Fresh));
        Receive<Messages.Gateway.UpdatePortBlocks>(OnUpdatePortBlocks);
        Receive<Messages.Gateway.CheckConnections>(OnCheckConnections);
        Receive<Sweep>(_ => _dp.Sweep(Environment.TickCount64));
        Receive<Terminated>(OnTerminated);
        Receive<Tick>(_ => OnTick());
        Receive<CheckPorts>(_ => OnCheckPorts());
        Receive<RestartPort>(OnRestartPort);
        Receive<ElementSpecChanged>(c => Reconfigure((GatewaySpec)c.Spec.Spec));
        Receive<InjectFrames>(Inject);
        Receive<TakeSentFrames>(t =>
        {
            var q = _captured.GetValueOrDefault(t.Port);
            Sender.Tell(new SentFrames(q is null ? [] : [.. q]));
            q?.Clear();
        });
        Receive<ArmTrace>(a =>
        {
            _dp.TraceNext(a.Packets);
            Sender.Tell(new GatewayTraces(spec.Intent.Name, a.Packets, _dp.Traces()));
        });
        Receive<GetGatewayTraces>(_ => Sender.Tell(new GatewayTraces(_spec.Intent.Name, 0, _dp.Traces())));
        Receive<GetGatewayStatus>(_ => Sender.Tell(BuildStatus()));
        Receive<SetCacheDisabled>(d =>
        {
            _dp.CacheDisabled = d.Disabled;
            Sender.Tell(d);
        });
    }

    public static Props Props(GatewaySpec spec, string node, GhostPlaneContext? ghost = null, PatchPanel? patches = null) =>
        Akka.Actor.Props.Create(() => new GatewayActor(spec, node, ghost, patches));

    protected override void PreStart()
    {
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
        StartTenants();
        OpenPorts();
        ConfigureAllBuckets(restore: true);
        Timers.StartPeriodicTimer(Tick.Instance, Tick.Instance, TimeSpan.FromMilliseconds(500));
        Timers.StartPeriodicTimer(Sweep.Instance, Sweep.Instance, _settings.SweepInterval);
        Timers.StartPeriodicTimer(CheckPorts.Instance, CheckPorts.Instance, PortCheckInterval);
        ResolveNextHops();
    }

    protected override void PostStop() => ClosePorts();

    private GatewayPlan Compile(GatewaySpec spec, uint generation) =>
        GatewayPlan.Compile(spec.Intent, generation, spec.Vnis.ToDictionary(v => v.Tenant, v => v.Vni), portBlockSize: _settings.Nat.PortBlockSize);

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
        _spec = spec;
        _generation++;
        var plan = Compile(spec, _generation);
        _dp.Reconfigure(plan);
        if (!before.SequenceEqual(plan.Ports.Select(p => (p.Id, p.Ref))))
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

    private void ClosePorts()
    {
        foreach (var p in _ports.Values) p.Dispose();
        _ports.Clear();
        _captured.Clear();
        foreach (var b in _out.Values) b.Return();
        _out.Clear();
    }

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

    private GatewayStatus BuildStatus()
    {
        var plan = _dp.Plan;
        var c = _dp.Counters;
        var self = Akka.Cluster.Cluster.Get(Context.System).SelfAddress;
        var shards = _dp.Shards.Select(s => CacheStats.Of(s.Stats, _entities[s.Index] is { } e ? (e.Path.Address.HasLocalScope ? self : e.Path.Address).ToString() : null)).ToList();
        return new GatewayStatus(
            plan.Name, _node, plan.Generation, _region is null ? "local" : "sharded",
            [.. plan.Tenants.Select(t => t.Name)],
            [.. plan.Ports.Select(PortStatus)],
            new Dictionary<string, long>
            {
                ["frames"] = c.Frames, ["forwarded"] = c.Forwarded, ["hits"] = c.Hits, ["misses"] = c.Misses,
                ["exact-hits"] = c.ExactHits, ["megaflow-hits"] = c.MegaflowHits, ["megaflow-masks"] = _dp.MasksInUse,
                ["slow-path"] = c.SlowPath, ["resolved-by-entity"] = _dp.RemoteResolved, ["dropped"] = c.DroppedTotal,
                ["arp-replies"] = c.ArpReplies, ["arp-requests"] = c.ArpRequests, ["echo-replies"] = c.EchoReplies,
                ["icmp-errors"] = c.IcmpErrors, ["tcp-resets"] = c.TcpResets,
            },
            c.StageRunsByName(),
            c.DropsByName(),
            CacheStats.Sum(shards),
            shards,
            _pending.Sum(p => p.Count) + _inflight.Values.Sum(i => i.Frames.Count),
            _shardMoves,
            _dp.NeighborCount,
            [.. plan.Tenants.Where(t => t.Snat is not null).Select(t => new NatPoolStatus(
                t.Name, t.Snat!.BlockSize, t.Snat.BlockCount, _dp.Ledger.LeasedCount(t.Vni), _dp.Ledger.FreeCount(t.Vni)))]);
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
