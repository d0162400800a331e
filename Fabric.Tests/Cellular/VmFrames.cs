using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Tests.Cellular;

/// <summary>Frames a VM sends (DHCP client, ARP, ping) and readers for what the bridge answers, built with the Wire Reprs.</summary>
internal static class VmFrames
{
    public static byte[] Dhcp(MacAddress vm, DhcpRepr message, Ipv4Address source, Ipv4Address destination, MacAddress? to = null)
    {
        var udp = new UdpRepr(UdpPorts.DhcpClient, UdpPorts.DhcpServer, message.BufferLength);
        var ip = new Ipv4Repr(source, destination, IpProtocol.Udp, udp.BufferLength);
        var ethernet = new EthernetRepr(vm, to ?? MacAddress.Broadcast, EtherType.Ipv4);
        var frame = new byte[ethernet.BufferLength + ip.BufferLength];
        var udpAt = ethernet.BufferLength + ip.HeaderLength;
        message.Emit(frame.AsSpan(udpAt + udp.HeaderLength));
        udp.Emit(frame.AsSpan(udpAt), source, destination);
        ip.Emit(frame.AsSpan(ethernet.BufferLength));
        ethernet.Emit(frame);
        return frame;
    }

    public static byte[] Discover(MacAddress vm, uint xid = 0x1234) =>
        Dhcp(vm, new DhcpRepr(DhcpMessageType.Discover, xid, vm) { Broadcast = true }, Ipv4Address.Any, Ipv4Address.Broadcast);

    /// <summary>A REQUEST in SELECTING state (after an offer): broadcast, option 50 and the server id.</summary>
    public static byte[] Select(MacAddress vm, Ipv4Address address, Ipv4Address server, uint xid = 0x1234) =>
        Dhcp(vm, new DhcpRepr(DhcpMessageType.Request, xid, vm) { RequestedAddress = address, ServerIdentifier = server }, Ipv4Address.Any, Ipv4Address.Broadcast);

    /// <summary>A REQUEST in RENEWING state: unicast from the bound address to the server, ciaddr set (RFC 2131 §4.3.2).</summary>
    public static byte[] Renew(MacAddress vm, MacAddress bridge, Ipv4Address bound, Ipv4Address server, uint xid = 0x5678) =>
        Dhcp(vm, new DhcpRepr(DhcpMessageType.Request, xid, vm) { ClientAddress = bound }, bound, server, bridge);

    public static byte[] ArpRequest(MacAddress vm, Ipv4Address sender, Ipv4Address target)
    {
        var arp = ArpRepr.Request(vm, sender, target);
        var ethernet = new EthernetRepr(vm, MacAddress.Broadcast, EtherType.Arp);
        var frame = new byte[EthernetLayout.MinimumFrameLength];
        arp.Emit(frame.AsSpan(ethernet.BufferLength));
        ethernet.Emit(frame);
        return frame;
    }

    /// <summary>An ICMP echo request as an IPv4 packet (what the modem side carries).</summary>
    public static byte[] EchoPacket(Ipv4Address source, Ipv4Address destination, ushort sequence = 1, Icmpv4Type type = Icmpv4Type.EchoRequest)
    {
        var data = new byte[32];
        var icmp = type == Icmpv4Type.EchoRequest ? Icmpv4Repr.EchoRequest(0x77, sequence, data.Length) : Icmpv4Repr.EchoReply(0x77, sequence, data.Length);
        var ip = new Ipv4Repr(source, destination, IpProtocol.Icmp, icmp.BufferLength);
        var packet = new byte[ip.BufferLength];
        icmp.Emit(packet.AsSpan(ip.HeaderLength));
        ip.Emit(packet);
        return packet;
    }

    public static byte[] Framed(MacAddress from, MacAddress to, byte[] packet)
    {
        var frame = new byte[Math.Max(EthernetLayout.HeaderLength + packet.Length, EthernetLayout.MinimumFrameLength)];
        new EthernetRepr(from, to, EtherType.Ipv4).Emit(frame);
        packet.CopyTo(frame.AsSpan(EthernetLayout.HeaderLength));
        return frame;
    }

    /// <summary>The IPv4 packet inside an Ethernet frame, without the frame's padding (empty if there is none).</summary>
    public static byte[] Unframe(byte[] frame) =>
        EthernetView.TryParse(frame, out var eth, out _) && eth.EtherType == EtherType.Ipv4 && Ipv4View.TryParse(eth.Payload, out var ip, out _)
            ? ip.Bytes.ToArray()
            : [];

    public static bool IsDhcp(byte[] frame, DhcpMessageType type) => TryDhcp(frame, out var dhcp) && dhcp.MessageType == type;

    public static bool TryDhcp(byte[] frame, out DhcpRepr dhcp)
    {
        dhcp = default;
        return EthernetView.TryParse(frame, out var eth, out _) && eth.EtherType == EtherType.Ipv4
            && Ipv4View.TryParse(eth.Payload, out var ip, out _) && ip.Protocol == IpProtocol.Udp
            && UdpView.TryParse(ip.Payload, out var udp, out _) && udp.SourcePort == UdpPorts.DhcpServer
            && udp.IsChecksumValid(ip.Source, ip.Destination) && ip.IsChecksumValid
            && DhcpRepr.TryParse(udp.Payload, out dhcp, out _);
    }

    public static bool IsEcho(byte[] packet, Ipv4Address source, Ipv4Address destination, Icmpv4Type type) =>
        Ipv4View.TryParse(packet, out var ip, out _) && ip.IsChecksumValid && ip.Source == source && ip.Destination == destination
        && ip.Protocol == IpProtocol.Icmp && Icmpv4View.TryParse(ip.Payload, out var icmp, out _) && icmp.Type == type && icmp.IsChecksumValid;
}
