using System.Collections.Concurrent;
using System.Collections.Immutable;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Gateway.Pipeline;
using Fabric.Messages.Intent;

namespace Fabric.Actors.Gateway;

/// <summary>
/// Where a tenant sits in its gateway, and its intent: everything its four stage tables are built
/// from. <paramref name="DownlinkPort"/>/<paramref name="UplinkPort"/> are the port ids the
/// gateway numbered (0 = none); <paramref name="PortBlockSize"/> cuts its SNAT pool.
/// </summary>
public sealed record TenantLayout(GatewayTenantIntent Intent, int Index, uint Vni, ushort DownlinkPort, ushort UplinkPort, int PortBlockSize)
{
    public Ipv4Address UplinkAddress => Intent.Uplink is { } u ? GatewayPlan.Address(u.Address.Address) : default;
    public int UplinkPrefix => Intent.Uplink?.Address.PrefixLength ?? 0;
}

/// <summary>A tenant's four compiled stage tables, as one plan holds them.</summary>
public sealed record TenantStageTables(DistributedRouterTable Dr, ServiceRouterTable Sr, NatStageTable Nat, FirewallTable Fw)
{
    /// <summary>Builds all four (each kept from <paramref name="previous"/> when what it decides with did not change).</summary>
    public static TenantStageTables Build(TenantLayout layout, TenantStageTables? previous = null) => new(
        DistributedRouterTable.Build(layout, previous?.Dr),
        ServiceRouterTable.Build(layout, previous?.Sr),
        NatStageTable.Build(layout, previous?.Nat),
        FirewallTable.Build(layout, previous?.Fw));

    public StageTable this[GatewayStage stage] => stage switch
    {
        GatewayStage.DistributedRouter => Dr,
        GatewayStage.ServiceRouter => Sr,
        GatewayStage.Nat => Nat,
        _ => Fw,
    };

    public IEnumerable<StageTable> All => [Dr, Fw, Sr, Nat];

    /// <summary>A stage's table built from <paramref name="layout"/> (the stage actor's rebuild), kept when unchanged.</summary>
    public static StageTable Build(GatewayStage stage, TenantLayout layout, StageTable? previous) => stage switch
    {
        GatewayStage.DistributedRouter => DistributedRouterTable.Build(layout, previous as DistributedRouterTable),
        GatewayStage.ServiceRouter => ServiceRouterTable.Build(layout, previous as ServiceRouterTable),
        GatewayStage.Nat => NatStageTable.Build(layout, previous as NatStageTable),
        _ => FirewallTable.Build(layout, previous as FirewallTable),
    };
}

/// <summary>
/// One (tenant, stage)'s compiled table: immutable in what it decides with, published as a whole
/// (a plan holds it; a rebuild makes a new object with <see cref="Generation"/> + 1), with the
/// stage's counters and recent trace records beside it. Items are what the stage decides by
/// (networks, routes, NAT rules, firewall rules): a stage record names the item that decided
/// (<see cref="StageRecord.Item"/>), counted per item. A rebuild carries the counts of items
/// that stayed the same (same text) and the trace log.
/// </summary>
public abstract class StageTable
{
    /// <summary>Item lists longer than this are shown only where used.</summary>
    private const int ListedItems = 64;

    protected StageTable(GatewayStage stage, string tenant, string[] items, StageTable? previous)
    {
        Stage = stage;
        Tenant = tenant;
        Items = items;
        Generation = (previous?.Generation ?? 0) + 1;
        Counters = new StageCounters(items.Length);
        Traces = previous?.Traces ?? new StageTraceLog();
        if (previous is not null) Counters.CarryOver(previous.Items, previous.Counters, items);
    }

    public GatewayStage Stage { get; }
    public string Tenant { get; }
    /// <summary>How many times this (tenant, stage)'s table was built with a change (1 = as first built).</summary>
    public int Generation { get; }
    /// <summary>What the stage decides by, in its own order, one text each.</summary>
    public IReadOnlyList<string> Items { get; }
    public StageCounters Counters { get; }
    public StageTraceLog Traces { get; }

    /// <summary>What it holds, in one line.</summary>
    public abstract string Summary { get; }

    /// <summary>True when <paramref name="other"/> decides exactly as this one does (then the old one is kept).</summary>
    protected abstract bool SameAs(StageTable other);

