using System.Collections.Immutable;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Messages.Intent;

namespace Fabric.Actors.Gateway;

/// <summary>Which side of the tenant a port is.</summary>
public enum PortRole : byte
{
    Downlink,
    Uplink,
}

/// <summary>
/// A port of a gateway: its fabric id, which tenant uses it and how; <paramref name="Vlan"/> 0 =
/// untagged, else its frames carry that 802.1Q tag. <paramref name="Mtu"/> is the largest IP packet
/// it sends (the intent's <c>mtu</c>, else <c>fabric.gateway.port-mtu</c>).
/// </summary>
public sealed record GatewayPort(ushort Id, PortRef Ref, int TenantIndex, PortRole Role, ushort Vlan = 0, int Mtu = GatewayPlan.DefaultMtu);

/// <summary>
/// A gateway's configuration compiled for the data path: one <see cref="TenantPlan"/> per tenant,
/// its ports numbered from 1, and the <see cref="Generation"/> every cache entry is stamped with.
/// Immutable; a committed change builds a new plan with a higher generation.
/// </summary>
public sealed class GatewayPlan
{
    /// <summary>A port's MTU when neither the intent nor the node's settings name one (Ethernet's 1500).</summary>
    public const int DefaultMtu = 1500;

    private readonly GatewayPort?[] _byId;
    private readonly int[] _mtu;

    private GatewayPlan(string name, uint generation, MacAddress mac, ImmutableArray<TenantPlan> tenants, ImmutableArray<GatewayPort> ports)
    {
        Name = name;
        Generation = generation;
        Mac = mac;
        Tenants = tenants;
        Ports = ports;
        _byId = new GatewayPort?[ports.Length == 0 ? 1 : ports.Max(p => p.Id) + 1];
        _mtu = new int[_byId.Length];
        foreach (var p in ports)
        {
            _byId[p.Id] = p;
            _mtu[p.Id] = p.Mtu;
        }
    }

    public string Name { get; }
    public uint Generation { get; }
    /// <summary>The gateway's MAC on every port (a router MAC, locally administered).</summary>
    public MacAddress Mac { get; }
    public ImmutableArray<TenantPlan> Tenants { get; }
    public ImmutableArray<GatewayPort> Ports { get; }

    public GatewayPort? Port(ushort id) => id < _byId.Length ? _byId[id] : null;

    /// <summary>The largest IP packet port <paramref name="id"/> sends (int.MaxValue for no port of this plan: nothing to check there).</summary>
    public int MtuOf(ushort id) => id < _mtu.Length && _byId[id] is not null ? _mtu[id] : int.MaxValue;

    /// <summary>
    /// Compiles <paramref name="intent"/> with fresh stage tables. Tenants without a downlink or
    /// uplink still get a plan (their stages exist) but no ports. <paramref name="vnis"/> gives each
    /// tenant's VNI (the flow key's tenant field); a tenant missing there gets its index + 1.
    /// <paramref name="portBlockSize"/> cuts the tenants' SNAT pools into port blocks
    /// (<see cref="NatSettings.PortBlockSize"/>). <paramref name="portMtu"/> is the MTU of a port whose intent names none.
    /// </summary>
    public static GatewayPlan Compile(GatewayIntent intent, uint generation, IReadOnlyDictionary<string, uint>? vnis = null, MacAddress? mac = null, int? portBlockSize = null,
        int portMtu = DefaultMtu) =>
        Assemble(intent, generation, Layout(intent, vnis, portBlockSize, portMtu), l => TenantStageTables.Build(l), mac);

    /// <summary>
    /// Numbers the ports of <paramref name="intent"/> from 1 (per tenant its downlink, then its
    /// uplink) and says where each tenant sits: what its stage tables are built from.
    /// </summary>
    public static (ImmutableArray<GatewayPort> Ports, ImmutableArray<TenantLayout> Tenants) Layout(GatewayIntent intent, IReadOnlyDictionary<string, uint>? vnis = null,
        int? portBlockSize = null, int portMtu = DefaultMtu)
    {
        var blockSize = portBlockSize ?? NatSettings.Default.PortBlockSize;
        var ports = ImmutableArray.CreateBuilder<GatewayPort>();
        var tenants = ImmutableArray.CreateBuilder<TenantLayout>();
        ushort next = 1;
        for (var i = 0; i < intent.Tenants.Length; i++)
        {
            var t = intent.Tenants[i];
            ushort downlink = 0, uplink = 0;
            if (t.Downlink is { } d)
            {
                downlink = next++;
                ports.Add(new GatewayPort(downlink, d, i, PortRole.Downlink, Mtu: t.DownlinkMtu ?? portMtu));
            }
            if (t.Uplink is { } u)
            {
                uplink = next++;
                ports.Add(new GatewayPort(uplink, u.Port, i, PortRole.Uplink, u.Vlan ?? 0, u.Mtu ?? portMtu));
            }
            var vni = vnis is not null && vnis.TryGetValue(t.Tenant, out var v) ? v : (uint)(i + 1);
            tenants.Add(new TenantLayout(t, i, vni, downlink, uplink, blockSize));
        }
        return (ports.ToImmutable(), tenants.ToImmutable());
    }

