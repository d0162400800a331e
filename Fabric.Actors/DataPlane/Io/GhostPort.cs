using System.Collections.Concurrent;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.DataPlane.Io;

/// <summary>
/// The ghost copy of an attachment point (ghost routing): no device behind it. The verifier
/// injects diagnostic frames with <see cref="Inject"/>; they are received marked
/// <see cref="Packet.IsGhost"/>. Frames the element sends here are "delivered": counted,
/// reported to the tracer and kept (bounded) for inspection. A main frame offered here is refused
/// and counted as <see cref="PortDropReason.PlaneMismatch"/>, as a ghost frame is by a live port.
/// With <see cref="AnswersArp"/> the port also plays the world behind it for address resolution:
/// an ARP request sent out of it is answered with <see cref="GhostProbe.EndpointMac"/> of the
/// target (unless another element on the same segment owns that address and answers itself), so
/// a ghost gateway resolves its next hops as the live one does. Ghost ports of one node that name
/// the same device form one segment, as the live device would be one wire: what one sends, the
/// others receive (bounded by the tracer's hop limit, since an L2 loop has no TTL).
/// </summary>
public sealed class GhostPort : Port
{
    /// <summary>Delivered frames kept for inspection (oldest dropped first).</summary>
    public const int MaxKept = 1024;

    private readonly ConcurrentQueue<byte[]> _inbox = new();
    private readonly ConcurrentQueue<byte[]> _delivered = new();
    private readonly ManualResetEventSlim _wake = new(false);

    public GhostPort(string name, ushort id, string label, IHopTracer? tracer, bool answersArp,
        IReadOnlyCollection<Ipv4Address>? owned = null, GhostPortSet? segment = null, string? segmentName = null)
        : base(name, id)
    {
        Segment = segmentName ?? name;
        Label = label;
        Tracer = tracer;
        AnswersArp = answersArp;
        Owned = owned ?? [];
        _segment = segment;
    }

    private readonly GhostPortSet? _segment;

    /// <summary>The L2 segment: the intent's <c>segment</c> of the port, else its device name.</summary>
    public string Segment { get; }

    /// <summary>Addresses the element behind this port answers ARP for itself (the world does not).</summary>
    public IReadOnlyCollection<Ipv4Address> Owned { get; }

    /// <summary>The attachment point this port stands for, as traces name it (e.g. <c>pe-a/ce-a</c>).</summary>
    public string Label { get; }

    public IHopTracer? Tracer { get; }

    public bool AnswersArp { get; }

    /// <summary>Frames sent out of this port so far (what reached the attachment point).</summary>
    public IReadOnlyCollection<byte[]> Delivered => _delivered;

    /// <summary>Queues <paramref name="frame"/> as if the attachment had sent it.</summary>
    public void Inject(ReadOnlySpan<byte> frame)
    {
        Tracer?.Hop(frame, Label, "injected");
        Enqueue(frame.ToArray());
    }

    /// <summary>A frame another port of the segment sent.</summary>
    internal void FromSegment(byte[] frame, string from)
    {
        Tracer?.Hop(frame, Label, $"received from {from} on the shared segment {Segment}");
        Enqueue(frame);
    }

    private void Enqueue(byte[] frame)
    {
        if (IsFinished)
        {
            return;
        }

        _inbox.Enqueue(frame);
        _wake.Set();
        SignalReceiver();
    }

    /// <summary>Receives on an I/O loop, signalled by each frame queued (no thread of its own).</summary>
    protected internal override bool ReceivesOnLoop => true;

    public override int ReceiveBatch(PacketBatch batch, int timeoutMs)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (IsFinished)
        {
            return 0;
        }

        if (_inbox.IsEmpty && timeoutMs != 0 && !StopRequested)
        {
            _wake.Wait(timeoutMs);
        }

        _wake.Reset();
        int added = 0;
        long bytes = 0;
        while (!batch.IsFull && _inbox.TryDequeue(out var frame))
        {
            if (!batch.TryAppend(frame, Id))
            {
                Counters.AddDrop(PortDropReason.RxFrameTooLarge);
                continue;
            }

            batch[batch.Count - 1].IsGhost = true;
            added++;
            bytes += frame.Length;
        }

        if (!_inbox.IsEmpty)
        {
            _wake.Set();
        }

