using Fabric.Actors.DataPlane.Flow;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Gateway.Pipeline;

namespace Fabric.Actors.Gateway;

// What the gateway answers itself, as a router does: ARP for its addresses (RFC 826), echo
// requests to them (RFC 792), ICMP errors (time exceeded, unreachable; RFC 792/1812) and TCP
// resets for rejects (RFC 793). Built with the Wire reprs in a scratch buffer; slow path only.
public sealed partial class GatewayDatapath
{
    private const int Eth = EthernetLayout.HeaderLength;
    private const int Ip = Ipv4Layout.MinimumHeaderLength;

    /// <summary>Echo requests (and anything not NAT'd) to one of the gateway's own addresses on that side.</summary>
    private static bool IsLocal(in FlowKey key, PortRole role, TenantPlan t)
    {
        if (!t.IsGatewayAddress(key.DestinationAddress, role)) return false;
        if (key.IpProtocol == IpProtocol.Icmp) return key.IcmpType == Icmpv4Type.EchoRequest;
        // TCP/UDP to the uplink or pool addresses is DNAT / un-SNAT traffic for the pipeline.
        return role == PortRole.Downlink;
    }

    private void HandleLocal(ReadOnlySpan<byte> frame, in FlowKey key, GatewayPort port, TenantPlan t, IFrameSink sink)
    {
        AddNeighbor(port.Id, key.SourceAddress, key.Source);
        if (key.IpProtocol != IpProtocol.Icmp
            || !Ipv4View.TryParse(frame[Eth..], out var ip, out _)
            || !Icmpv4View.TryParse(ip.Payload, out var icmp, out _)
            || icmp.Type != Icmpv4Type.EchoRequest)
        {
            Drop(GatewayDrop.LocalUnhandled);
            return;
        }
        var reply = Icmpv4Repr.EchoReplyTo(icmp);
        var length = Eth + Ip + reply.BufferLength;
        if (length > _scratch.Length)
        {
            Drop(GatewayDrop.LocalUnhandled);
            return;
        }
        var buffer = _scratch.AsSpan(0, length);
        icmp.Data.CopyTo(buffer[(Eth + Ip + Icmpv4Layout.HeaderLength)..]);
        reply.Emit(buffer[(Eth + Ip)..]);
        new Ipv4Repr(ip.Destination, ip.Source, IpProtocol.Icmp, reply.BufferLength).Emit(buffer[Eth..]);
        new EthernetRepr(Plan.Mac, key.Source, EtherType.Ipv4).Emit(buffer);
        Counters.EchoReplies++;
        Emit(sink, port.Id, buffer);
    }

    private void HandleArp(ReadOnlySpan<byte> frame, GatewayPort port, TenantPlan t, IFrameSink sink)
    {
        if (!EthernetView.TryParse(frame, out var eth, out _) || !ArpRepr.TryParse(eth.Payload, out var arp, out _))
        {
            Drop(GatewayDrop.Malformed);
            return;
        }
        if (!arp.SenderProtocolAddress.IsUnspecified) AddNeighbor(port.Id, arp.SenderProtocolAddress, arp.SenderHardwareAddress);
        if (arp.Operation != ArpOperation.Request || !t.IsGatewayAddress(arp.TargetProtocolAddress, port.Role)) return;
        var reply = ArpRepr.ReplyTo(arp, Plan.Mac);
        var buffer = _scratch.AsSpan(0, EthernetLayout.MinimumFrameLength);
        buffer.Clear();
        reply.Emit(buffer[Eth..]);
        new EthernetRepr(Plan.Mac, arp.SenderHardwareAddress, EtherType.Arp).Emit(buffer);
        Counters.ArpReplies++;
        Emit(sink, port.Id, buffer);
    }

    /// <summary>
    /// Asks who has <paramref name="target"/> on <paramref name="port"/>: at most once per
    /// neighbor-retry-min per target (as Linux sends one probe per retrans_time while a neighbour
    /// is incomplete), so a burst of packets or new flows towards a next hop that does not answer
    /// sends one request, not one each (counted as <c>arp-requests-limited</c>).
    /// </summary>
    public void SendArpRequest(ushort port, Ipv4Address target, TenantPlan t, IFrameSink sink)
    {
        var now = Environment.TickCount64;
        var minMs = (long)Settings.NeighborRetryMin.TotalMilliseconds;
        if (_arpAskedAt.TryGetValue((port, target), out var asked) && now - asked < minMs)
        {
            Counters.ArpRequestsLimited++;
            return;
        }
        if (_arpAskedAt.Count >= MaxArpTargets) ForgetArpTargets(now - minMs);
        _arpAskedAt[(port, target)] = now;
        var request = ArpRepr.Request(Plan.Mac, t.SourceAddressFor(port, target), target);
        var buffer = _scratch.AsSpan(0, EthernetLayout.MinimumFrameLength);
        buffer.Clear();
        request.Emit(buffer[Eth..]);
        new EthernetRepr(Plan.Mac, MacAddress.Broadcast, EtherType.Arp).Emit(buffer);
        Counters.ArpRequests++;
        Emit(sink, port, buffer);
    }

