using System.Collections.Immutable;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Gateway;
using Fabric.Messages.Intent;

namespace Fabric.Tests.Gateways;

/// <summary>Two tenants with the same inside subnet, each with its own uplink, SNAT pool and firewall.</summary>
internal static class GatewayFixture
{
    public static readonly MacAddress HostMac = MacAddress.Parse("02:00:00:00:00:0a");
    public static readonly MacAddress RouterMac = MacAddress.Parse("02:00:00:00:00:fe");
    public static readonly Ipv4Address Host = Ipv4Address.Parse("10.0.0.10");
    public static readonly Ipv4Address Server = Ipv4Address.Parse("203.0.113.80");
    public static readonly Ipv4Address UpstreamRouter = Ipv4Address.Parse("198.51.100.1");

    public static FirewallIntent Firewall(FirewallPolicy policy = FirewallPolicy.Allow, params FirewallRuleIntent[] rules) => new(policy, [.. rules]);

    public static readonly FirewallIntent StandardFirewall = Firewall(FirewallPolicy.Allow,
        new FirewallRuleIntent("no-telnet", FirewallAction.Deny, RuleProtocol.Tcp, default, default, new PortRange(23, 23)),
        new FirewallRuleIntent("no-smtp", FirewallAction.Reject, RuleProtocol.Tcp, default, default, new PortRange(25, 25)),
        new FirewallRuleIntent("web", FirewallAction.Allow, RuleProtocol.Tcp, default, default, new PortRange(80, 80)),
        new FirewallRuleIntent("no-web-range", FirewallAction.Deny, RuleProtocol.Tcp, default, default, new PortRange(1, 100)));

    public static GatewayTenantIntent Tenant(string name, int n, FirewallIntent? firewall = null, ImmutableArray<DnatRuleIntent> dnat = default, string pool = "") => new(
        name,
        [Cidr("10.0.0.1/24")],
        [new RouteIntent(Cidr("0.0.0.0/0"), Ip("198.51.100.1"))],
        new UplinkIntent(new PortRef(PortKind.Simulated, $"{name}-up"), Cidr($"198.51.100.{1 + n}/24")),
        [Cidr(pool.Length > 0 ? pool : $"198.51.100.{10 + n}/32", bareAddressIsHost: true)],
        dnat.IsDefault ? [] : dnat,
        firewall ?? StandardFirewall,
        new PortRef(PortKind.Simulated, $"{name}-down"));

    public static GatewayIntent GatewayOf(params GatewayTenantIntent[] tenants) =>
        new("gw-1", "node-1", tenants.Length > 0 ? [.. tenants] : [Tenant("blue", 1), Tenant("red", 2)]);

    public static GatewayPlan Plan(GatewayIntent? intent = null, uint generation = 1) =>
        GatewayPlan.Compile(intent ?? GatewayOf(), generation, mac: RouterMac);

    /// <summary>A datapath whose upstream router and hosts are already resolved (no ARP needed).</summary>
    public static GatewayDatapath Datapath(GatewayPlan? plan = null, int shards = 4)
    {
        plan ??= Plan();
        var dp = new GatewayDatapath(plan, shards);
        foreach (var t in plan.Tenants)
        {
            dp.AddNeighbor(t.UplinkPort, UpstreamRouter, UpstreamMac);
        }
        return dp;
    }

    public static readonly MacAddress UpstreamMac = MacAddress.Parse("02:00:00:00:01:01");

    public static Ipv4Cidr Cidr(string text, bool bareAddressIsHost = false) =>
        Ipv4Cidr.TryParse(text, out var c, bareAddressIsHost) ? c : throw new ArgumentException(text);

    public static Ipv4 Ip(string text) => Ipv4.TryParse(text, out var a) ? a : throw new ArgumentException(text);

    public static byte[] Udp(Ipv4Address src, ushort sport, Ipv4Address dst, ushort dport, MacAddress? from = null, byte ttl = 64, int payload = 18)
    {
        var udp = new UdpRepr(sport, dport, payload);
        var ip = new Ipv4Repr(src, dst, IpProtocol.Udp, udp.BufferLength, ttl);
        var frame = new byte[14 + ip.BufferLength];
        udp.Emit(frame.AsSpan(34), src, dst);
        ip.Emit(frame.AsSpan(14));
        new EthernetRepr(from ?? HostMac, RouterMac, EtherType.Ipv4).Emit(frame);
        return frame;
    }

    public static byte[] Tcp(Ipv4Address src, ushort sport, Ipv4Address dst, ushort dport, TcpFlags flags, MacAddress? from = null, uint seq = 1000, uint ack = 0)
    {
        var tcp = new TcpRepr(sport, dport, seq, ack, flags, 64240, 0);
        var ip = new Ipv4Repr(src, dst, IpProtocol.Tcp, tcp.BufferLength);
        var frame = new byte[Math.Max(60, 14 + ip.BufferLength)];
        tcp.Emit(frame.AsSpan(34), src, dst);
        ip.Emit(frame.AsSpan(14));
        new EthernetRepr(from ?? HostMac, RouterMac, EtherType.Ipv4).Emit(frame);
        return frame;
    }

    public static byte[] Ping(Ipv4Address src, Ipv4Address dst, ushort id, MacAddress? from = null, Icmpv4Type type = Icmpv4Type.EchoRequest)
    {
        var icmp = new Icmpv4Repr(type, 0, ((uint)id << 16) | 1, 8);
        var ip = new Ipv4Repr(src, dst, IpProtocol.Icmp, icmp.BufferLength);
        var frame = new byte[Math.Max(60, 14 + ip.BufferLength)];
        icmp.Emit(frame.AsSpan(34));
        ip.Emit(frame.AsSpan(14));
        new EthernetRepr(from ?? HostMac, RouterMac, EtherType.Ipv4).Emit(frame);
        return frame;
    }
}

/// <summary>Collects what a datapath sends.</summary>
internal sealed class CaptureSink : IFrameSink
{
    public List<(ushort Port, byte[] Frame)> Sent { get; } = [];

    public void Send(ushort port, ReadOnlySpan<byte> frame) => Sent.Add((port, frame.ToArray()));

    public (ushort Port, byte[] Frame) Single()
    {
        Assert.Single(Sent);
        var s = Sent[0];
        Sent.Clear();
        return s;
    }
}
