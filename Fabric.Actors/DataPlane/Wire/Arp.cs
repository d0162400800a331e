using System.Buffers.Binary;

namespace Fabric.Actors.DataPlane.Wire;

// ARP for IPv4 over Ethernet (RFC 826, https://www.rfc-editor.org/rfc/rfc826).
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |      Hardware type (1)        |     Protocol type (0x0800)    |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |  HW len (6)   | Proto len (4) |          Operation            |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |             Sender hardware address (6)                       |
// +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                               |  Sender protocol address (4)  |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                               |                               |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
// |             Target hardware address (6)                       |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                Target protocol address (4)                    |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

/// <summary>Field offsets of an Ethernet/IPv4 ARP packet.</summary>
public static class ArpLayout
{
    public const int HardwareType = 0;
    public const int ProtocolType = 2;
    public const int HardwareLength = 4;
    public const int ProtocolLength = 5;
    public const int Operation = 6;
    public const int SenderHardwareAddress = 8;
    public const int SenderProtocolAddress = 14;
    public const int TargetHardwareAddress = 18;
    public const int TargetProtocolAddress = 24;
    public const int PacketLength = 28;

    /// <summary>ARP hardware type of Ethernet (IANA "Hardware Types").</summary>
    public const ushort HardwareTypeEthernet = 1;
}

/// <summary>ARP operation codes (RFC 826, RFC 5494). Unknown values are kept.</summary>
public enum ArpOperation : ushort
{
    Request = 1,
    Reply = 2,
}

/// <summary>
/// A checked view of an ARP packet. Only Ethernet/IPv4 ARP is accepted; anything else is
/// well-formed but unsupported (<see cref="DropReason.UnsupportedArpFormat"/>).
/// </summary>
public readonly ref struct ArpView
{
    private readonly ReadOnlySpan<byte> _buffer;

    private ArpView(ReadOnlySpan<byte> buffer) => _buffer = buffer;

    public static bool TryParse(ReadOnlySpan<byte> buffer, out ArpView packet, out DropReason reason)
    {
        packet = default;
        if (buffer.Length < ArpLayout.PacketLength)
        {
            reason = DropReason.Truncated;
            return false;
        }
        if (BigEndian.U16(buffer, ArpLayout.HardwareType) != ArpLayout.HardwareTypeEthernet
            || BigEndian.U16(buffer, ArpLayout.ProtocolType) != (ushort)EtherType.Ipv4
            || buffer[ArpLayout.HardwareLength] != MacAddress.Length
            || buffer[ArpLayout.ProtocolLength] != Ipv4Address.Length)
        {
            reason = DropReason.UnsupportedArpFormat;
            return false;
        }
        // Trailing Ethernet padding is not part of the packet.
        packet = new ArpView(buffer[..ArpLayout.PacketLength]);
        reason = DropReason.None;
        return true;
    }

    public ArpOperation Operation => (ArpOperation)BigEndian.U16(_buffer, ArpLayout.Operation);
    public MacAddress SenderHardwareAddress => MacAddress.ReadUnchecked(_buffer, ArpLayout.SenderHardwareAddress);
    public Ipv4Address SenderProtocolAddress => Ipv4Address.ReadUnchecked(_buffer, ArpLayout.SenderProtocolAddress);
    public MacAddress TargetHardwareAddress => MacAddress.ReadUnchecked(_buffer, ArpLayout.TargetHardwareAddress);
    public Ipv4Address TargetProtocolAddress => Ipv4Address.ReadUnchecked(_buffer, ArpLayout.TargetProtocolAddress);
    public ReadOnlySpan<byte> Bytes => _buffer;
}

