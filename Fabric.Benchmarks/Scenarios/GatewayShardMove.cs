using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Akka.Configuration;
using Akka.Hosting;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Gateway;
using Fabric.Actors.Gateway.Actors;
using Fabric.Messages.Gateway;
using Fabric.Messages.Intent;
using Fabric.Messages.Serialization;

namespace Fabric.Benchmarks.Scenarios;

/// <summary>
/// A real shard move: three ActorSystems in one cluster (loopback remoting), the flow-cache region
/// on each, a <see cref="GatewayActor"/> with simulated ports on the first. A TCP connection goes
/// through SNAT with its bucket's entity on another node; that node leaves; a data segment every
/// 5 ms measures the gap from the first segment not forwarded to the next one forwarded, and
/// checks the external port did not change.
/// </summary>
internal static class GatewayShardMove
{
    private const string Hocon = """
        akka.loglevel = ERROR
        akka.stdout-loglevel = ERROR
        akka.actor.provider = cluster
        akka.remote.dot-netty.tcp.hostname = 127.0.0.1
        akka.remote.dot-netty.tcp.port = 0
        akka.cluster.gossip-interval = 200ms
        akka.cluster.leader-actions-interval = 200ms
        akka.cluster.periodic-tasks-initial-delay = 100ms
        akka.cluster.sharding.state-store-mode = ddata
        akka.coordinated-shutdown.run-by-clr-shutdown-hook = off
        """;

    private static readonly MacAddress HostMac = MacAddress.Parse("02:00:00:00:00:0a");
    private static readonly MacAddress UpstreamMac = MacAddress.Parse("02:00:00:00:01:01");
    private static readonly Ipv4Address Server = Ipv4Address.Parse("203.0.113.80");
    private static readonly Ipv4Address Pool = Ipv4Address.Parse("198.51.100.10");

    public sealed record Result(double ResumeMs, bool SamePort, string Detail, double CachedFps, double UncachedFps);

    private const uint Vni = 1001;

    private static GatewayIntent Intent() => new("gw-move", "node-a", [new GatewayTenantIntent(
        "blue",
        [Cidr("10.0.0.1/24")],
        [new RouteIntent(Cidr("0.0.0.0/0"), Ipv4.TryParse("198.51.100.1", out var hop) ? hop : default)],
        new UplinkIntent(new PortRef(PortKind.Simulated, "blue-up"), Cidr("198.51.100.2/24")),
        [Cidr("198.51.100.10/32")],
        [],
        new FirewallIntent(FirewallPolicy.Allow, []),
        new PortRef(PortKind.Simulated, "blue-down"))]);

    private static Ipv4Cidr Cidr(string text) => Ipv4Cidr.TryParse(text, out var c) ? c : throw new ArgumentException(text);

