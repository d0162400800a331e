using Fabric.Actors.DataPlane.Flow;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Gateway.Pipeline;

namespace Fabric.Actors.Gateway;

// The output port's MTU, as a router honours it (fragmentation: RFC 791 §2.3; the answer to DF:
// RFC 1191 §4, "Router specification"). Every forwarded frame is held against its output port's MTU
// (GatewayPlan.MtuOf, one array read) before the entry is applied, on a cache hit as on a miss;
// only a frame that does not fit comes here:
//  - DF set: dropped (fragmentation-needed) and answered with ICMP destination unreachable code 4
//    whose next-hop MTU is the port's, quoting the datagram as it arrived (before NAT, so its sender
//    recognises it), from the gateway's address on the side it came in;
//  - DF clear: the entry is applied and the datagram is cut into fragments that fit (RFC 791),
//    each sent out of the port; what the next hops and the receiver do with them is theirs.
// A TTL about to expire is judged first, as Linux's ip_forward does: such a frame gets time exceeded.
// TAP super-frames never reach this: the TAP port cuts them into their MSS segments on receive,
// so a TSO run whose segments fit the MTU passes as segments that fit.
public sealed partial class GatewayDatapath
{
    /// <summary>One fragment with its link header (the largest IPv4 datagram fits the first).</summary>
    private readonly byte[] _fragment = new byte[EthernetLayout.HeaderLength + Ipv4Layout.MaximumPacketLength];

    /// <summary>
    /// <paramref name="frame"/> (untagged, not yet rewritten) is longer than its output port's MTU:
    /// answers or fragments it. False when the normal path must go on (the datagram fits after all,
    /// or its TTL expires here).
    /// </summary>
    private bool TooBig(Span<byte> frame, in FlowKey key, GatewayPort port, TenantPlan tenant, in CacheEntry entry, long now, IFrameSink sink)
    {
        var mtu = Plan.MtuOf(entry.OutPort);
        if (!Ipv4View.TryParse(frame[Eth..], out var ip, out _) || ip.Bytes.Length <= mtu) return false;
        if ((entry.Rewrite & RewriteFields.DecrementTtl) != 0 && ip.Ttl <= 1) return false;
        if (ip.DontFragment)
        {
            Drop(GatewayDrop.FragmentationNeeded);
            SendIcmpError(frame, key, port, tenant, Icmpv4Type.DestinationUnreachable, (byte)Icmpv4UnreachableCode.FragmentationNeeded, now, sink,
                restOfHeader: Icmpv4Repr.DestinationUnreachable(Icmpv4UnreachableCode.FragmentationNeeded, 0, (ushort)mtu).RestOfHeader);
            return true;
        }
        if (!EntryActions.TryApply(entry, frame)) return false;
        if (!Ipv4View.TryParse(frame[Eth..], out ip, out _) || !Ipv4Fragmenter.TryCreate(ip, mtu, out var fragmenter, linkHeader: frame[..Eth]))
        {
            Drop(GatewayDrop.FragmentationNeeded);
            return true;
        }
        var count = 0;
        while (fragmenter.TryWriteNext(_fragment, out var length))
        {
            Emit(sink, entry.OutPort, _fragment.AsSpan(0, length));
            count++;
        }
        Counters.Forwarded++;
        Counters.Fragmented++;
        Counters.FragmentsSent += count;
        return true;
    }
}
