using Fabric.Actors.DataPlane.Host;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Tests.DataPlane.Host;

public class L3HostTests
{
    private static readonly MacAddress HostMac = MacAddress.Parse("02:fa:b0:00:00:02");
    private static readonly Ipv4Address HostIp = Ipv4Address.Parse("10.213.0.2");
    private static readonly MacAddress PeerMac = MacAddress.Parse("02:fa:b0:00:00:01");
    private static readonly Ipv4Address PeerIp = Ipv4Address.Parse("10.213.0.1");

    private static byte[] ArpRequest(Ipv4Address target)
    {
        var arp = ArpRepr.Request(PeerMac, PeerIp, target);
        var eth = new EthernetRepr(PeerMac, MacAddress.Broadcast, EtherType.Arp);
        var frame = new byte[eth.BufferLength + arp.BufferLength];
        eth.Emit(frame);
        arp.Emit(frame.AsSpan(eth.BufferLength));
        return frame;
    }

    private static byte[] EchoRequest(Ipv4Address destination, ushort id, ushort seq, byte[] data, MacAddress? dstMac = null)
    {
        var icmp = Icmpv4Repr.EchoRequest(id, seq, data.Length);
        var ip = new Ipv4Repr(PeerIp, destination, IpProtocol.Icmp, icmp.BufferLength);
        var eth = new EthernetRepr(PeerMac, dstMac ?? HostMac, EtherType.Ipv4);
        var frame = new byte[eth.BufferLength + ip.BufferLength];
        data.CopyTo(frame, eth.BufferLength + ip.HeaderLength + icmp.HeaderLength);
        icmp.Emit(frame.AsSpan(eth.BufferLength + ip.HeaderLength));
        ip.Emit(frame.AsSpan(eth.BufferLength));
        eth.Emit(frame);
        return frame;
    }

    [Fact]
    public void An_arp_request_for_the_host_address_gets_a_reply_with_the_host_mac()
    {
        var host = new L3Host(HostMac, HostIp);
        var replies = new PacketBatch(capacity: 4);

        Assert.True(host.Process(ArpRequest(HostIp), replies));

        Assert.True(EthernetView.TryParse(replies.Frame(0), out var eth, out _));
        Assert.Equal(PeerMac, eth.Destination);
        Assert.Equal(HostMac, eth.Source);
        Assert.True(ArpRepr.TryParse(eth.Payload, out var arp, out _));
        Assert.Equal(new ArpRepr(ArpOperation.Reply, HostMac, HostIp, PeerMac, PeerIp), arp);
        Assert.Equal(EthernetLayout.MinimumFrameLength, replies[0].Length);
        Assert.Equal(1, host.ArpRepliesSent);
    }

    [Fact]
    public void An_arp_request_for_another_address_is_ignored()
    {
        var host = new L3Host(HostMac, HostIp);
        var replies = new PacketBatch(capacity: 4);

        Assert.False(host.Process(ArpRequest(Ipv4Address.Parse("10.213.0.3")), replies));
        Assert.Equal(0, replies.Count);
        Assert.Equal(1, host.Ignored(L3HostIgnoreReason.ArpNotAsked));
    }

    [Fact]
    public void An_echo_request_gets_an_echo_reply_with_the_same_id_sequence_and_data()
    {
        var host = new L3Host(HostMac, HostIp);
        var replies = new PacketBatch(capacity: 4);
        byte[] data = Enumerable.Range(0, 56).Select(i => (byte)i).ToArray();

        Assert.True(host.Process(EchoRequest(HostIp, 0x1234, 7, data), replies));

        Assert.True(EthernetView.TryParse(replies.Frame(0), out var eth, out _));
        Assert.Equal(PeerMac, eth.Destination);
        Assert.True(Ipv4Repr.TryParse(eth.Payload, out var ip, out _)); // verifies the header checksum
        Assert.Equal(HostIp, ip.Source);
        Assert.Equal(PeerIp, ip.Destination);
        Assert.True(Ipv4View.TryParse(eth.Payload, out var ipView, out _));
        Assert.True(Icmpv4Repr.TryParse(ipView.Payload, out var icmp, out _)); // verifies the ICMP checksum
        Assert.Equal(Icmpv4Repr.EchoReply(0x1234, 7, data.Length), icmp);
        Assert.True(Icmpv4View.TryParse(ipView.Payload, out var icmpView, out _));
        Assert.Equal(data, icmpView.Data.ToArray());

        // Cross-check with an independent parser.
        var parsed = PacketDotNet.Packet.ParsePacket(PacketDotNet.LinkLayers.Ethernet, replies.Frame(0).ToArray());
        var icmpPacket = parsed.Extract<PacketDotNet.IcmpV4Packet>();
        Assert.NotNull(icmpPacket);
        Assert.Equal(PacketDotNet.IcmpV4TypeCode.EchoReply, icmpPacket.TypeCode);
        Assert.True(icmpPacket.ValidIcmpChecksum);
    }

    [Fact]
    public void An_echo_request_to_another_address_or_mac_is_not_answered()
    {
        var host = new L3Host(HostMac, HostIp);
        var replies = new PacketBatch(capacity: 4);

        Assert.False(host.Process(EchoRequest(Ipv4Address.Parse("10.213.0.9"), 1, 1, new byte[8]), replies));
        Assert.False(host.Process(EchoRequest(HostIp, 1, 1, new byte[8], MacAddress.Parse("02:00:00:00:00:99")), replies));
        Assert.Equal(0, replies.Count);
        Assert.Equal(2, host.Ignored(L3HostIgnoreReason.NotForUs));
    }

    [Fact]
    public void A_truncated_frame_is_counted_as_malformed_with_its_wire_reason()
    {
        var host = new L3Host(HostMac, HostIp);
        var replies = new PacketBatch(capacity: 4);
        byte[] frame = EchoRequest(HostIp, 1, 1, new byte[8]);

        Assert.False(host.Process(frame.AsSpan(0, 20), replies));
        Assert.Equal(1, host.Ignored(L3HostIgnoreReason.Malformed));
        Assert.Equal(1, host.MalformedFrames(DropReason.Truncated));
    }

    [Fact]
    public void A_batch_of_requests_is_answered_in_one_reply_batch()
    {
        var host = new L3Host(HostMac, HostIp);
        var received = new PacketBatch(capacity: 8);
        received.TryAppend(ArpRequest(HostIp));
        received.TryAppend(EchoRequest(HostIp, 1, 1, new byte[8]));
        received.TryAppend(EchoRequest(HostIp, 1, 2, new byte[8]));
        received.TryAppend(ArpRequest(PeerIp));
        var replies = new PacketBatch(capacity: 8);

        Assert.Equal(3, host.Process(received, replies));
        Assert.Equal(3, replies.Count);
    }
}
