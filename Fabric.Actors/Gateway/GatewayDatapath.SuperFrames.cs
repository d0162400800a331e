using Fabric.Actors.DataPlane.Flow;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Gateway.Pipeline;

namespace Fabric.Actors.Gateway;

// TCP super-frames from an offloading TAP (Packet.GsoSize), as OVS's userspace datapath with TSO
// carries them: a super-frame of an established flow whose cached entry forwards it is rewritten
// once and leaves whole, 40-odd segments' worth of work done once, with no copy; everything else
// (a miss, a FIN or RST, a rejected or too-big flow, a tagged port, tracing) is cut into its
// segments, and each takes the ordinary path as the frame it would have been on the wire.
public sealed partial class GatewayDatapath
{
    /// <summary>One segment of a super-frame being taken apart (grown to the largest seen).</summary>
    private byte[] _segment = [];

    /// <summary>Super-frames forwarded whole, and the segments they stood for (counted in <see cref="GatewayCounters.Frames"/> too).</summary>
    public long SuperFramesForwarded { get; private set; }

    /// <summary>Super-frames cut into segments because their flow needed the per-frame path.</summary>
    public long SuperFramesCut { get; private set; }

    private void ProcessSuperFrame(Span<byte> frame, ushort ingress, long now, IFrameSink sink, ushort gsoSize)
    {
        if (!TcpSuperFrame.TryLocate(frame, gsoSize, out var layout, out var segments))
        {
            Counters.Frames++;
            Drop(GatewayDrop.Malformed);
            return;
        }
        if (TryForwardWhole(frame, layout, segments, ingress, now, sink, gsoSize)) return;

        SuperFramesCut++;
        TcpSegmenter.TryCreate(frame, gsoSize, out var segmenter);
        if (_segment.Length < segmenter.MaxSegmentLength) _segment = new byte[segmenter.MaxSegmentLength];
        while (segmenter.TryNext(_segment, out var length)) ProcessFrame(_segment.AsSpan(0, length), ingress, now, sink, checksumsValid: true); // the segmenter computed them
    }

    /// <summary>
    /// The flow-cache hit path for a whole super-frame: only when every segment would be a plain
    /// cached forward (no tracing, untagged ports, not for the gateway itself, no SYN/FIN/RST, an
    /// entry that forwards with no per-packet condition, segments within the output MTU). Changes
    /// nothing before it knows it forwards.
    /// </summary>
    private bool TryForwardWhole(Span<byte> frame, in TcpFrameLayout layout, int segments, ushort ingress, long now, IFrameSink sink, ushort gsoSize)
    {
        var plan = Plan;
        var port = plan.Port(ingress);
        if (port is null || port.Vlan != 0 || CacheDisabled || Tracer is not null || Volatile.Read(ref _traceBudget) > 0) return false;
        var tenant = plan.Tenants[port.TenantIndex];
        if (!FlowKeyExtractor.TryExtract(frame, ingress, tenant.Vni, out var key, out _)
            || (key.Flags & FlowKeyFlags.Ipv4) == 0 || (key.Flags & FlowKeyFlags.Vlan) != 0 || key.IsFragment
            || key.IpProtocol != IpProtocol.Tcp || key.Destination != plan.Mac || IsLocal(key, port.Role, tenant)
            || (TcpView.FlagsOfFrame(frame) & (TcpFlags.Syn | TcpFlags.Fin | TcpFlags.Rst)) != 0)
        {
            return false;
        }
        var bucket = ShardOf(key, port.Role, tenant);
        if (bucket < 0) return false;
        var cache = Shards[bucket].Cache;
        var megaflow = false;
        if (!cache.Exact.TryGetValue(key, FlowHash.Compute(key), plan.Generation, now, out var entry) && !(megaflow = cache.TryMegaflow(key, plan.Generation, now, out entry))) return false;
        if (entry.Action != EntryAction.Forward || entry.RequiresNoConnection || entry.ConnectionGone || entry.Connection is { State: ConnectionState.Closed }
            || TcpSuperFrame.SegmentIpLength(layout, gsoSize) > plan.MtuOf(entry.OutPort) || (plan.Port(entry.OutPort)?.Vlan ?? 0) != 0
            || !EntryActions.TryApply(entry, frame))
        {
            return false;
        }
        TcpSuperFrame.WritePartialChecksum(frame, layout);

        Counters.Frames += segments;
        Counters.Hits += segments;
        if (megaflow) Counters.MegaflowHits += segments;
        if (entry.FirewallRule != 0) tenant.FirewallCounters.Hit(entry.FirewallRule - 1, segments);
        if (entry.Connection is { } c) Seen(c, entry, now);
        Counters.Forwarded += segments;
        SuperFramesForwarded++;
        sink.SendSuperFrame(entry.OutPort, frame, gsoSize);
        return true;
    }
}
