using Akka.Actor;
using Akka.TestKit.Xunit2;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Gateway;
using Fabric.Actors.Gateway.Actors;
using Fabric.Actors.Switching;
using Fabric.Messages.Intent;
using Fabric.Tests.Support;
using static Fabric.Tests.Gateways.GatewayNodeSupport;

namespace Fabric.Tests.Switching;

/// <summary>
/// The gateway as the containers' router, in one ActorSystem with simulated ports
/// (<see cref="RouterIntents.Blue"/>): host-1's MFE (DCN dcn-1 a <see cref="FramePort"/>, container
/// web) and gateway gw-1 whose blue downlink is blue's logical switch, joined by the node's patch panel. The MFE answers ARP for the router
/// address, frames to the gateway's MAC reach its pipeline (SNAT on the way out), and a DNAT
/// port-forward from the uplink reaches the container tagged with its local tag.
/// </summary>
public sealed class MfeRouterTests() : TestKit("akka.loglevel = WARNING")
{
    private static readonly MacAddress GatewayMac = MacAddress.Parse("02:00:00:00:0a:01");
    private static readonly MacAddress WebMac = MacAddress.Parse("02:00:00:00:11:01");
    private static readonly MacAddress UpstreamMac = MacAddress.Parse("02:00:00:00:01:01");
    private static readonly Ipv4Address Web = Ipv4Address.Parse("10.1.0.10");
    private static readonly Ipv4Address Router = Ipv4Address.Parse("10.1.0.1");
    private static readonly Ipv4Address Outside = Ipv4Address.Parse("198.51.100.7");
    private static readonly VlanId WebTag = new(101);

