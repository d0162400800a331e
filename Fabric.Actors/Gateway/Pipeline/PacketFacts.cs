using Fabric.Actors.DataPlane.Flow;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.Gateway.Pipeline;

/// <summary>
/// What the stages see of a packet: its flow key as rewritten by the stages before, the TCP flags
/// and TTL (not in the key), and which side it came from. A value: stages never touch bytes.
/// </summary>
public struct PacketFacts
{
    public FlowKey Key;
    public TcpFlags TcpFlags;
    public byte Ttl;
    public PortRole Ingress;
    /// <summary>Set by the NAT stage on the way in when a SNAT binding was reversed (the inside started it).</summary>
    public bool ReversedSnat;
    /// <summary>A probe (the synthesized reply): stages decide but change no state.</summary>
    public bool Probe;
    /// <summary>Set by the NAT stage: the SNAT binding the packet was translated with (its connection keeps it alive).</summary>
    public NatBinding? Binding;

    public readonly bool IsIcmpEcho => Key.IpProtocol == IpProtocol.Icmp && Key.IcmpType is Icmpv4Type.EchoRequest or Icmpv4Type.EchoReply;

    /// <summary>The connection this packet belongs to, named from the inside (after DNAT/un-SNAT on the way in, before SNAT on the way out).</summary>
    public readonly ConnectionKey Connection(uint tenant)
    {
        var icmp = Key.IpProtocol == IpProtocol.Icmp;
        return Ingress == PortRole.Downlink
            ? new ConnectionKey(tenant, Key.IpProtocol, Key.SourceAddress, icmp ? Key.DestinationPort : Key.SourcePort, Key.DestinationAddress, icmp ? (ushort)0 : Key.DestinationPort)
            : new ConnectionKey(tenant, Key.IpProtocol, Key.DestinationAddress, Key.DestinationPort, Key.SourceAddress, icmp ? (ushort)0 : Key.SourcePort);
    }
}