    /// <summary>Targets asked for recently enough to hold back another request; bounded (a scan of a large subnet asks for many).</summary>
    private readonly Dictionary<(ushort Port, Ipv4Address Target), long> _arpAskedAt = [];

    private const int MaxArpTargets = 4096;

    private void ForgetArpTargets(long askedBefore)
    {
        foreach (var (key, at) in _arpAskedAt)
        {
            if (at < askedBefore) _arpAskedAt.Remove(key);
        }
        if (_arpAskedAt.Count >= MaxArpTargets) _arpAskedAt.Clear(); // all recent: a storm; start over rather than grow
    }

    /// <summary>
    /// An ICMP error about <paramref name="frame"/> back to its sender, from the gateway's address on
    /// the side it came in (RFC 1812 §4.3.2.4), quoting its header and first 8 payload bytes (RFC 792);
    /// <paramref name="restOfHeader"/> carries the next-hop MTU of fragmentation needed (RFC 1191 §4).
    /// Never about an ICMP error; at most as many as the token bucket allows (<see cref="TakeIcmpToken"/>).
    /// </summary>
    private void SendIcmpError(ReadOnlySpan<byte> frame, in FlowKey key, GatewayPort port, TenantPlan t, Icmpv4Type type, byte code, long now, IFrameSink sink,
        uint restOfHeader = 0)
    {
        if (key.IpProtocol == IpProtocol.Icmp && !key.IcmpType.HasIdentifier()) return; // never an error about an error
        if (!Ipv4View.TryParse(frame[Eth..], out var original, out _)) return;
        if (!TakeIcmpToken(now))
        {
            Counters.IcmpErrorsLimited++;
            return;
        }
        var quote = Icmpv4Repr.QuoteLength(original);
        var icmp = new Icmpv4Repr(type, code, restOfHeader, quote);
        var length = Eth + Ip + icmp.BufferLength;
        var buffer = _scratch.AsSpan(0, length);
        original.Bytes[..quote].CopyTo(buffer[(Eth + Ip + Icmpv4Layout.HeaderLength)..]);
        icmp.Emit(buffer[(Eth + Ip)..]);
        new Ipv4Repr(t.SourceAddressFor(port.Id, key.SourceAddress), key.SourceAddress, IpProtocol.Icmp, icmp.BufferLength).Emit(buffer[Eth..]);
        new EthernetRepr(Plan.Mac, key.Source, EtherType.Ipv4).Emit(buffer);
        Counters.IcmpErrors++;
        Emit(sink, port.Id, buffer);
    }

    private double _icmpTokens = double.MaxValue;
    private long _icmpRefilledAt;

    /// <summary>
    /// One token of the ICMP error bucket (<see cref="GatewaySettings.IcmpErrorsPerSecond"/>, burst
    /// <see cref="GatewaySettings.IcmpErrorBurst"/>), as Linux limits the errors a host sends
    /// (icmp_msgs_per_sec, icmp_msgs_burst): a flood of bad packets does not become a flood of answers.
    /// </summary>
    private bool TakeIcmpToken(long now)
    {
        var burst = Settings.IcmpErrorBurst;
        var elapsed = Math.Max(0, now - _icmpRefilledAt);
        _icmpTokens = Math.Min(burst, _icmpTokens + elapsed * (Settings.IcmpErrorsPerSecond / 1000.0));
        _icmpRefilledAt = now;
        if (_icmpTokens < 1) return false;
        _icmpTokens -= 1;
        return true;
    }

    private void SendTcpReset(ReadOnlySpan<byte> frame, in FlowKey key, GatewayPort port, IFrameSink sink)
    {
        if (!Ipv4View.TryParse(frame[Eth..], out var ip, out _) || !TcpView.TryParse(ip.Payload, out var tcp, out _)) return;
        if ((tcp.Flags & TcpFlags.Rst) != 0) return;
        var segmentLength = ip.Payload.Length - tcp.HeaderLength + ((tcp.Flags & TcpFlags.Syn) != 0 ? 1 : 0) + ((tcp.Flags & TcpFlags.Fin) != 0 ? 1 : 0);
        var hasAck = (tcp.Flags & TcpFlags.Ack) != 0;
        var rst = new TcpRepr(tcp.DestinationPort, tcp.SourcePort,
            SequenceNumber: hasAck ? tcp.AcknowledgmentNumber : 0,
            AcknowledgmentNumber: tcp.SequenceNumber + (uint)segmentLength,
            TcpFlags.Rst | TcpFlags.Ack, WindowSize: 0, PayloadLength: 0);
        var buffer = _scratch.AsSpan(0, Math.Max(EthernetLayout.MinimumFrameLength, Eth + Ip + rst.BufferLength));
        buffer.Clear();
        rst.Emit(buffer[(Eth + Ip)..], ip.Destination, ip.Source);
        new Ipv4Repr(ip.Destination, ip.Source, IpProtocol.Tcp, rst.BufferLength).Emit(buffer[Eth..]);
        new EthernetRepr(Plan.Mac, key.Source, EtherType.Ipv4).Emit(buffer);
        Counters.TcpResets++;
        Emit(sink, port.Id, buffer);
    }
}
