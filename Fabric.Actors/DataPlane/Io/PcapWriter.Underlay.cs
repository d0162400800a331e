namespace Fabric.Actors.DataPlane.Io;

public sealed partial class PcapWriter
{
    /// <summary>
    /// Appends one underlay datagram wrapped in synthesised Ethernet/IPv4/UDP headers carrying the
    /// real addresses and ports, so the encapsulation inside decodes by its UDP port.
    /// </summary>
    public void WriteUdpDatagram(ReadOnlySpan<byte> payload, UnderlayEndpoint source, UnderlayEndpoint destination)
    {
        // Placeholder until the Wire Reprs (Ethernet, IPv4, UDP) land on dp-wire.
        throw new NotSupportedException("Underlay capture needs the Wire Reprs; not merged yet.");
    }
}
