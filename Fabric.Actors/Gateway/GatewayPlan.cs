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
    /// Compiles <paramref name="intent"/>. Tenants without a downlink or uplink still get a plan
    /// (their stages exist) but no ports. <paramref name="vnis"/> gives each tenant's VNI (the
    /// flow key's tenant field); a tenant missing there gets its index + 1. <paramref name="portBlockSize"/>
    /// cuts the tenants' SNAT pools into port blocks (<see cref="NatSettings.PortBlockSize"/>).
    /// <paramref name="portMtu"/> is the MTU of a port whose intent names none.
    /// </summary>
    public static GatewayPlan Compile(GatewayIntent intent, uint generation, IReadOnlyDictionary<string, uint>? vnis = null, MacAddress? mac = null, int? portBlockSize = null,
        int portMtu = DefaultMtu)
    {
        var blockSize = portBlockSize ?? NatSettings.Default.PortBlockSize;
        var ports = ImmutableArray.CreateBuilder<GatewayPort>();
        var tenants = ImmutableArray.CreateBuilder<TenantPlan>();
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
            tenants.Add(TenantPlan.Compile(t, i, vni, downlink, uplink, blockSize));
        }
        return new GatewayPlan(intent.Name, generation, mac ?? new MacAddress(intent.RouterMac.Value), tenants.ToImmutable(), ports.ToImmutable());
    }

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
    private readonly RouteEntry[] _entries;
    /// <summary>Prefix lengths in use, longest first, each with its routes keyed by network address.</summary>
    private readonly (uint Mask, Dictionary<uint, RouteEntry> Routes)[] _byLength;

    public RouteTable(IEnumerable<RouteEntry> entries)
    {
        _entries = [.. entries.Select((e, i) => (e, i)).OrderByDescending(x => x.e.PrefixLength).ThenBy(x => x.i).Select(x => x.e)];
        _byLength = [.. _entries.GroupBy(e => e.PrefixLength).Select(g =>
        {
            var mask = MaskOf(g.Key);
            var routes = new Dictionary<uint, RouteEntry>();
            foreach (var e in g) routes.TryAdd(e.Network.ToUInt32() & mask, e);
            return (mask, routes);
        })];
    }

    /// <summary>Longest prefix first; among equal lengths in the order given.</summary>
    public IReadOnlyList<RouteEntry> Entries => _entries;

    /// <summary>The longest prefix containing <paramref name="destination"/>; false when none does.</summary>
    public bool TryLookup(Ipv4Address destination, out RouteEntry route)
    {
        var address = destination.ToUInt32();
        foreach (var (mask, routes) in _byLength)
        {
            if (routes.TryGetValue(address & mask, out route)) return true;
        }
        route = default;
        return false;
    }

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
    ushort PortTo);

/// <summary>One tenant's compiled stage configuration.</summary>
public sealed class TenantPlan
{
    public required string Name { get; init; }
    public required int Index { get; init; }
    public required uint Vni { get; init; }
    public required ushort DownlinkPort { get; init; }
    public required ushort UplinkPort { get; init; }
    /// <summary>The gateway's interface addresses on the tenant networks.</summary>
    public required ImmutableArray<(Ipv4Address Address, int PrefixLength)> Networks { get; init; }
    public required Ipv4Address UplinkAddress { get; init; }
    public required int UplinkPrefix { get; init; }
    public required RouteTable Routes { get; init; }
    public required SnatPlan? Snat { get; init; }
    public required ImmutableArray<DnatRule> Dnat { get; init; }
    public required FirewallPolicy? DefaultPolicy { get; init; }
    public required ImmutableArray<FirewallRule> FirewallRules { get; init; }

    public bool HasFirewall => DefaultPolicy is not null;

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

    public static TenantPlan Compile(GatewayTenantIntent t, int index, uint vni, ushort downlink, ushort uplink, int portBlockSize)
    {
        var networks = t.Networks.Select(n => (GatewayPlan.Address(n.Address), n.PrefixLength)).ToImmutableArray();
        var routes = new List<RouteEntry>();
        foreach (var (a, p) in networks) routes.Add(new RouteEntry(Network(a, p), p, downlink, default, true));
        var uplinkAddress = t.Uplink is { } u ? GatewayPlan.Address(u.Address.Address) : default;
        var uplinkPrefix = t.Uplink?.Address.PrefixLength ?? 0;
        if (t.Uplink is not null) routes.Add(new RouteEntry(Network(uplinkAddress, uplinkPrefix), uplinkPrefix, uplink, default, true));
        foreach (var r in t.Routes)
        {
            var hop = GatewayPlan.Address(r.NextHop);
            var port = t.Uplink is not null && hop.IsInSubnet(uplinkAddress, uplinkPrefix) ? uplink : downlink;
            routes.Add(new RouteEntry(GatewayPlan.Address(r.Prefix.Network), r.Prefix.PrefixLength, port, hop, false));
        }

        return new TenantPlan
        {
            Name = t.Tenant,
            Index = index,
            Vni = vni,
            DownlinkPort = downlink,
            UplinkPort = uplink,
            Networks = networks,
            UplinkAddress = uplinkAddress,
            UplinkPrefix = uplinkPrefix,
            Routes = new RouteTable(routes),
            Snat = t.SnatPool.IsEmpty ? null : SnatPlan.Create(t.SnatPool.Select(c => (GatewayPlan.Address(c.Address), c.PrefixLength)), portBlockSize),
            Dnat = [.. t.Dnat.Select(d => new DnatRule(d.Protocol == DnatProtocol.Tcp ? IpProtocol.Tcp : IpProtocol.Udp, d.ExternalPort, GatewayPlan.Address(d.InternalAddress), d.InternalPort))],
            DefaultPolicy = t.Firewall?.DefaultPolicy,
            FirewallRules = t.Firewall is null ? [] : [.. t.Firewall.Rules.Select(r => new FirewallRule(
                r.Name, r.Action, r.Protocol,
                GatewayPlan.Address(r.Source.Network), r.Source.PrefixLength,
                GatewayPlan.Address(r.Destination.Network), r.Destination.PrefixLength,
                r.Ports?.From ?? 0, r.Ports?.To ?? 65535))],
        };
    }

    private static Ipv4Address Network(Ipv4Address a, int prefix) => new(a.ToUInt32() & Ipv4Address.MaskOf(prefix).ToUInt32());
}