    /// <summary><paramref name="built"/>, or <paramref name="previous"/> when it decides alike (its counters and generation go on).</summary>
    protected static T Keep<T>(T built, T? previous) where T : StageTable => previous is not null && built.SameAs(previous) ? previous : built;

    /// <summary>Its state for <c>GET /gateways/{name}</c> and the stage actor: what it holds and its counters.</summary>
    public StageTableStatus Status()
    {
        var listAll = Items.Count <= ListedItems || Stage == GatewayStage.Firewall;
        var items = new List<StageItemStatus>();
        for (var i = 0; i < Items.Count; i++)
        {
            var flows = Counters.Flows(i);
            if (listAll || flows > 0) items.Add(new StageItemStatus(i, Items[i], flows, Counters.Packets(i)));
        }
        return new StageTableStatus(Tenant, GatewayCounters.Name(Stage), Generation, Summary, Items.Count,
            Enum.GetValues<StageVerdict>().ToDictionary(v => GatewayCounters.Name(v), Counters.Verdicts), items);
    }
}

/// <summary>One item of a stage table: its index and text, the flows it decided on the slow path and the packets it carried (cached hits included where the entry names it).</summary>
public sealed record StageItemStatus(int Index, string Item, long Flows, long Packets);

/// <summary>A (tenant, stage)'s table as shown: generation, summary, item count, per-verdict counts and the items (all, or the used ones of a long list).</summary>
public sealed record StageTableStatus(string Tenant, string Stage, int Generation, string Summary, int ItemCount, IReadOnlyDictionary<string, long> Verdicts,
    IReadOnlyList<StageItemStatus> Items);

/// <summary>
/// A stage's counters. Written only by whoever holds the data path's lock (one writer at a time:
/// a port's receive thread or the gateway actor), so plain increments; read from any thread
/// (the stage actor, status) with volatile reads.
/// </summary>
public sealed class StageCounters
{
    private static readonly int VerdictCount = Enum.GetValues<StageVerdict>().Length;
    private readonly long[] _verdicts = new long[VerdictCount];
    private readonly long[] _flows;
    private readonly long[] _packets;

    public StageCounters(int items)
    {
        _flows = new long[items];
        _packets = new long[items];
    }

    /// <summary>The stage decided one packet on the slow path, by <paramref name="item"/> (-1: no item).</summary>
    public void Decided(StageVerdict verdict, int item)
    {
        _verdicts[(int)verdict]++;
        if ((uint)item < (uint)_flows.Length)
        {
            _flows[item]++;
            _packets[item]++;
        }
    }

    /// <summary>A cached hit on an entry this stage's <paramref name="item"/> decided.</summary>
    public void Hit(int item, long packets = 1)
    {
        if ((uint)item < (uint)_packets.Length) _packets[item] += packets;
    }

    public long Verdicts(StageVerdict verdict) => Volatile.Read(ref _verdicts[(int)verdict]);

    public long Flows(int item) => (uint)item < (uint)_flows.Length ? Volatile.Read(ref _flows[item]) : 0;

    public long Packets(int item) => (uint)item < (uint)_packets.Length ? Volatile.Read(ref _packets[item]) : 0;

    /// <summary>Takes over the counts of the items that stayed the same, and the verdict counts.</summary>
    internal void CarryOver(IReadOnlyList<string> oldItems, StageCounters old, string[] items)
    {
        for (var v = 0; v < _verdicts.Length; v++) _verdicts[v] = Volatile.Read(ref old._verdicts[v]);
        var byText = new Dictionary<string, int>();
        for (var i = 0; i < oldItems.Count; i++) byText.TryAdd(oldItems[i], i);
        for (var i = 0; i < items.Length; i++)
        {
            if (!byText.TryGetValue(items[i], out var j)) continue;
            _flows[i] = old.Flows(j);
            _packets[i] = old.Packets(j);
        }
    }
}

/// <summary>A stage's newest trace records (the per-packet trace, as this stage saw each traced packet). Traced packets are few: this allocates.</summary>
public sealed class StageTraceLog
{
    public const int Capacity = 64;
    private readonly ConcurrentQueue<string> _records = new();

    public void Add(string record)
    {
        _records.Enqueue(record);
        while (_records.Count > Capacity) _records.TryDequeue(out _);
    }

    public IReadOnlyList<string> Recent() => [.. _records];
}