    [Fact]
    public async Task A_container_reaches_the_outside_through_the_gateways_SNAT_and_a_DNAT_port_forward_reaches_it()
    {
        var document = IntentParser.Parse(RouterIntents.Blue()).Document!;
        FramePort? dcn = null;
        using var node = new SwitchingNode(genevePort: (ushort)(48000 + Environment.ProcessId % 1000), portFactory: (port, id) =>
            dcn = new FramePort(port.Name, id));
        var hostKind = new MfeElementKind(node);
        var hostSpec = Assert.Single(hostKind.Desired(document, "node-1"));
        Sys.ActorOf(hostKind.Props(hostSpec), hostSpec.ChildName);
        var gwKind = new GatewayElementKind(patches: node.Patches);
        var gwSpec = Assert.Single(gwKind.Desired(document, "node-1"));
        var gw = Sys.ActorOf(gwKind.Props(gwSpec), gwSpec.ChildName);
        var timeout = TimeSpan.FromSeconds(10);
        await Eventually.Holds(() => node.Mfes.TryGetValue("host-1", out var m) && m.IsReady && m.Routers.Values.Any(r => r.GatewayAttached),
            timeout, "web forwarding and the gateway attached to its router port");
        var router = node.Mfes["host-1"].Routers.Values.Single();

        // The gateway asked for the DNAT target at start; the MFE answered from the intent, so a
        // port-forward from outside reaches web before web has sent anything.
        await Inject(gw, "blue-up", ArpRequest(UpstreamMac, Ipv4Address.Parse("203.0.113.1"), Ipv4Address.Parse("203.0.113.2")));
        // (The gateway asks again every 500 ms; an ask that came before the MFE knew web was
        // dropped as an unknown target, so only the answer is waited for, not a drop count of 0.)
        await Eventually.Holds(() => router.Counters.TxFrames >= 1, timeout, "the gateway's ARP for 10.1.0.10 answered by the MFE");
        long dropsBefore = router.Counters.TotalDrops; // the early asks' drops, if any
        dcn!.TakeSent();
        var syn = To(GatewayMac, Gateways.GatewayFixture.Tcp(Outside, 50000, Ipv4Address.Parse("203.0.113.2"), 8080, TcpFlags.Syn, from: UpstreamMac));
        await Inject(gw, "blue-up", syn);
        var forwarded = await Until(() => dcn.TakeSent(), f => Untagged(f, WebTag) is { } u && Endpoints(u) is { Dport: 80 }, timeout);
        var inside = Untagged(forwarded, WebTag)!;
        Assert.Equal((Outside, (ushort)50000, Web, (ushort)80), Endpoints(inside));
        Assert.True(EthernetRepr.TryParse(inside, out var eth, out _));
        Assert.Equal((GatewayMac, WebMac), (eth.Source, eth.Destination));

        // web's default gateway: the MFE answers ARP for 10.1.0.1 with the gateway's MAC.
        dcn.Inject(Frames.ArpRequest(WebMac, Web, Router, WebTag));
        var reply = await Until(() => dcn.TakeSent(), f => Untagged(f, WebTag) is { } u && EthernetRepr.TryParse(u, out var e, out _) && e.EtherType == EtherType.Arp, timeout);
        Assert.True(ArpRepr.TryParse(Untagged(reply, WebTag)!.AsSpan(EthernetLayout.HeaderLength), out var arp, out _));
        Assert.Equal(new ArpRepr(ArpOperation.Reply, GatewayMac, Router, WebMac, Web), arp);

        // web -> outside through the gateway: leaves the uplink from the SNAT pool address.
        dcn.Inject(Frames.Tagged(WebMac, Web, GatewayMac, Outside, WebTag, port: 443, protocol: IpProtocol.Tcp));
        (Ipv4Address Src, ushort Sport, Ipv4Address Dst, ushort Dport)? snat = null;
        await Eventually.Holds(async () =>
        {
            snat ??= (await Sent(gw, "blue-up", within: 0)).Select(Endpoints).FirstOrDefault(e => e is { Dport: 443 });
            return snat is not null;
        }, timeout, "web's segment out of the uplink");
        Assert.Equal(Ipv4Address.Parse("203.0.113.10"), snat!.Value.Src);
        Assert.Equal(Outside, snat.Value.Dst);

        // The reply comes back un-NATed to web, tagged with web's tag.
        var back = To(GatewayMac, Gateways.GatewayFixture.Tcp(Outside, 443, snat.Value.Src, snat.Value.Sport, TcpFlags.Syn | TcpFlags.Ack, from: UpstreamMac));
        await Inject(gw, "blue-up", back);
        var answer = await Until(() => dcn.TakeSent(), f => Untagged(f, WebTag) is { } u && Endpoints(u) is { Sport: 443 }, timeout);
        Assert.Equal((Outside, (ushort)443, Web, (ushort)40000), Endpoints(Untagged(answer, WebTag)!));
        Assert.True(router.Counters.RxFrames >= 2 && router.Counters.TxFrames >= 2, $"router port rx {router.Counters.RxFrames} tx {router.Counters.TxFrames}");
        Assert.True(router.Counters.TotalDrops == dropsBefore,
            $"router port drops {string.Join(", ", router.Counters.DropsByName().Select(d => $"{d.Key}={d.Value}"))}, {dropsBefore} before the scripted traffic");
    }

    /// <summary>The untagged copy of a frame carrying <paramref name="tag"/>, or null.</summary>
    internal static byte[]? Untagged(byte[] frame, VlanId tag)
    {
        if (Frames.TagOf(frame) != tag.Value) return null;
        var untagged = new byte[frame.Length];
        return VlanTagging.TryCopyUntagged(frame, tag, untagged, out int length) ? untagged[..length] : null;
    }

    /// <summary>Polls <paramref name="take"/> until a frame matches <paramref name="match"/>.</summary>
    private static async Task<byte[]> Until(Func<List<byte[]>> take, Func<byte[], bool> match, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (take().FirstOrDefault(match) is { } found) return found;
            await Task.Delay(10);
        }
        throw new TimeoutException("no matching frame arrived");
    }
}