    /// <summary>
    /// A plan from a <see cref="Layout"/> and each tenant's stage tables as <paramref name="tables"/>
    /// gives them (the gateway actor: as its stage actors published them).
    /// </summary>
    public static GatewayPlan Assemble(GatewayIntent intent, uint generation, (ImmutableArray<GatewayPort> Ports, ImmutableArray<TenantLayout> Tenants) layout,
        Func<TenantLayout, TenantStageTables> tables, MacAddress? mac = null) =>
        new(intent.Name, generation, mac ?? new MacAddress(intent.RouterMac.Value), [.. layout.Tenants.Select(l => TenantPlan.Of(l, tables(l)))], layout.Ports);

    /// <summary>A gateway's MAC when its intent names none (<see cref="GatewayIntent.DerivedMac"/>).</summary>
    public static MacAddress DefaultMac(string name) => new(GatewayIntent.DerivedMac(name).Value);

    public static Ipv4Address Address(Ipv4 ip) => new(ip.Value);
}

/// <summary>One connected or static route: prefix → out port, next hop (0 = the destination itself).</summary>
public readonly record struct RouteEntry(Ipv4Address Network, int PrefixLength, ushort Port, Ipv4Address NextHop, bool Connected)
{
    public bool Contains(Ipv4Address address) => address.IsInSubnet(Network, PrefixLength);

    public override string ToString() => $"{Network}/{PrefixLength} -> port {Port}" + (Connected ? " connected" : $" via {NextHop}");
}

/// <summary>
/// A longest-prefix-match table: one hash table per prefix length in use, probed from the longest
/// length down, so a lookup costs at most one probe per distinct length (two for a table of /24s
/// and a default route) however many routes there are. Of two routes for the same prefix the
/// first listed wins.
/// </summary>
public sealed class RouteTable
{
    private readonly RouteEntry[] _given;
    private readonly RouteEntry[] _entries;
    /// <summary>Prefix lengths in use, longest first, each with its routes' indexes in <see cref="Entries"/> keyed by network address.</summary>
    private readonly (uint Mask, Dictionary<uint, int> Routes)[] _byLength;
    /// <summary>Each entry's description, made the first time a stage record names it (not once per miss).</summary>
    private readonly string?[] _notes;

    public RouteTable(IEnumerable<RouteEntry> entries)
    {
        _given = [.. entries];
        _entries = [.. _given.Select((e, i) => (e, i)).OrderByDescending(x => x.e.PrefixLength).ThenBy(x => x.i).Select(x => x.e)];
        _notes = new string?[_entries.Length];
        _byLength = [.. _entries.Select((e, i) => (e, i)).GroupBy(x => x.e.PrefixLength).Select(g =>
        {
            var mask = MaskOf(g.Key);
            var routes = new Dictionary<uint, int>();
            foreach (var (e, i) in g) routes.TryAdd(e.Network.ToUInt32() & mask, i);
            return (mask, routes);
        })];
    }

    /// <summary>Longest prefix first; among equal lengths in the order given.</summary>
    public IReadOnlyList<RouteEntry> Entries => _entries;

    /// <summary>True when <paramref name="routes"/> are the routes this table was built from, in the same order.</summary>
    public bool SameRoutes(IReadOnlyList<RouteEntry> routes)
    {
        if (routes.Count != _given.Length) return false;
        for (var i = 0; i < _given.Length; i++)
        {
            if (routes[i] != _given[i]) return false;
        }
        return true;
    }

    /// <summary>The routes as given (before sorting).</summary>
    public IReadOnlyList<RouteEntry> Given => _given;

    /// <summary>The longest prefix containing <paramref name="destination"/>; false when none does.</summary>
    public bool TryLookup(Ipv4Address destination, out RouteEntry route) => TryLookup(destination, out route, out _);

    /// <summary>The longest prefix containing <paramref name="destination"/> and its index in <see cref="Entries"/>; false when none does.</summary>
    public bool TryLookup(Ipv4Address destination, out RouteEntry route, out int index)
    {
        var address = destination.ToUInt32();
        foreach (var (mask, routes) in _byLength)
        {
            if (routes.TryGetValue(address & mask, out index))
            {
                route = _entries[index];
                return true;
            }
        }
        route = default;
        index = -1;
        return false;
    }