    public static async Task<Result> MeasureAsync()
    {
        var intent = Intent();
        const uint vni = Vni;
        var config = ConfigurationFactory.ParseString(Hocon).WithFallback(FabricSerialization.Config);
        var systems = new List<ActorSystem>();
        try
        {
            for (var i = 0; i < 3; i++) systems.Add(ActorSystem.Create("fabric", config));
            var seed = Cluster.Get(systems[0]).SelfAddress;
            foreach (var s in systems) Cluster.Get(s).Join(seed);
            await Until(() => systems.All(s => Cluster.Get(s).State.Members.Count(m => m.Status == MemberStatus.Up) == 3), "three members Up");
            var regions = systems.Select(s => ClusterSharding.Get(s).Start(FlowCacheRegion.Name,
                id => Props.Create(() => new FlowCacheEntity(id)), ClusterShardingSettings.Create(s), new FlowCacheMessageExtractor())).ToList();
            ActorRegistry.For(systems[0]).Register<FlowCacheRegion>(regions[0]);

            var spec = new GatewaySpec(intent, [new TenantVni(intent.Tenants[0].Tenant, vni)]);
            var gw = systems[0].ActorOf(GatewayActor.Props(spec, "node-a"), "gw-" + intent.Name);
            var mac = GatewayPlan.DefaultMac(intent.Name);
            var downlink = intent.Tenants[0].Downlink!.Name;
            var uplink = intent.Tenants[0].Uplink!.Port.Name;

            // An inside host whose bucket's entity runs on another node.
            var remote = systems.Skip(1).ToDictionary(s => Cluster.Get(s).SelfAddress.ToString());
            ActorSystem? owner = null;
            Ipv4Address host = default;
            await Until(async () =>
            {
                for (var b = 0; b < GatewaySettings.Default.Buckets && owner is null; b++)
                {
                    var stats = await regions[0].Ask<FlowCacheEntityStats>(new GetFlowCacheStats(intent.Name, b), TimeSpan.FromSeconds(3));
                    if (!remote.TryGetValue(stats.Node, out var o)) continue;
                    for (uint h = 10; h < 250 && owner is null; h++)
                    {
                        var a = Ipv4Address.Parse($"10.0.0.{h}");
                        if (GatewayDatapath.ShardFor(vni, a, GatewaySettings.Default.Buckets) != b) continue;
                        (owner, host) = (o, a);
                    }
                }
                return owner is not null;
            }, "an entity on another node");

            await Inject(gw, uplink, Arp(Ipv4Address.Parse("198.51.100.1"), Ipv4Address.Parse("198.51.100.2")));
            await Take(gw, uplink, 1, 2000);
            var (cachedFps, uncachedFps) = await Throughput(gw, downlink, uplink, mac);
            uint seq = 1000;
            await Inject(gw, downlink, Tcp(host, 40000, Server, 80, TcpFlags.Syn, HostMac, mac, seq));
            var syn = await Take(gw, uplink, 1, 3000);
            var port = SourcePort(syn[0]);
            await Inject(gw, uplink, Tcp(Server, 80, Pool, port, TcpFlags.Syn | TcpFlags.Ack, UpstreamMac, mac, 5000, seq + 1));
            await Take(gw, downlink, 1, 3000);

            var ownerCluster = Cluster.Get(owner!);
            ownerCluster.Leave(ownerCluster.SelfAddress);
            var clock = Stopwatch.StartNew();
            double? gapStart = null, resumed = null;
            var samePort = true;
            var afterGone = 0;
            while (clock.Elapsed < TimeSpan.FromSeconds(30) && !(owner!.WhenTerminated.IsCompleted && afterGone >= 20))
            {
                await Inject(gw, downlink, Tcp(host, 40000, Server, 80, TcpFlags.Ack | TcpFlags.Psh, HostMac, mac, ++seq, 5001));
                var sent = await Take(gw, uplink, 1, 5);
                if (sent.Count == 0)
                {
                    gapStart ??= clock.Elapsed.TotalMilliseconds;
                    continue;
                }
                samePort &= sent.All(f => SourcePort(f) == port);
                if (gapStart is not null && resumed is null) resumed = clock.Elapsed.TotalMilliseconds;
                if (owner!.WhenTerminated.IsCompleted) afterGone++;
            }
            var forwardedAfter = afterGone >= 20;
            var gap = gapStart is null ? 0 : (resumed ?? clock.Elapsed.TotalMilliseconds) - gapStart.Value;
            return new Result(gap, samePort && forwardedAfter,
                $"owner left; gap {gapStart:F0}..{resumed:F0} ms after Leave; forwarding after the node was gone: {forwardedAfter}; external port {port} kept: {samePort}",
                cachedFps, uncachedFps);
        }
        finally
        {
            await Task.WhenAll(systems.Select(s => s.Terminate()));
        }
    }