        Counters.AddRx(added, bytes);
        return added;
    }

    public override int SendBatch(PacketBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        int sent = 0;
        long bytes = 0;
        var others = _segment?.SegmentPeers(this) ?? [];
        for (int i = 0; i < batch.Count; i++)
        {
            if (!batch[i].IsGhost)
            {
                Counters.AddDrop(PortDropReason.PlaneMismatch);
                continue;
            }

            var frame = batch.Frame(i);
            sent++;
            bytes += frame.Length;
            if (AnswersArp && GhostNeighbor.IsArpRequest(frame, out var target) && !others.Any(o => o.Owned.Contains(target))
                && GhostNeighbor.TryAnswerArp(frame, out var reply))
            {
                Enqueue(reply);
                continue;
            }

            if (Tracer is { } tracer && tracer.HopLimitReached(frame))
            {
                tracer.Drop(frame, Label, "hop-limit (the probe went round a loop)");
                continue;
            }

            Tracer?.Hop(frame, Label, GhostProbe.OuterVlan(frame) is { } vlan ? $"delivered (vlan {vlan})" : "delivered");
            if (others.Count > 0)
            {
                var copy = frame.ToArray();
                foreach (var peer in others)
                {
                    peer.FromSegment(copy, Label);
                }
            }

            _delivered.Enqueue(frame.ToArray());
            while (_delivered.Count > MaxKept)
            {
                _delivered.TryDequeue(out _);
            }
        }

        Counters.AddTx(sent, bytes);
        return sent;
    }

    protected override void WakeReceiver() => _wake.Set();

    protected override void DisposeCore() => _wake.Dispose();
}

/// <summary>
/// The ghost ports of one node's ghost network, by attachment point. Elements open them through
/// <see cref="Open"/> (from their plane's port factory); the verifier finds them by key to inject
/// probes. Re-opening a key replaces the port (an element restarted).
/// </summary>
public sealed class GhostPortSet(IHopTracer? tracer)
{
    /// <summary>
    /// The other open ports of <paramref name="port"/>'s segment (same device name). Asked on
    /// every send: looked up by segment, not found by a scan of every port of the node (33,800
    /// probes through 1,200 ghost ports spent most of the probe round scanning).
    /// </summary>
    internal IReadOnlyList<GhostPort> SegmentPeers(GhostPort port)
    {
        if (!_segments.TryGetValue(port.Segment, out var members) || members.Length < 2)
        {
            return [];
        }

        return members.Where(p => !ReferenceEquals(p, port) && p.State != PortState.Closed).ToList();
    }

    private readonly ConcurrentDictionary<string, GhostPort> _ports = new(StringComparer.Ordinal);

    /// <summary>The ports of each segment, as last opened by key (a re-opened key replaces its port); written under <see cref="_opening"/>.</summary>
    private readonly ConcurrentDictionary<string, GhostPort[]> _segments = new(StringComparer.Ordinal);
    private readonly Lock _opening = new();

    public IHopTracer? Tracer => tracer;

    public GhostPort Open(string key, string name, ushort id, string label, bool answersArp = false, IReadOnlyCollection<Ipv4Address>? owned = null, string? segment = null)
    {
        var port = new GhostPort(name, id, label, tracer, answersArp, owned, this, segment);
        lock (_opening)
        {
            _ports.TryGetValue(key, out var replaced);
            _ports[key] = port;
            if (replaced is not null && _segments.TryGetValue(replaced.Segment, out var was))
            {
                _segments[replaced.Segment] = [.. was.Where(p => !ReferenceEquals(p, replaced))];
            }

            _segments[port.Segment] = [.. _segments.GetValueOrDefault(port.Segment, []), port];
        }

        return port;
    }

    /// <summary>The open port for <paramref name="key"/>; closed ports are not returned.</summary>
    public bool TryFind(string key, out GhostPort port)
    {
        if (_ports.TryGetValue(key, out port!) && port.State != PortState.Closed)
        {
            return true;
        }

        port = null!;
        return false;
    }

    public IEnumerable<GhostPort> All => _ports.Values.Where(p => p.State != PortState.Closed);

    /// <summary>Key of an attachment opened by port name alone (PE attachment circuits, MFE vNICs).</summary>
    public static string PortKey(string portName) => "port:" + portName;

    /// <summary>A port factory for elements that open attachments by port reference.</summary>
    public Func<Fabric.Messages.Intent.PortRef, ushort, IPort> Factory() =>
        (port, id) => Open(PortKey(port.Name), port.Name, id, port.Name, segment: port.Segment);
}