    /// <summary>The description of the entry at <paramref name="index"/> in <see cref="Entries"/> (any thread: a race makes the same string twice).</summary>
    public string NoteOf(int index) => _notes[index] ??= _entries[index].ToString();

    private static uint MaskOf(int prefixLength) => prefixLength == 0 ? 0 : uint.MaxValue << (32 - prefixLength);
}

/// <summary>A DNAT port-forward: (protocol, external port on the uplink address) → inside endpoint.</summary>
public readonly record struct DnatRule(IpProtocol Protocol, ushort ExternalPort, Ipv4Address InternalAddress, ushort InternalPort);

/// <summary>A compiled firewall rule (networks as address + prefix).</summary>
public readonly record struct FirewallRule(
    string Name,
    FirewallAction Action,
    RuleProtocol Protocol,
    Ipv4Address Source,
    int SourcePrefix,
    Ipv4Address Destination,
    int DestinationPrefix,
    ushort PortFrom,
    ushort PortTo)
{
    public override string ToString() =>
        $"{Name}: {Action.ToString().ToLowerInvariant()} {Protocol.ToString().ToLowerInvariant()} {Source}/{SourcePrefix} -> {Destination}/{DestinationPrefix}"
        + (Protocol is RuleProtocol.Tcp or RuleProtocol.Udp && (PortFrom != 0 || PortTo != 65535) ? $" ports {PortFrom}-{PortTo}" : "");
}

/// <summary>
/// One tenant of a plan: where it sits (index, VNI, ports, uplink address) and its four stage
/// tables, each built and owned by that stage's actor (tenant-T/dr|sr|nat|fw) and published to
/// the plan as a whole. The properties below read through to the tables.
/// </summary>
public sealed class TenantPlan
{
    public required string Name { get; init; }
    public required int Index { get; init; }
    public required uint Vni { get; init; }
    public required ushort DownlinkPort { get; init; }
    public required ushort UplinkPort { get; init; }
    public required Ipv4Address UplinkAddress { get; init; }
    public required int UplinkPrefix { get; init; }
    public required TenantStageTables Tables { get; init; }

    public DistributedRouterTable Dr => Tables.Dr;
    public ServiceRouterTable Sr => Tables.Sr;
    public NatStageTable Nat => Tables.Nat;
    public FirewallTable Fw => Tables.Fw;
    /// <summary>The firewall table's counters, one load away for the hot path (a cached hit counts a packet for its rule).</summary>
    public StageCounters FirewallCounters { get; private init; } = null!;

    /// <summary>The gateway's interface addresses on the tenant networks.</summary>
    public ImmutableArray<(Ipv4Address Address, int PrefixLength)> Networks => Tables.Dr.Networks;
    public RouteTable Routes => Tables.Sr.Routes;
    public SnatPlan? Snat => Tables.Nat.Snat;
    public ImmutableArray<DnatRule> Dnat => Tables.Nat.Dnat;
    public FirewallPolicy? DefaultPolicy => Tables.Fw.DefaultPolicy;
    public ImmutableArray<FirewallRule> FirewallRules => Tables.Fw.Rules;

    public bool HasFirewall => Tables.Fw.Enabled;

    public bool IsInside(Ipv4Address address)
    {
        foreach (var (a, p) in Networks)
        {
            if (address.IsInSubnet(a, p)) return true;
        }
        return false;
    }

    /// <summary>True when <paramref name="address"/> is one of the gateway's own addresses on <paramref name="role"/>'s side.</summary>
    public bool IsGatewayAddress(Ipv4Address address, PortRole role)
    {
        if (role == PortRole.Downlink)
        {
            foreach (var (a, _) in Networks)
            {
                if (a == address) return true;
            }
            return false;
        }
        return address == UplinkAddress || (Snat is { } s && s.PoolIndex(address) >= 0);
    }

    /// <summary>The gateway's address on the side of <paramref name="port"/> that faces <paramref name="peer"/> (source of ICMP errors).</summary>
    public Ipv4Address SourceAddressFor(ushort port, Ipv4Address peer)
    {
        if (port == UplinkPort) return UplinkAddress;
        foreach (var (a, p) in Networks)
        {
            if (peer.IsInSubnet(a, p)) return a;
        }
        return Networks.IsEmpty ? UplinkAddress : Networks[0].Address;
    }

    public static TenantPlan Of(TenantLayout l, TenantStageTables tables) => new()
    {
        Name = l.Intent.Tenant,
        Index = l.Index,
        Vni = l.Vni,
        DownlinkPort = l.DownlinkPort,
        UplinkPort = l.UplinkPort,
        UplinkAddress = l.UplinkAddress,
        UplinkPrefix = l.UplinkPrefix,
        Tables = tables,
        FirewallCounters = tables.Fw.Counters,
    };
}
