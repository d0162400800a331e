using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;
using PacketDotNet;

namespace Fabric.Tests.Ghost;

/// <summary>Probe frames are ordinary, valid frames (checked by PacketDotNet), and carry their id through encapsulation.</summary>
public sealed class GhostProbeTests
{
    private static readonly MacAddress A = GhostProbe.EndpointMac(new Ipv4Address(10, 1, 0, 20));
    private static readonly MacAddress B = new(0x02_00_00_00_00_01UL);

    [Theory]
    [InlineData(IpProtocol.Icmp)]
    [InlineData(IpProtocol.Tcp)]
    [InlineData(IpProtocol.Udp)]
    public void An_ip_probe_is_a_valid_frame_that_PacketDotNet_parses_and_its_id_reads_back(IpProtocol protocol)
    {
        var buffer = new byte[256];
        var length = GhostProbe.BuildIp(buffer, 0xCAFE0042, protocol, A, B, new Ipv4Address(10, 1, 0, 20), new Ipv4Address(203, 0, 113, 80), 80);
        var frame = buffer[..length];

        var packet = PacketDotNet.Packet.ParsePacket(LinkLayers.Ethernet, frame);
        var ip = packet.Extract<IPv4Packet>();
        Assert.NotNull(ip);
        Assert.True(ip.ValidChecksum);
        Assert.Equal("203.0.113.80", ip.DestinationAddress.ToString());
        switch (protocol)
        {
            case IpProtocol.Tcp:
                var tcp = packet.Extract<TcpPacket>();
                Assert.True(tcp.Synchronize && !tcp.Acknowledgment);
                Assert.Equal(80, tcp.DestinationPort);
                Assert.True(tcp.ValidTcpChecksum);
                break;
            case IpProtocol.Udp:
                var udp = packet.Extract<UdpPacket>();
                Assert.Equal(80, udp.DestinationPort);
                Assert.True(udp.ValidUdpChecksum);
                break;
            default:
                Assert.Equal(IcmpV4TypeCode.EchoRequest, packet.Extract<IcmpV4Packet>().TypeCode);
                break;
        }
        Assert.True(GhostProbe.TryReadId(frame, out var id));
        Assert.Equal(0xCAFE0042u, id);
    }

    [Fact]
    public void The_id_is_found_inside_an_encapsulated_datagram_and_in_a_tagged_arp_probe()
    {
        var buffer = new byte[256];
        var length = GhostProbe.BuildIp(buffer, 7, IpProtocol.Udp, A, B, new Ipv4Address(198, 18, 0, 1), new Ipv4Address(198, 18, 0, 2), 9);
        var datagram = new byte[length + 8]; // an MPLS entry and a control word in front
        buffer.AsSpan(0, length).CopyTo(datagram.AsSpan(8));
        Assert.True(GhostProbe.TryReadId(datagram, out var id));
        Assert.Equal(7u, id);

        length = GhostProbe.BuildArp(buffer, 99, new Ipv4Address(10, 1, 0, 20), new Ipv4Address(10, 1, 0, 1), new VlanId(10));
        Assert.True(GhostProbe.TryReadId(buffer.AsSpan(0, length), out id));
        Assert.Equal(99u, id);
        var arp = PacketDotNet.Packet.ParsePacket(LinkLayers.Ethernet, buffer[..length]).Extract<ArpPacket>();
        Assert.Equal("10.1.0.1", arp.TargetProtocolAddress.ToString());
    }

    [Fact]
    public void Frames_without_a_marker_are_not_probes()
    {
        var frame = SimulatedPort.BuildUdpFrame(new TrafficProfile(), 0, 128);
        Assert.False(GhostProbe.TryReadId(frame, out _));
    }

    [Fact]
    public void A_ghost_port_answers_arp_for_the_world_but_not_for_an_address_another_element_on_its_segment_owns()
    {
        var set = new GhostPortSet(null);
        var gw = new Ipv4Address(192, 0, 2, 1);
        var mine = set.Open("a", "transit", 1, "a", answersArp: true, owned: [gw]);
        var other = set.Open("b", "transit", 2, "b", answersArp: true, owned: [new Ipv4Address(192, 0, 2, 2)]);
        var buffer = new byte[64];
        var request = new ArpRepr(Fabric.Actors.DataPlane.Wire.ArpOperation.Request, GhostProbe.EndpointMac(gw), gw, default, new Ipv4Address(192, 0, 2, 9));
        Span<byte> f = buffer;
        request.Emit(f[EthernetLayout.HeaderLength..]);
        new EthernetRepr(GhostProbe.EndpointMac(gw), MacAddress.Broadcast, EtherType.Arp).Emit(f);
        Send(mine, buffer);
        Assert.Equal(1, Receive(mine)); // the world answered for 192.0.2.9

        var owned = new ArpRepr(Fabric.Actors.DataPlane.Wire.ArpOperation.Request, GhostProbe.EndpointMac(gw), gw, default, new Ipv4Address(192, 0, 2, 2));
        owned.Emit(f[EthernetLayout.HeaderLength..]);
        Send(mine, buffer);
        Assert.Equal(0, Receive(mine)); // 192.0.2.2 is the other element's: it answers, not the world
        Assert.Equal(1, Receive(other)); // and it got the request over the shared segment
        mine.Dispose();
        other.Dispose();
    }

    [Fact]
    public void Ghost_and_live_ports_refuse_frames_of_the_other_network_and_count_them()
    {
        var ghost = new GhostPort("g", 1, "g", null, answersArp: false);
        var live = new SimulatedPort("live", 2);
        var batch = new PacketBatch(4);
        var frame = SimulatedPort.BuildUdpFrame(new TrafficProfile(), 0, 128);
        batch.TryAppend(frame);
        batch[0].IsGhost = false;
        Assert.Equal(0, ghost.SendBatch(batch));
        Assert.Equal(1, ghost.Counters.Drops(PortDropReason.PlaneMismatch));
        batch[0].IsGhost = true;
        Assert.Equal(0, live.SendBatch(batch));
        Assert.Equal(1, live.Counters.Drops(PortDropReason.PlaneMismatch));
        Assert.Equal(0, live.Counters.TxFrames);
        Assert.Equal(1, ghost.SendBatch(batch));
        Assert.Single(ghost.Delivered);
        ghost.Dispose();
        live.Dispose();
    }

    private static void Send(GhostPort port, byte[] frame)
    {
        var batch = new PacketBatch(4);
        batch.TryAppend(frame);
        batch[0].IsGhost = true;
        port.SendBatch(batch);
    }

    private static int Receive(GhostPort port)
    {
        var batch = new PacketBatch(8);
        var n = port.ReceiveBatch(batch, 0);
        for (var i = 0; i < batch.Count; i++) Assert.True(batch[i].IsGhost);
        return n;
    }
}
