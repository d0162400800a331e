using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.Cellular.Bridge;

/// <summary>
/// Lease terms the bridge's DHCP server gives its one VM. The cellular address is a /32 with a
/// link-local gateway (<see cref="Gateway"/>, answered by the bridge for ARP): Debian's
/// dhclient-script adds a host route to the router when the mask is 255.255.255.255, so the
/// gateway never has to share a subnet with an address the carrier may change at any time.
/// A short renewal time (T1) is what moves the VM quickly: ISC dhclient unicasts a REQUEST
/// every T1, a changed address answers it with a NAK, and the NAK sends dhclient straight to
/// DISCOVER (dhclient.c: dhcpnak → EXPIRE, PREINIT, state_init) with no link change.
/// </summary>
public sealed record LeaseTerms
{
    /// <summary>169.254.0.1: link-local, never a carrier address.</summary>
    public static readonly Ipv4Address DefaultGateway = new(169, 254, 0, 1);

    public Ipv4Address Gateway { get; init; } = DefaultGateway;

    /// <summary>Lease time in seconds. The VM's address lives this long in the kernel (valid_lft) without a renewal.</summary>
    public uint LeaseSeconds { get; init; } = 60;

    /// <summary>T1 in seconds: how often the VM renews, i.e. the longest it can sit on an old address.</summary>
    public uint RenewSeconds { get; init; } = 1;

    /// <summary>T2 in seconds (below the lease time).</summary>
    public uint RebindSeconds { get; init; } = 50;
}

/// <summary>What the DHCP server did with a message.</summary>
public enum DhcpDecision
{
    Offered,
    Acknowledged,
    Refused,

    /// <summary>No cellular address (no bearer): silence, so a bound VM keeps its lease while the modem re-dials.</summary>
    NoAddress,

    /// <summary>For another server, a RELEASE/DECLINE, or a type a server does not answer.</summary>
    Ignored,
}

/// <summary>
/// The DHCP server of one VM mapping (RFC 2131 §4.3), as a pure function: the VM's MAC was
/// checked by the caller; the only address it hands out is the bridge's current cellular address.
/// </summary>
public static class BridgeDhcp
{
    public static DhcpDecision Answer(in DhcpRepr request, Ipv4Address? address, LeaseTerms terms, out DhcpRepr reply)
    {
        reply = default;
        if (request.ServerIdentifier is { } server && server != terms.Gateway) return DhcpDecision.Ignored;
        switch (request.MessageType)
        {
            case DhcpMessageType.Discover:
                if (address is not { } offered) return DhcpDecision.NoAddress;
                reply = Lease(DhcpMessageType.Offer, request, offered, terms);
                return DhcpDecision.Offered;
            case DhcpMessageType.Request:
                if (address is not { } current) return DhcpDecision.NoAddress;
                var asked = request.RequestedAddress ?? request.ClientAddress;
                if (asked == current)
                {
                    reply = Lease(DhcpMessageType.Ack, request, current, terms);
                    return DhcpDecision.Acknowledged;
                }
                // The cellular address moved (or the VM remembers an old lease): NAK, and the
                // client starts over with DISCOVER and gets the current one.
                reply = new DhcpRepr(DhcpMessageType.Nak, request.TransactionId, request.ClientHardwareAddress)
                {
                    ServerIdentifier = terms.Gateway,
                    Broadcast = true,
                };
                return DhcpDecision.Refused;
            default:
                return DhcpDecision.Ignored;
        }
    }

    private static DhcpRepr Lease(DhcpMessageType type, in DhcpRepr request, Ipv4Address address, LeaseTerms terms) =>
        new(type, request.TransactionId, request.ClientHardwareAddress)
        {
            Broadcast = request.Broadcast,
            YourAddress = address,
            ServerIdentifier = terms.Gateway,
            SubnetMask = Ipv4Address.Broadcast,
            Routers = new DhcpAddressList([terms.Gateway]),
            LeaseTime = terms.LeaseSeconds,
            RenewalTime = terms.RenewSeconds,
            RebindingTime = terms.RebindSeconds,
        };

    /// <summary>
    /// Appends the reply as a frame from the bridge to the VM: unicast to the client's address
    /// when it is renewing from a bound address and the reply is an ACK, broadcast otherwise
    /// (RFC 2131 §4.1); Ethernet always to the VM's MAC. False when the batch has no room.
    /// </summary>
    public static bool AppendFrame(PacketBatch batch, in DhcpRepr reply, MacAddress bridgeMac, Ipv4Address gateway, Ipv4Address clientAddress)
    {
        var destination = reply.MessageType == DhcpMessageType.Ack && !clientAddress.IsUnspecified ? clientAddress : Ipv4Address.Broadcast;
        var udp = new UdpRepr(UdpPorts.DhcpServer, UdpPorts.DhcpClient, reply.BufferLength);
        var ip = new Ipv4Repr(gateway, destination, IpProtocol.Udp, udp.BufferLength);
        var ethernet = new EthernetRepr(bridgeMac, reply.ClientHardwareAddress, EtherType.Ipv4);
        var length = ethernet.BufferLength + ip.BufferLength;
        var room = batch.NextFrameRoom();
        if (room.Length < length) return false;
        var frame = room[..length];
        var udpAt = ethernet.BufferLength + ip.HeaderLength;
        reply.Emit(frame[(udpAt + udp.HeaderLength)..]);
        udp.Emit(frame[udpAt..], gateway, destination);
        ip.Emit(frame[ethernet.BufferLength..]);
        ethernet.Emit(frame);
        batch.Commit(length);
        return true;
    }
}
