namespace Fabric.Actors.DataPlane.Wire;

/// <summary>
/// The world behind a ghost port as address resolution sees it: every ARP request is answered
/// with <see cref="GhostProbe.EndpointMac"/> of its target (RFC 826 reply), so ghost elements
/// resolve next hops without a live neighbour. Tagged requests are answered tagged.
/// </summary>
public static class GhostNeighbor
{
    /// <summary>True for an ARP request (plain or tagged); <paramref name="target"/> is the address asked for.</summary>
    public static bool IsArpRequest(ReadOnlySpan<byte> frame, out Ipv4Address target)
    {
        target = default;
        if (!EthernetView.TryParse(frame, out var eth, out _)) return false;
        var payload = eth.Payload;
        var type = eth.EtherType;
        if (type == EtherType.Vlan && payload.Length >= VlanLayout.TagLength)
        {
            type = (EtherType)BigEndian.U16(payload, VlanLayout.EtherType);
            payload = payload[VlanLayout.TagLength..];
        }
        if (type != EtherType.Arp || !ArpView.TryParse(payload, out var arp, out _) || arp.Operation != ArpOperation.Request) return false;
        target = arp.TargetProtocolAddress;
        return true;
    }

    public static bool TryAnswerArp(ReadOnlySpan<byte> frame, out byte[] reply)
    {
        reply = [];
        if (!EthernetView.TryParse(frame, out var eth, out _)) return false;
        var payload = eth.Payload;
        VlanId? vlan = null;
        var type = eth.EtherType;
        if (type == EtherType.Vlan && payload.Length >= VlanLayout.TagLength)
        {
            vlan = new VlanId((ushort)(BigEndian.U16(payload, VlanLayout.TagControl) & 0x0FFF));
            type = (EtherType)BigEndian.U16(payload, VlanLayout.EtherType);
            payload = payload[VlanLayout.TagLength..];
        }
        if (type != EtherType.Arp || !ArpRepr.TryParse(payload, out var request, out _) || request.Operation != ArpOperation.Request)
            return false;
        if (request.TargetProtocolAddress == request.SenderProtocolAddress) return false; // gratuitous
        var mac = GhostProbe.EndpointMac(request.TargetProtocolAddress);
        var answer = ArpRepr.ReplyTo(request, mac);
        Span<byte> plain = stackalloc byte[EthernetLayout.MinimumFrameLength];
        answer.Emit(plain[EthernetLayout.HeaderLength..]);
        new EthernetRepr(mac, request.SenderHardwareAddress, EtherType.Arp).Emit(plain);
        if (vlan is { } v)
        {
            reply = new byte[plain.Length + VlanLayout.TagLength];
            return VlanTagging.TryCopyTagged(plain, v, reply, out _);
        }
        reply = plain.ToArray();
        return true;
    }
}
