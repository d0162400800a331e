using System.Collections.Immutable;
using System.Text.Json.Nodes;
using Akka.Actor;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Gateway;
using Fabric.Actors.Gateway.Actors;
using Fabric.Tests.DataPlane.Io;
using Fabric.Tests.Support;

namespace Fabric.Tests.Gateways;

/// <summary>Drives a gateway running inside a <see cref="TestNode"/>: intent via HTTP, frames via its simulated ports.</summary>
internal static class GatewayNodeSupport
{
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(45);

    /// <summary>Proposes <paramref name="document"/> on <paramref name="node"/> and waits until it is committed and gateway <paramref name="gateway"/> answers.</summary>
    public static async Task ApplyAsync(TestNode node, string document, string gateway)
    {
        var id = await node.Propose(document);
        await Eventually.Holds(async () => await node.ChangeStatus(id) is "committed" or "rejected", Wait, $"change {id} decided");
        Assert.Equal("committed", await node.ChangeStatus(id));
        await Eventually.Holds(async () =>
        {
            using var r = await node.Http.GetAsync($"/gateways/{gateway}");
            return r.IsSuccessStatusCode;
        }, Wait, $"gateway {gateway} running on {node.Options.Name}");
    }

    public static IActorRef Gateway(TestNode node, string name) =>
        node.System.ActorSelection($"/user/fabric/gw-{name}").ResolveOne(TimeSpan.FromSeconds(5)).GetAwaiter().GetResult();

    public static async Task Inject(IActorRef gw, string port, params byte[][] frames) =>
        await gw.Ask<FramesInjected>(new InjectFrames(port, [.. frames]), TimeSpan.FromSeconds(10));

    /// <summary>Frames sent out of <paramref name="port"/>, polling until at least <paramref name="atLeast"/> arrived or <paramref name="within"/> passed.</summary>
    public static async Task<List<byte[]>> Sent(IActorRef gw, string port, int atLeast = 1, int within = 3000)
    {
        var all = new List<byte[]>();
        var deadline = DateTime.UtcNow.AddMilliseconds(within);
        while (true)
        {
            all.AddRange((await gw.Ask<SentFrames>(new TakeSentFrames(port), TimeSpan.FromSeconds(10))).Frames);
            if (all.Count >= atLeast || DateTime.UtcNow > deadline) return all;
            await Task.Delay(10);
        }
    }

    /// <summary>The IPv4/TCP (or UDP) endpoints of a frame, or null when it is not IPv4 TCP/UDP.</summary>
    public static (Ipv4Address Src, ushort Sport, Ipv4Address Dst, ushort Dport)? Endpoints(byte[] frame)
    {
        if (!Ipv4View.TryParse(frame.AsSpan(EthernetLayout.HeaderLength), out var ip, out _)) return null;
        if (ip.Protocol == IpProtocol.Tcp && TcpView.TryParse(ip.Payload, out var tcp, out _)) return (ip.Source, tcp.SourcePort, ip.Destination, tcp.DestinationPort);
        if (ip.Protocol == IpProtocol.Udp && UdpView.TryParse(ip.Payload, out var udp, out _)) return (ip.Source, udp.SourcePort, ip.Destination, udp.DestinationPort);
        return null;
    }

    /// <summary><paramref name="frame"/> addressed to the gateway's MAC.</summary>
    public static byte[] To(MacAddress gatewayMac, byte[] frame)
    {
        new EthernetWriter(frame).Destination = gatewayMac;
        return frame;
    }

    /// <summary>An ARP request from <paramref name="senderIp"/> for <paramref name="target"/> (teaches the gateway the sender's MAC).</summary>
    public static byte[] ArpRequest(MacAddress senderMac, Ipv4Address senderIp, Ipv4Address target)
    {
        var frame = new byte[EthernetLayout.MinimumFrameLength];
        ArpRepr.Request(senderMac, senderIp, target).Emit(frame.AsSpan(EthernetLayout.HeaderLength));
        new EthernetRepr(senderMac, MacAddress.Broadcast, EtherType.Arp).Emit(frame);
        return frame;
    }

    public static async Task<JsonNode> GatewayView(TestNode node, string name) => await node.Get($"/gateways/{name}");

    public static int BucketOf(uint vni, Ipv4Address inside) => GatewayDatapath.ShardFor(vni, inside, GatewaySettings.Default.Buckets);

    public static ImmutableArray<byte[]> None => [];

    /// <summary>Moves a TAP the node opened into <paramref name="ns"/>, addresses it and brings it up (with a default route when given).</summary>
    public static void Attach(TestNamespace ns, string tap, string address, string? gateway)
    {
        HostTools.Ip($"link set {tap} netns {ns.Name}");
        ns.Ip($"addr add {address} dev {tap}");
        ns.Ip($"link set {tap} up");
        ns.Ip("link set lo up");
        if (gateway is not null) ns.Ip($"route add default via {gateway}");
    }
}