/// <summary>The value of an Ethernet/IPv4 ARP packet.</summary>
public readonly record struct ArpRepr(
    ArpOperation Operation,
    MacAddress SenderHardwareAddress,
    Ipv4Address SenderProtocolAddress,
    MacAddress TargetHardwareAddress,
    Ipv4Address TargetProtocolAddress)
{
    public int BufferLength => ArpLayout.PacketLength;

    /// <summary>"Who has <paramref name="target"/>? Tell <paramref name="senderIp"/>." (target MAC unknown: zero).</summary>
    public static ArpRepr Request(MacAddress senderMac, Ipv4Address senderIp, Ipv4Address target) =>
        new(ArpOperation.Request, senderMac, senderIp, MacAddress.Zero, target);

    /// <summary>The reply that answers <paramref name="request"/> with <paramref name="ownMac"/>.</summary>
    public static ArpRepr ReplyTo(in ArpRepr request, MacAddress ownMac) =>
        new(ArpOperation.Reply, ownMac, request.TargetProtocolAddress, request.SenderHardwareAddress, request.SenderProtocolAddress);

    public static ArpRepr Parse(ArpView packet) => new(
        packet.Operation,
        packet.SenderHardwareAddress,
        packet.SenderProtocolAddress,
        packet.TargetHardwareAddress,
        packet.TargetProtocolAddress);

    public static bool TryParse(ReadOnlySpan<byte> buffer, out ArpRepr repr, out DropReason reason)
    {
        if (!ArpView.TryParse(buffer, out var packet, out reason))
        {
            repr = default;
            return false;
        }
        repr = Parse(packet);
        return true;
    }

    public void Emit(Span<byte> buffer)
    {
        if (buffer.Length < ArpLayout.PacketLength)
        {
            throw new ArgumentException("Buffer shorter than an ARP packet", nameof(buffer));
        }
        BinaryPrimitives.WriteUInt16BigEndian(buffer[ArpLayout.HardwareType..], ArpLayout.HardwareTypeEthernet);
        BinaryPrimitives.WriteUInt16BigEndian(buffer[ArpLayout.ProtocolType..], (ushort)EtherType.Ipv4);
        buffer[ArpLayout.HardwareLength] = MacAddress.Length;
        buffer[ArpLayout.ProtocolLength] = Ipv4Address.Length;
        BinaryPrimitives.WriteUInt16BigEndian(buffer[ArpLayout.Operation..], (ushort)Operation);
        SenderHardwareAddress.WriteTo(buffer[ArpLayout.SenderHardwareAddress..]);
        SenderProtocolAddress.WriteTo(buffer[ArpLayout.SenderProtocolAddress..]);
        TargetHardwareAddress.WriteTo(buffer[ArpLayout.TargetHardwareAddress..]);
        TargetProtocolAddress.WriteTo(buffer[ArpLayout.TargetProtocolAddress..]);
    }
}

/// <summary>
/// A whole ARP frame: Ethernet header, an optional 802.1Q tag, the packet, and zero padding up
/// to the 60-byte minimum frame (64 with the tag), as an answering switch sends it.
/// </summary>
public static class ArpFrame
{
    /// <summary>Writes the frame into <paramref name="buffer"/>; false (nothing written) when it does not fit.</summary>
    public static bool TryEmit(in ArpRepr arp, MacAddress source, MacAddress destination, VlanId? vlan, Span<byte> buffer, out int length)
    {
        int header = EthernetLayout.HeaderLength + (vlan is null ? 0 : VlanLayout.TagLength);
        length = Math.Max(header + ArpLayout.PacketLength, EthernetLayout.MinimumFrameLength + (vlan is null ? 0 : VlanLayout.TagLength));
        if (buffer.Length < length)
        {
            length = 0;
            return false;
        }

        Span<byte> frame = buffer[..length];
        frame.Clear();
        if (vlan is { } id)
        {
            new EthernetRepr(source, destination, EtherType.Vlan).Emit(frame);
            new VlanTagRepr(id, EtherType.Arp).Emit(frame[EthernetLayout.HeaderLength..]);
        }
        else
        {
            new EthernetRepr(source, destination, EtherType.Arp).Emit(frame);
        }

        arp.Emit(frame[header..]);
        return true;
    }
}