/// <summary>The distributed router's table: the tenant's own networks (the gateway's interface addresses on them), delivered on the downlink.</summary>
public sealed class DistributedRouterTable : StageTable
{
    private DistributedRouterTable(TenantLayout l, ImmutableArray<(Ipv4Address Address, int PrefixLength)> networks, DistributedRouterTable? previous)
        : base(GatewayStage.DistributedRouter, l.Intent.Tenant, [.. networks.Select(n => $"{n.Address}/{n.PrefixLength}")], previous)
    {
        Networks = networks;
        DownlinkPort = l.DownlinkPort;
    }

    public ImmutableArray<(Ipv4Address Address, int PrefixLength)> Networks { get; }
    public ushort DownlinkPort { get; }

    public override string Summary => $"{Networks.Length} networks, downlink port {DownlinkPort}";

    /// <summary>The index of the tenant network holding <paramref name="address"/>, or -1.</summary>
    public int NetworkOf(Ipv4Address address)
    {
        for (var i = 0; i < Networks.Length; i++)
        {
            if (address.IsInSubnet(Networks[i].Address, Networks[i].PrefixLength)) return i;
        }
        return -1;
    }

    public static DistributedRouterTable Build(TenantLayout l, DistributedRouterTable? previous) =>
        Keep(new DistributedRouterTable(l, [.. l.Intent.Networks.Select(n => (GatewayPlan.Address(n.Address), n.PrefixLength))], previous), previous);

    protected override bool SameAs(StageTable other) =>
        other is DistributedRouterTable o && o.DownlinkPort == DownlinkPort && o.Networks.AsSpan().SequenceEqual(Networks.AsSpan());
}

/// <summary>The service router's table: longest prefix match over the connected networks, the uplink subnet and the static routes.</summary>
public sealed class ServiceRouterTable : StageTable
{
    private ServiceRouterTable(TenantLayout l, RouteTable routes, ServiceRouterTable? previous)
        : base(GatewayStage.ServiceRouter, l.Intent.Tenant, [.. routes.Entries.Select(r => r.ToString())], previous)
    {
        Routes = routes;
    }

    public RouteTable Routes { get; }

    public override string Summary
    {
        get
        {
            var connected = Routes.Entries.Count(r => r.Connected);
            return $"{Routes.Entries.Count} routes ({connected} connected, {Routes.Entries.Count - connected} static)";
        }
    }

    public static ServiceRouterTable Build(TenantLayout l, ServiceRouterTable? previous)
    {
        var t = l.Intent;
        var routes = new List<RouteEntry>();
        foreach (var n in t.Networks)
        {
            var a = GatewayPlan.Address(n.Address);
            routes.Add(new RouteEntry(Network(a, n.PrefixLength), n.PrefixLength, l.DownlinkPort, default, true));
        }
        var uplinkAddress = l.UplinkAddress;
        var uplinkPrefix = l.UplinkPrefix;
        if (t.Uplink is not null) routes.Add(new RouteEntry(Network(uplinkAddress, uplinkPrefix), uplinkPrefix, l.UplinkPort, default, true));
        foreach (var r in t.Routes)
        {
            var hop = GatewayPlan.Address(r.NextHop);
            var port = t.Uplink is not null && hop.IsInSubnet(uplinkAddress, uplinkPrefix) ? l.UplinkPort : l.DownlinkPort;
            routes.Add(new RouteEntry(GatewayPlan.Address(r.Prefix.Network), r.Prefix.PrefixLength, port, hop, false));
        }
        // Unchanged routes (the common case: another stage changed) are compared before the table is built.
        if (previous is not null && previous.Routes.Entries.Count == routes.Count && previous.Routes.SameRoutes(routes)) return previous;
        return new ServiceRouterTable(l, new RouteTable(routes), previous);
    }

    protected override bool SameAs(StageTable other) => other is ServiceRouterTable o && o.Routes.SameRoutes(Routes.Given);

    private static Ipv4Address Network(Ipv4Address a, int prefix) => new(a.ToUInt32() & Ipv4Address.MaskOf(prefix).ToUInt32());
}

/// <summary>NAT's table: the SNAT pool (cut into port blocks) and the DNAT port-forwards on the uplink address.</summary>
public sealed class NatStageTable : StageTable
{
    private NatStageTable(TenantLayout l, SnatPlan? snat, ImmutableArray<DnatRule> dnat, NatStageTable? previous)
        : base(GatewayStage.Nat, l.Intent.Tenant, ItemsOf(snat, dnat, l.UplinkAddress), previous)
    {
        Snat = snat;
        Dnat = dnat;
        UplinkAddress = l.UplinkAddress;
    }

