using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.DataPlane.Io;

public sealed partial class PcapWriter
{
    private const int OuterHeadersLength = EthernetLayout.HeaderLength + Ipv4Layout.MinimumHeaderLength + UdpLayout.HeaderLength;

    /// <summary>Largest UDP payload an IPv4 datagram carries.</summary>
    private const int MaximumUdpPayload = Ipv4Layout.MaximumPacketLength - Ipv4Layout.MinimumHeaderLength - UdpLayout.HeaderLength;

    private byte[]? _underlayScratch;

    /// <summary>
    /// Appends one underlay datagram wrapped in synthesised Ethernet/IPv4/UDP headers that carry
    /// the real addresses and ports, so Wireshark decodes the encapsulation inside by its UDP
    /// port (6635 MPLS-in-UDP, 4789 VXLAN, 6081 Geneve). The Ethernet addresses are made up
    /// (locally administered, derived from the IPv4 addresses): the socket never saw them.
    /// </summary>
    /// <remarks>
    /// Whether an Ethernet PW carries a control word is signalled, not visible in the bytes, and
    /// Wireshark guesses; open such captures with the bottom-of-stack label (the PW label, or the
    /// flow label when RFC 6391 is on) bound to the PW dissector, e.g.
    /// <c>tshark -r underlay.pcap -d mpls.label==1001,pwethcw</c>. Sockets on other ports than the
    /// well-known ones need <c>-d udp.port==N,mpls</c> (or vxlan, geneve) as well.
    /// </remarks>
    public void WriteUdpDatagram(ReadOnlySpan<byte> payload, UnderlayEndpoint source, UnderlayEndpoint destination) =>
        WriteUdpDatagram(payload, source, destination, DateTime.UtcNow);

    public void WriteUdpDatagram(ReadOnlySpan<byte> payload, UnderlayEndpoint source, UnderlayEndpoint destination, DateTime timestampUtc)
    {
        payload = payload[..Math.Min(payload.Length, MaximumUdpPayload)];
        lock (_lock)
        {
            // Built inside out in one scratch buffer: the UDP checksum covers the payload.
            _underlayScratch ??= new byte[OuterHeadersLength + MaximumUdpPayload];
            Span<byte> frame = _underlayScratch.AsSpan(0, OuterHeadersLength + payload.Length);
            payload.CopyTo(frame[OuterHeadersLength..]);

            var udp = new UdpRepr(source.Port, destination.Port, payload.Length);
            var ip = new Ipv4Repr(source.Address, destination.Address, IpProtocol.Udp, udp.BufferLength) { DontFragment = true };
            var ethernet = new EthernetRepr(SyntheticMac(source.Address), SyntheticMac(destination.Address), EtherType.Ipv4);
            Span<byte> ipBytes = frame[EthernetLayout.HeaderLength..];
            udp.Emit(ipBytes[Ipv4Layout.MinimumHeaderLength..], source.Address, destination.Address);
            ip.Emit(ipBytes);
            ethernet.Emit(frame);

            WriteRecordLocked(frame, ReadOnlySpan<byte>.Empty, timestampUtc);
        }
    }

    /// <summary>02:00:a.b.c.d: locally administered, unicast, one per underlay address.</summary>
    private static MacAddress SyntheticMac(Ipv4Address address) => new(0x0200_0000_0000UL | address.ToUInt32());
}
