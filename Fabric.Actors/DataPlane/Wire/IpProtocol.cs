namespace Fabric.Actors.DataPlane.Wire;

/// <summary>
/// IP protocol numbers we name (https://www.iana.org/assignments/protocol-numbers).
/// Any other value is kept as is.
/// </summary>
public enum IpProtocol : byte
{
    Icmp = 1,
    Igmp = 2,
    Tcp = 6,
    Udp = 17,
    Gre = 47,
    Icmpv6 = 58,
    Sctp = 132,
    /// <summary>MPLS-in-IP (RFC 4023).</summary>
    MplsInIp = 137,
}