    /// <summary>
    /// Frames/s through the gateway actor, 256 UDP flows in 256-frame batches (each injected with an
    /// Ask, output counted by the simulated uplink): with its cache, and with the cache off, when every
    /// frame is resolved by the flow-cache entities (spread over the three systems).
    /// </summary>
    private static async Task<(double Cached, double Uncached)> Throughput(IActorRef gw, string downlink, string uplink, MacAddress mac)
    {
        var batch = Enumerable.Range(0, 256).Select(i => Udp(Ipv4Address.Parse($"10.0.0.{100 + i % 100}"), (ushort)(20000 + i), Server, 53, HostMac, mac)).ToArray();
        async Task<double> Rate(int passes)
        {
            var clock = Stopwatch.StartNew();
            var forwarded = 0;
            for (var p = 0; p < passes; p++)
            {
                await gw.Ask<FramesInjected>(new InjectFrames(downlink, [.. batch.Select(f => (byte[])f.Clone())]), TimeSpan.FromSeconds(10));
                forwarded += (await Take(gw, uplink, 0, 0)).Count;
            }
            while (forwarded < passes * batch.Length && clock.Elapsed < TimeSpan.FromSeconds(20)) forwarded += (await Take(gw, uplink, 1, 50)).Count;
            return forwarded / clock.Elapsed.TotalSeconds;
        }
        // Resolve and cache the flows. A burst of 100 new hosts takes a few batches: each bucket's
        // entity has two spare port blocks and asks the gateway for more when its hosts wanted some.
        for (var warm = 0; warm < 5; warm++) await Rate(1);
        var cached = await Rate(40);
        await gw.Ask<SetCacheDisabled>(new SetCacheDisabled(true), TimeSpan.FromSeconds(5));
        var uncached = await Rate(10);
        await gw.Ask<SetCacheDisabled>(new SetCacheDisabled(false), TimeSpan.FromSeconds(5));
        return (cached, uncached);
    }

    private static byte[] Udp(Ipv4Address src, ushort sport, Ipv4Address dst, ushort dport, MacAddress from, MacAddress to)
    {
        var udp = new UdpRepr(sport, dport, 18);
        var ip = new Ipv4Repr(src, dst, IpProtocol.Udp, udp.BufferLength);
        var frame = new byte[14 + ip.BufferLength];
        udp.Emit(frame.AsSpan(34), src, dst);
        ip.Emit(frame.AsSpan(14));
        new EthernetRepr(from, to, EtherType.Ipv4).Emit(frame);
        return frame;
    }

    private static async Task Until(Func<bool> condition, string what) => await Until(() => Task.FromResult(condition()), what);

    private static async Task Until(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"waiting for {what}");
            await Task.Delay(50);
        }
    }

    private static Task Inject(IActorRef gw, string port, byte[] frame) =>
        gw.Ask<FramesInjected>(new InjectFrames(port, [frame]), TimeSpan.FromSeconds(5));

    private static async Task<List<byte[]>> Take(IActorRef gw, string port, int atLeast, int withinMs)
    {
        var all = new List<byte[]>();
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            all.AddRange((await gw.Ask<SentFrames>(new TakeSentFrames(port), TimeSpan.FromSeconds(5))).Frames);
            if (all.Count >= atLeast || deadline.ElapsedMilliseconds > withinMs) return all;
            await Task.Delay(1);
        }
    }

    private static ushort SourcePort(byte[] frame) =>
        Ipv4View.TryParse(frame.AsSpan(EthernetLayout.HeaderLength), out var ip, out _) && TcpView.TryParse(ip.Payload, out var tcp, out _) ? tcp.SourcePort : (ushort)0;

    private static byte[] Arp(Ipv4Address sender, Ipv4Address target)
    {
        var frame = new byte[EthernetLayout.MinimumFrameLength];
        ArpRepr.Request(UpstreamMac, sender, target).Emit(frame.AsSpan(EthernetLayout.HeaderLength));
        new EthernetRepr(UpstreamMac, MacAddress.Broadcast, EtherType.Arp).Emit(frame);
        return frame;
    }

    private static byte[] Tcp(Ipv4Address src, ushort sport, Ipv4Address dst, ushort dport, TcpFlags flags, MacAddress from, MacAddress to, uint seq, uint ack = 0)
    {
        var tcp = new TcpRepr(sport, dport, seq, ack, flags, 64240, 0);
        var ip = new Ipv4Repr(src, dst, IpProtocol.Tcp, tcp.BufferLength);
        var frame = new byte[Math.Max(60, 14 + ip.BufferLength)];
        tcp.Emit(frame.AsSpan(34), src, dst);
        ip.Emit(frame.AsSpan(14));
        new EthernetRepr(from, to, EtherType.Ipv4).Emit(frame);
        return frame;
    }
}
