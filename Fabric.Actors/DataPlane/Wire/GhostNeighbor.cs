namespace Fabric.Actors.DataPlane.Wire;

/// <summary>
/// The world behind a ghost port as address resolution sees it: every ARP request is answered
/// with <see cref="GhostProbe.EndpointMac"/> of its target (RFC 826 reply), so ghost elements
/// resolve next hops without a live neighbour. Tagged requests are answered tagged.
/// </summary>
public static class GhostNeighbor
{
    /// <summary>The ARP packet of a plain or 802.1Q-tagged frame, with the tag if there is one.</summary>
    public static bool TryReadArp(ReadOnlySpan<byte> frame, out ArpRepr arp, out VlanId? vlan)
    {
        arp = default;
        vlan = null;
        if (!EthernetView.TryParse(frame, out var eth, out _)) return false;
        var payload = eth.Payload;
        var type = eth.EtherType;
        if (type == EtherType.Vlan && payload.Length >= VlanLayout.TagLength)
        {
            vlan = VlanId.FromTci(BigEndian.U16(payload, VlanLayout.TagControl));
            type = (EtherType)BigEndian.U16(payload, VlanLayout.EtherType);
            payload = payload[VlanLayout.TagLength..];
        }
        return type == EtherType.Arp && ArpRepr.TryParse(payload, out arp, out _);
    }

    /// <summary>True for an ARP request (plain or tagged); <paramref name="target"/> is the address asked for.</summary>
    public static bool IsArpRequest(ReadOnlySpan<byte> frame, out Ipv4Address target)
    {
        var request = TryReadArp(frame, out var arp, out _) && arp.Operation == ArpOperation.Request;
        target = request ? arp.TargetProtocolAddress : default;
        return request;
    }

    public static bool TryAnswerArp(ReadOnlySpan<byte> frame, out byte[] reply)
    {
        reply = [];
        if (!TryReadArp(frame, out var request, out var vlan) || request.Operation != ArpOperation.Request) return false;
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
