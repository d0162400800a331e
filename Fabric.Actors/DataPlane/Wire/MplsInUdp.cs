namespace Fabric.Actors.DataPlane.Wire;

// MPLS-in-UDP (RFC 7510, https://www.rfc-editor.org/rfc/rfc7510): an MPLS label stack as the
// payload of UDP destination port 6635.
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |    Source Port = Entropy      |        Dest Port = 6635       |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |           UDP Length          |         UDP Checksum          |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                                                               |
// ~                      MPLS Label Stack                         ~
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                      Message Body                             |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// §3: the source port is a per-flow entropy value so the underlay's ECMP spreads flows; to stay
// in the ephemeral range 49152..65535 it is a 14-bit hash under binary 11. Over IPv4 the UDP
// checksum may be zero.

public static class MplsInUdp
{
    public const ushort Port = UdpPorts.MplsInUdp;

    /// <summary>RFC 7510 §3: the top two bits 11, the low 14 bits taken from the flow hash.</summary>
    public static ushort EntropySourcePort(ulong flowHash) => (ushort)(0xC000 | (uint)(flowHash & 0x3FFF));
}

/// <summary>
/// A checked view of an MPLS-in-UDP datagram (the UDP header onwards): UDP well formed,
/// destination port 6635 (else <see cref="DropReason.UnexpectedPort"/>), label stack well formed.
/// </summary>
public readonly ref struct MplsInUdpView
{
    private MplsInUdpView(UdpView udp, MplsLabelStackView labels)
    {
        Udp = udp;
        Labels = labels;
    }

    public static bool TryParse(ReadOnlySpan<byte> udpDatagram, out MplsInUdpView packet, out DropReason reason)
    {
        packet = default;
        if (!UdpView.TryParse(udpDatagram, out var udp, out reason))
        {
            return false;
        }
        if (udp.DestinationPort != MplsInUdp.Port)
        {
            reason = DropReason.UnexpectedPort;
            return false;
        }
        if (!MplsLabelStackView.TryParse(udp.Payload, out var labels, out reason))
        {
            return false;
        }
        packet = new MplsInUdpView(udp, labels);
        return true;
    }

    public UdpView Udp { get; }
    public MplsLabelStackView Labels { get; }
    public ushort EntropyPort => Udp.SourcePort;
    /// <summary>The label stack and what follows it (for EthernetOverMplsView).</summary>
    public ReadOnlySpan<byte> Mpls => Udp.Payload;
    /// <summary>What follows the bottom of the stack.</summary>
    public ReadOnlySpan<byte> Payload => Labels.Payload;
}

/// <summary>
/// The value of the UDP header of an MPLS-in-UDP datagram. BufferLength counts the MPLS bytes
/// (label stack and body), which Emit expects in place behind the header.
/// </summary>
public readonly record struct MplsInUdpRepr(ushort EntropyPort, int MplsLength)
{
    public int BufferLength => UdpLayout.HeaderLength + MplsLength;

    public UdpRepr Udp => new(EntropyPort, MplsInUdp.Port, MplsLength);

    public static MplsInUdpRepr Parse(MplsInUdpView packet) => new(packet.EntropyPort, packet.Mpls.Length);

    /// <summary>Writes the UDP header with a zero checksum (RFC 7510 §3, IPv4 underlay).</summary>
    public void Emit(Span<byte> buffer) => Udp.EmitWithoutChecksum(buffer);

    /// <summary>Writes the UDP header with a full checksum, for underlays that want one.</summary>
    public void EmitWithChecksum(Span<byte> buffer, Ipv4Address source, Ipv4Address destination) =>
        Udp.Emit(buffer, source, destination);
}