    public SnatPlan? Snat { get; }
    public ImmutableArray<DnatRule> Dnat { get; }
    /// <summary>The address the port-forwards listen on (the tenant's uplink address).</summary>
    public Ipv4Address UplinkAddress { get; }
    /// <summary>The item that counts SNAT translations (after the DNAT rules).</summary>
    public int SnatItem => Dnat.Length;

    public override string Summary =>
        (Snat is { } s ? $"snat pool {s.Pool.Count} addresses, {s.BlockCount} blocks of {s.BlockSize} ports" : "no snat") + $"; {Dnat.Length} dnat rules";

    public static NatStageTable Build(TenantLayout l, NatStageTable? previous)
    {
        var t = l.Intent;
        var snat = t.SnatPool.IsEmpty ? null : SnatPlan.Create(t.SnatPool.Select(c => (GatewayPlan.Address(c.Address), c.PrefixLength)), l.PortBlockSize);
        ImmutableArray<DnatRule> dnat = [.. t.Dnat.Select(d => new DnatRule(d.Protocol == DnatProtocol.Tcp ? IpProtocol.Tcp : IpProtocol.Udp, d.ExternalPort, GatewayPlan.Address(d.InternalAddress), d.InternalPort))];
        return Keep(new NatStageTable(l, snat, dnat, previous), previous);
    }

    protected override bool SameAs(StageTable other) =>
        other is NatStageTable o && o.UplinkAddress == UplinkAddress && o.Dnat.AsSpan().SequenceEqual(Dnat.AsSpan())
        && (o.Snat is null ? Snat is null : Snat is not null && o.Snat.SameBlocks(Snat));

    private static string[] ItemsOf(SnatPlan? snat, ImmutableArray<DnatRule> dnat, Ipv4Address uplink) =>
        [.. dnat.Select(d => $"dnat {d.Protocol.ToString().ToLowerInvariant()} {uplink}:{d.ExternalPort} -> {d.InternalAddress}:{d.InternalPort}"),
         snat is null ? "snat: none" : $"snat to {string.Join(",", snat.Pool.Take(4))}{(snat.Pool.Count > 4 ? ",..." : "")}"];
}

/// <summary>The firewall's table: the ordered rules (first match) and the default policy; null policy = no firewall.</summary>
public sealed class FirewallTable : StageTable
{
    private FirewallTable(TenantLayout l, FirewallPolicy? policy, ImmutableArray<FirewallRule> rules, FirewallTable? previous)
        : base(GatewayStage.Firewall, l.Intent.Tenant, ItemsOf(policy, rules), previous)
    {
        DefaultPolicy = policy;
        Rules = rules;
    }

    public FirewallPolicy? DefaultPolicy { get; }
    public ImmutableArray<FirewallRule> Rules { get; }
    public bool Enabled => DefaultPolicy is not null;
    /// <summary>The item that counts what the default policy decided (after the rules).</summary>
    public int DefaultItem => Rules.Length;

    public override string Summary => DefaultPolicy is { } p ? $"{Rules.Length} rules, default {p.ToString().ToLowerInvariant()}" : "no firewall";

    public static FirewallTable Build(TenantLayout l, FirewallTable? previous)
    {
        var f = l.Intent.Firewall;
        ImmutableArray<FirewallRule> rules = f is null ? [] : [.. f.Rules.Select(r => new FirewallRule(
            r.Name, r.Action, r.Protocol,
            GatewayPlan.Address(r.Source.Network), r.Source.PrefixLength,
            GatewayPlan.Address(r.Destination.Network), r.Destination.PrefixLength,
            r.Ports?.From ?? 0, r.Ports?.To ?? 65535))];
        return Keep(new FirewallTable(l, f?.DefaultPolicy, rules, previous), previous);
    }

    protected override bool SameAs(StageTable other) =>
        other is FirewallTable o && o.DefaultPolicy == DefaultPolicy && o.Rules.AsSpan().SequenceEqual(Rules.AsSpan());

    private static string[] ItemsOf(FirewallPolicy? policy, ImmutableArray<FirewallRule> rules) =>
        [.. rules.Select(r => r.ToString()), policy is { } p ? $"default: {p.ToString().ToLowerInvariant()}" : "no firewall"];
}
