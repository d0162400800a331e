using System.Runtime.CompilerServices;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.DataPlane.Flow;

/// <summary>
/// Builds a <see cref="FlowKey"/> in one bounded pass over a frame, Ethernet → VLAN stack (≤ 2)
/// → MPLS stack (≤ 8, optional) → IPv4 or ARP → TCP/UDP/ICMP, the way Open vSwitch's
/// miniflow_extract does, using the Wire views for every byte it reads.
///
/// Outcomes:
/// * true: the key holds every layer that was present. Traffic we do not parse further (another
///   EtherType, a PW payload under MPLS, another IP protocol) stops the walk there, still true.
/// * false: a layer that was present is malformed (reason says which); the frame must be dropped.
///
/// Checksums are not verified: a forwarding element does not need them (the end host does).
/// All fragments (first included) carry no ports, so every piece of one datagram gets the same
/// key and hash and stays on one path; otherwise load sharing would reorder them.
/// </summary>
public static class FlowKeyExtractor
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryExtract(ReadOnlySpan<byte> frame, ushort ingressPort, uint tenant, out FlowKey key, out DropReason reason) =>
        TryExtract(frame, ingressPort, tenant, out key, out reason, out _);

    /// <summary>As <see cref="TryExtract(ReadOnlySpan{byte}, ushort, uint, out FlowKey, out DropReason)"/>, and the TCP flags of a TCP segment (none otherwise), read in the same pass.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryExtract(ReadOnlySpan<byte> frame, ushort ingressPort, uint tenant, out FlowKey key, out DropReason reason, out TcpFlags tcpFlags)
    {
        key = default;
        tcpFlags = TcpFlags.None;
        key.Tenant = tenant;
        key.IngressPort = ingressPort;
        if (!EthernetView.TryParse(frame, out var ethernet, out reason))
        {
            return false;
        }
        key.Destination = ethernet.Destination;
        key.Source = ethernet.Source;
        var type = ethernet.EtherType;
        var payload = ethernet.Payload;

        if (type.IsVlanTag())
        {
            if (!TryWalkVlans(ref key, ref type, ref payload, out reason))
            {
                return false;
            }
        }
        key.EtherType = type;

        if (type == EtherType.Ipv4)
        {
            return TryExtractIpv4(ref key, payload, out reason, ref tcpFlags);
        }
        if (type.IsMpls())
        {
            return TryExtractMpls(ref key, payload, out reason, ref tcpFlags);
        }
        if (type == EtherType.Arp)
        {
            return TryExtractArp(ref key, payload, out reason);
        }
        return true; // an EtherType we do not parse: an L2 flow
    }

    private static bool TryWalkVlans(ref FlowKey key, ref EtherType type, ref ReadOnlySpan<byte> payload, out DropReason reason)
    {
        for (var depth = 0; depth < VlanLayout.MaxStackDepth; depth++)
        {
            if (!VlanTagView.TryParse(payload, out var tag, out reason))
            {
                return false;
            }
            if (depth == 0)
            {
                key.OuterVlan = tag.VlanId;
                key.Flags |= FlowKeyFlags.Vlan;
            }
            else
            {
                key.InnerVlan = tag.VlanId;
                key.Flags |= FlowKeyFlags.QinQ;
            }
            type = tag.EtherType;
            payload = tag.Payload;
            if (!type.IsVlanTag())
            {
                return true;
            }
        }
        reason = DropReason.VlanStackTooDeep;
        return false;
    }

    private static bool TryExtractMpls(ref FlowKey key, ReadOnlySpan<byte> payload, out DropReason reason, ref TcpFlags tcpFlags)
    {
        if (!MplsLabelStackView.TryParse(payload, out var stack, out reason))
        {
            return false;
        }
        key.MplsLabel = stack.Top.Label;
        key.Flags |= FlowKeyFlags.Mpls;
        var inner = stack.Payload;
        // Nothing in the stack names the payload; IPv4 is recognised by its first nibble, as LSRs
        // do for ECMP. A PW payload starts with a control word (nibble 0/1) and is left alone.
        if (inner.Length > 0 && inner[0] >> 4 == 4)
        {
            return TryExtractIpv4(ref key, inner, out reason, ref tcpFlags);
        }
        return true;
    }

    private static bool TryExtractArp(ref FlowKey key, ReadOnlySpan<byte> payload, out DropReason reason)
    {
        if (!ArpView.TryParse(payload, out var arp, out reason))
        {
            if (reason != DropReason.UnsupportedArpFormat)
            {
                return false;
            }
            // ARP for another hardware or protocol is well formed: keep the L2 flow.
            reason = DropReason.None;
            return true;
        }
        key.SourceAddress = arp.SenderProtocolAddress;
        key.DestinationAddress = arp.TargetProtocolAddress;
        key.IpProtocol = (IpProtocol)(byte)arp.Operation;
        key.Flags |= FlowKeyFlags.Arp;
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryExtractIpv4(ref FlowKey key, ReadOnlySpan<byte> payload, out DropReason reason, ref TcpFlags tcpFlags)
    {
        if (!Ipv4View.TryParse(payload, out var ip, out reason))
        {
            return false;
        }
        key.SourceAddress = ip.Source;
        key.DestinationAddress = ip.Destination;
        var protocol = ip.Protocol;
        key.IpProtocol = protocol;
        key.Flags |= FlowKeyFlags.Ipv4;
        if (ip.IsFragment)
        {
            key.Flags |= FlowKeyFlags.Fragment;
            return true;
        }
        var l4 = ip.Payload;
        switch (protocol)
        {
            case IpProtocol.Tcp:
                if (!TcpView.TryParse(l4, out var tcp, out reason))
                {
                    return false;
                }
                key.SourcePort = tcp.SourcePort;
                key.DestinationPort = tcp.DestinationPort;
                tcpFlags = tcp.Flags;
                break;
            case IpProtocol.Udp:
                if (!UdpView.TryParse(l4, out var udp, out reason))
                {
                    return false;
                }
                key.SourcePort = udp.SourcePort;
                key.DestinationPort = udp.DestinationPort;
                break;
            case IpProtocol.Icmp:
                if (!Icmpv4View.TryParse(l4, out var icmp, out reason))
                {
                    return false;
                }
                var icmpType = icmp.Type;
                key.SourcePort = (ushort)(((byte)icmpType << 8) | icmp.Code);
                key.DestinationPort = icmpType.HasIdentifier() ? icmp.Identifier : (ushort)0;
                break;
            default:
                return true; // another IP protocol: an L3 flow
        }
        key.Flags |= FlowKeyFlags.Transport;
        return true;
    }
}
