using System.Buffers.Binary;

namespace Fabric.Actors.DataPlane.Wire;

/// <summary>
/// Diagnostic frames of the ghost network (ghost routing). A probe is an ordinary frame — ARP
/// request, ICMP echo request, TCP SYN or UDP datagram — that carries its probe id so every
/// element it crosses can say "probe N passed here", whatever encapsulation (MPLS, VLAN) or
/// rewrite (NAT, TTL, MACs) it went through:
/// <code>
///  IP probes: the first 8 bytes of the L4 payload (after the ICMP/UDP/TCP header)
///   0                   1                   2                   3
///  +-------+-------+-------+-------+-------+-------+-------+-------+
///  |  'F'  |  'G'  |  'P'  |  'R'  |        probe id (u32, BE)     |
///  +-------+-------+-------+-------+-------+-------+-------+-------+
///  ARP probes: sender hardware address 02:FB:id (locally administered, id in the low 32 bits)
/// </code>
/// A SYN with data is legal TCP (RFC 9293 §3.10.7.2 queues it); NAT rewrites headers only, so
/// the marker survives. Readers scan a bounded window for the marker, so a probe is recognised
/// inside an MPLS-in-UDP datagram as well as on a port.
/// </summary>
public static class GhostProbe
{
    /// <summary>"FGPR".</summary>
    public const uint Magic = 0x46475052;
    public const int MarkerLength = 8;
    /// <summary>How far into a frame or datagram the marker is looked for.</summary>
    public const int ScanWindow = 192;
    private const ushort ArpMacPrefix = 0x02FB;

    /// <summary>The MAC a probe endpoint has: 02:FB + its IPv4 address (a stable, locally administered address).</summary>
    public static MacAddress EndpointMac(Ipv4Address address) => new(((ulong)ArpMacPrefix << 32) | address.ToUInt32());

    /// <summary>
    /// Builds an IP probe: <paramref name="protocol"/> ICMP (echo request), TCP (SYN) or UDP from
    /// (<paramref name="sourceMac"/>, <paramref name="source"/>) to <paramref name="destinationMac"/>
    /// and <paramref name="destination"/>:<paramref name="port"/>, optionally 802.1Q-tagged. Returns the length.
    /// </summary>
    public static int BuildIp(Span<byte> buffer, uint id, IpProtocol protocol, MacAddress sourceMac, MacAddress destinationMac,
        Ipv4Address source, Ipv4Address destination, ushort port, byte ttl = Ipv4Repr.DefaultTtl, VlanId? vlan = null)
    {
        Span<byte> frame = stackalloc byte[EthernetLayout.HeaderLength + Ipv4Layout.MinimumHeaderLength + 64];
        var l4At = EthernetLayout.HeaderLength + Ipv4Layout.MinimumHeaderLength;
        int l4Length;
        var sourcePort = (ushort)(32768 + id % 28000);
        switch (protocol)
        {
            case IpProtocol.Icmp:
            {
                var icmp = Icmpv4Repr.EchoRequest((ushort)id, (ushort)(id >> 16), MarkerLength);
                WriteMarker(frame[(l4At + icmp.HeaderLength)..], id);
                icmp.Emit(frame[l4At..]);
                l4Length = icmp.BufferLength;
                break;
            }
            case IpProtocol.Tcp:
            {
                var tcp = new TcpRepr(sourcePort, port, id * 2654435761u, 0, TcpFlags.Syn, 64240, MarkerLength) { MaxSegmentSize = 1460 };
                WriteMarker(frame[(l4At + tcp.HeaderLength)..], id);
                tcp.Emit(frame[l4At..], source, destination);
                l4Length = tcp.BufferLength;
                break;
            }
            case IpProtocol.Udp:
            {
                var udp = new UdpRepr(sourcePort, port, MarkerLength);
                WriteMarker(frame[(l4At + UdpLayout.HeaderLength)..], id);
                udp.Emit(frame[l4At..], source, destination);
                l4Length = udp.BufferLength;
                break;
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(protocol), protocol, "probes are ICMP, TCP or UDP");
        }
        var ip = new Ipv4Repr(source, destination, protocol, l4Length, ttl) { Identification = (ushort)id, DontFragment = true };
        ip.Emit(frame[EthernetLayout.HeaderLength..]);
        new EthernetRepr(sourceMac, destinationMac, EtherType.Ipv4).Emit(frame);
        return Finish(frame[..Math.Max(EthernetLayout.MinimumFrameLength, l4At + l4Length)], buffer, vlan);
    }

    /// <summary>An ARP request for <paramref name="target"/> whose sender MAC carries the probe id.</summary>
    public static int BuildArp(Span<byte> buffer, uint id, Ipv4Address sender, Ipv4Address target, VlanId? vlan = null)
    {
        Span<byte> frame = stackalloc byte[EthernetLayout.MinimumFrameLength];
        var mac = new MacAddress(((ulong)ArpMacPrefix << 32) | id);
        var arp = ArpRepr.Request(mac, sender, target);
        arp.Emit(frame[EthernetLayout.HeaderLength..]);
        new EthernetRepr(mac, MacAddress.Broadcast, EtherType.Arp).Emit(frame);
        return Finish(frame, buffer, vlan);
    }

    /// <summary>Finds the probe id in a frame or an encapsulated datagram; false for other traffic.</summary>
    public static bool TryReadId(ReadOnlySpan<byte> bytes, out uint id)
    {
        var window = bytes[..Math.Min(bytes.Length, ScanWindow)];
        Span<byte> magic = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(magic, Magic);
        var at = window.IndexOf(magic);
        if (at >= 0 && at + MarkerLength <= window.Length)
        {
            id = BinaryPrimitives.ReadUInt32BigEndian(window[(at + 4)..]);
            return true;
        }
        // An ARP probe: the ARP payload's sender MAC (plain or tagged frame).
        if (GhostNeighbor.TryReadArp(bytes, out var arp, out _) && (arp.SenderHardwareAddress.ToUInt64() >> 32) == ArpMacPrefix)
        {
            id = (uint)arp.SenderHardwareAddress.ToUInt64();
            return true;
        }
        id = 0;
        return false;
    }

    /// <summary>The VLAN id of a frame's outer 802.1Q tag, or null when it is untagged.</summary>
    public static ushort? OuterVlan(ReadOnlySpan<byte> frame) =>
        frame.Length >= EthernetLayout.HeaderLength + VlanLayout.TagLength && (EtherType)BigEndian.U16(frame, EthernetLayout.EtherType) == EtherType.Vlan
            ? (ushort)(BigEndian.U16(frame, EthernetLayout.HeaderLength + VlanLayout.TagControl) & 0x0FFF)
            : null;

    private static void WriteMarker(Span<byte> at, uint id)
    {
        BinaryPrimitives.WriteUInt32BigEndian(at, Magic);
        BinaryPrimitives.WriteUInt32BigEndian(at[4..], id);
    }

    private static int Finish(ReadOnlySpan<byte> frame, Span<byte> buffer, VlanId? vlan)
    {
        if (vlan is { } v)
        {
            return VlanTagging.TryCopyTagged(frame, v, buffer, out var length) ? length : throw new ArgumentException("buffer too small for the probe");
        }
        frame.CopyTo(buffer);
        return frame.Length;
    }
}
