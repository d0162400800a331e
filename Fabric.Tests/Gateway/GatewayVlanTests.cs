using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Gateway;
using Fabric.Messages.Intent;
using static Fabric.Tests.Gateways.GatewayFixture;

namespace Fabric.Tests.Gateways;

/// <summary>An uplink with <c>vlan</c>: frames leave it with that 802.1Q tag, and only frames with it are taken in.</summary>
public class GatewayVlanTests
{
    private static GatewayDatapath TaggedUplink(ushort vlan)
    {
        var blue = Tenant("blue", 1);
        var plan = Plan(GatewayOf(blue with { Uplink = blue.Uplink! with { Vlan = vlan } }, Tenant("red", 2)));
        var dp = new GatewayDatapath(plan, 4);
        dp.AddNeighbor(plan.Tenants[0].UplinkPort, UpstreamRouter, UpstreamMac);
        return dp;
    }

    private static byte[] Tag(byte[] frame, ushort vlan)
    {
        var tagged = new byte[frame.Length + 4];
        frame.AsSpan(0, 12).CopyTo(tagged);
        tagged[12] = 0x81;
        tagged[13] = 0x00;
        tagged[14] = (byte)(vlan >> 8);
        tagged[15] = (byte)vlan;
        frame.AsSpan(12).CopyTo(tagged.AsSpan(16));
        return tagged;
    }

    [Fact]
    public void Traffic_leaves_a_tagged_uplink_with_its_vlan_and_the_tagged_reply_comes_back_untagged_to_the_tenant()
    {
        var dp = TaggedUplink(10);
        var sink = new CaptureSink();
        var blue = dp.Plan.Tenants[0];
        dp.ProcessFrame(Udp(Host, 5000, Server, 53), blue.DownlinkPort, 0, sink);
        var (port, sent) = sink.Single();
        Assert.Equal(blue.UplinkPort, port);
        Assert.Equal(new byte[] { 0x81, 0x00, 0x00, 10, 0x08, 0x00 }, sent.AsSpan(12, 6).ToArray());
        var inner = new byte[sent.Length - 4];
        sent.AsSpan(0, 12).CopyTo(inner);
        sent.AsSpan(16).CopyTo(inner.AsSpan(12));
        Assert.True(Ipv4View.TryParse(inner.AsSpan(14), out var ip, out _));
        Assert.True(UdpView.TryParse(ip.Payload, out var udp, out _));

        dp.ProcessFrame(Tag(Udp(Server, 53, ip.Source, udp.SourcePort, from: UpstreamMac), 10), blue.UplinkPort, 1, sink);
        var (back, reply) = sink.Single();
        Assert.Equal(blue.DownlinkPort, back);
        Assert.Equal(new byte[] { 0x08, 0x00 }, reply.AsSpan(12, 2).ToArray());
    }

    [Fact]
    public void A_tagged_uplink_drops_untagged_frames_and_other_vlans_by_name()
    {
        var dp = TaggedUplink(10);
        var sink = new CaptureSink();
        var up = dp.Plan.Tenants[0].UplinkPort;
        dp.ProcessFrame(Udp(Server, 53, Ipv4Address.Parse("198.51.100.11"), 1024, from: UpstreamMac), up, 0, sink);
        dp.ProcessFrame(Tag(Udp(Server, 53, Ipv4Address.Parse("198.51.100.11"), 1024, from: UpstreamMac), 11), up, 1, sink);
        Assert.Empty(sink.Sent);
        Assert.Equal(2, dp.Counters.DropsByName()["wrong-vlan"]);
    }
}
