using System.Collections.Concurrent;
using System.Diagnostics;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Messages.Ghost;

namespace Fabric.Actors.Ghost;

/// <summary>
/// Collects the hops every ghost element reports for probes on this node (thread-safe: ports'
/// receive threads, the underlay thread and actors all report). Frames without a probe marker are
/// ignored. A round's probes are forgotten once the verifier has collected them, and a hop that
/// arrives for them later (a flooded copy still in flight) is ignored, so the tracer holds only
/// the rounds in progress: a node verifying one change after another keeps a flat heap. Bounded
/// besides: at most <see cref="MaxHopsPerProbe"/> hops per probe (a probe beyond
/// <see cref="HopLimit"/> is stopped as looping) and <see cref="MaxProbes"/> probes (oldest forgotten).
/// </summary>
public sealed class ProbeTracer(string node) : IHopTracer
{
    /// <summary>Hops after which a probe is judged to loop (no loop-free path in a fabric is this long).</summary>
    public const int HopLimit = 64;
    public const int MaxHopsPerProbe = HopLimit + 8;
    public const int MaxProbes = 200_000;

    /// <summary>Collected ranges remembered, so late hops of their probes are not recorded again ...</summary>
    public const int RetiredRanges = 64;

    /// <summary>... for this long (a late hop comes within a round trip; another verifier's ids may reach the range later).</summary>
    public static readonly TimeSpan RetiredFor = TimeSpan.FromSeconds(10);

    private readonly ConcurrentDictionary<uint, ProbeRecord> _hops = new();
    private readonly ConcurrentQueue<uint> _order = new();
    // How many ids _order holds: ConcurrentQueue.Count takes a snapshot, too dear for every hop.
    private int _ordered;
    private readonly (uint First, uint Last, long Until)[] _retired = new (uint, uint, long)[RetiredRanges];
    private int _retiredNext;

    public string Node => node;

    public void Hop(ReadOnlySpan<byte> frame, string element, string detail) => Record(frame, element, detail, dropped: false);

    public void Drop(ReadOnlySpan<byte> frame, string element, string reason) => Record(frame, element, reason, dropped: true);

    public bool HopLimitReached(ReadOnlySpan<byte> frame) =>
        GhostProbe.TryReadId(frame, out var id) && _hops.TryGetValue(id, out var q) && q.Count >= HopLimit;

    /// <summary>
    /// One probe's hops, with what the verifier polls for kept as they are recorded (how many, and
    /// whether one ended it), so a poll reads two fields instead of walking the hops.
    /// </summary>
    private sealed class ProbeRecord
    {
        private int _count;
        private volatile bool _ended;

        public ConcurrentQueue<ProbeHop> Hops { get; } = new();

        public int Count => Volatile.Read(ref _count);

        public bool Ended => _ended;

        public void Add(ProbeHop hop)
        {
            // Bounded: a looping probe stops being recorded (its count says it looped).
            if (Interlocked.Increment(ref _count) > MaxHopsPerProbe)
            {
                Interlocked.Decrement(ref _count);
                return;
            }
            Hops.Enqueue(hop);
            if (hop.Dropped || ProbeOutcome.IsDelivery(hop)) _ended = true;
        }
    }

    /// <summary>
    /// Every hop recorded for ids in [<paramref name="first"/>, <paramref name="last"/>], each
    /// probe's in the order seen; the round is over, so the tracer forgets those probes and ignores
    /// their later hops.
    /// </summary>
    public IReadOnlyList<ProbeHop> Collect(uint first, uint last)
    {
        lock (_retired)
        {
            _retired[_retiredNext] = (first, last, Stopwatch.GetTimestamp() + (long)(RetiredFor.TotalSeconds * Stopwatch.Frequency));
            _retiredNext = (_retiredNext + 1) % RetiredRanges;
        }

        var result = new List<ProbeHop>();
        foreach (var (id, q) in Queues(first, last).ToList())
        {
            result.AddRange(q.Hops);
            _hops.TryRemove(id, out _);
        }

        return result;
    }

    /// <summary>Probes the tracer holds (the rounds in progress, and late hops of none).</summary>
    public int Recorded => _hops.Count;

    /// <summary>
    /// How many hops the ids in [<paramref name="first"/>, <paramref name="last"/>] have here, and
    /// which of them ended here (a drop, or a delivery): bit i of the bitmap is id first + i.
    /// </summary>
    public (long Hops, byte[] Ended) Count(uint first, uint last)
    {
        // A round's ids are contiguous (at most MaxProbes of them): a wider range is a bug.
        ArgumentOutOfRangeException.ThrowIfGreaterThan(last - first, (uint)MaxProbes * 64, nameof(last));
        long hops = 0;
        var ended = new byte[(int)((last - first) / 8 + 1)];
        foreach (var (id, q) in Queues(first, last))
        {
            hops += q.Count;
            if (q.Ended) ended[(id - first) / 8] |= (byte)(1 << (int)((id - first) % 8));
        }

        return (hops, ended);
    }

    /// <summary>The recorded probes with ids in the range: walked by id when the range is the smaller (a round's ids are contiguous), else over all recorded.</summary>
    private IEnumerable<(uint Id, ProbeRecord Record)> Queues(uint first, uint last)
    {
        if (last - first < (uint)_hops.Count)
        {
            for (uint id = first; id <= last && id >= first; id++)
            {
                if (_hops.TryGetValue(id, out var q)) yield return (id, q);
            }

            yield break;
        }

        foreach (var (id, q) in _hops)
        {
            if (id >= first && id <= last) yield return (id, q);
        }
    }

    private void Record(ReadOnlySpan<byte> frame, string element, string detail, bool dropped)
    {
        if (!GhostProbe.TryReadId(frame, out var id) || Retired(id)) return;
        var q = _hops.GetOrAdd(id, static (k, tracer) =>
        {
            tracer._order.Enqueue(k);
            Interlocked.Increment(ref tracer._ordered);
            return new ProbeRecord();
        }, this);
        q.Add(new ProbeHop(id, node, element, detail, dropped, Stopwatch.GetTimestamp()));
        while (Volatile.Read(ref _ordered) > MaxProbes && _order.TryDequeue(out var old))
        {
            Interlocked.Decrement(ref _ordered);
            _hops.TryRemove(old, out _);
        }
    }

    private bool Retired(uint id)
    {
        var now = Stopwatch.GetTimestamp();
        lock (_retired)
        {
            foreach (var (first, last, until) in _retired)
            {
                if (id >= first && id <= last && now < until) return true;
            }
        }

        return false;
    }
}
