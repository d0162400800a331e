namespace Fabric.Actors.DataPlane.Io;

/// <summary>Why a port dropped a frame; each reason has its own counter.</summary>
public enum PortDropReason
{
    /// <summary>A received frame did not fit the batch slot (it would have been truncated).</summary>
    RxFrameTooLarge,

    /// <summary>The OS reported an error while receiving.</summary>
    RxError,

    /// <summary>A frame to send was longer than the device or datagram allows.</summary>
    TxFrameTooLarge,

    /// <summary>The device's transmit queue or socket buffer was full (EAGAIN/ENOBUFS).</summary>
    TxQueueFull,

    /// <summary>The link was down (EIO on a TAP write, ENETDOWN on a socket).</summary>
    TxLinkDown,

    /// <summary>The device or socket is gone; the frame could not be sent.</summary>
    TxPortGone,

    /// <summary>An underlay frame had no peer address, or a patch port had nothing on its other side.</summary>
    TxNoPeer,

    /// <summary>The OS reported another error while sending.</summary>
    TxError,

    /// <summary>A simulated sink was told to drop (e.g. a rate limit).</summary>
    TxRateLimited,

    /// <summary>
    /// A frame of the other network: a ghost frame offered to a live port, or a main frame
    /// offered to a ghost port. Never sent; a non-zero count is a wiring defect.
    /// </summary>
    PlaneMismatch,

    /// <summary>A TAP handed over a frame whose offload request it cannot honour (a GSO type not enabled, a malformed super-frame).</summary>
    RxBadOffload,
    /// <summary>
    /// The I/O loop's batch pool was at its cap when the port had frames: they were read and
    /// dropped at ingress instead of allocating more pinned memory (an overload signal).
    /// </summary>
    RxNoBuffer,

    /// <summary>
    /// The receive queue had held frames longer than its target for an interval: the port
    /// dropped the frame as it read it (CoDel, <see cref="CoDel"/>), so the queue drains.
    /// </summary>
    RxQueueDelay,
}

/// <summary>
/// Frame and byte counters of one port plus one drop counter per <see cref="PortDropReason"/>.
/// Updated once per batch with interlocked adds, so readers on other threads see whole numbers.
/// </summary>
public sealed class PortCounters
{
    private static readonly int ReasonCount = Enum.GetValues<PortDropReason>().Length;

    private readonly long[] _drops = new long[ReasonCount];
    private long _rxFrames;
    private long _rxBytes;
    private long _txFrames;
    private long _txBytes;

    public long RxFrames => Interlocked.Read(ref _rxFrames);

    public long RxBytes => Interlocked.Read(ref _rxBytes);

    public long TxFrames => Interlocked.Read(ref _txFrames);

    public long TxBytes => Interlocked.Read(ref _txBytes);

    public long Drops(PortDropReason reason) => Interlocked.Read(ref _drops[(int)reason]);

    public long TotalDrops
    {
        get
        {
            long sum = 0;
            for (int i = 0; i < _drops.Length; i++)
            {
                sum += Interlocked.Read(ref _drops[i]);
            }

            return sum;
        }
    }

    public void AddRx(long frames, long bytes)
    {
        Interlocked.Add(ref _rxFrames, frames);
        Interlocked.Add(ref _rxBytes, bytes);
    }

    public void AddTx(long frames, long bytes)
    {
        Interlocked.Add(ref _txFrames, frames);
        Interlocked.Add(ref _txBytes, bytes);
    }

    public void AddDrop(PortDropReason reason, long frames = 1) => Interlocked.Add(ref _drops[(int)reason], frames);

    /// <summary>Non-zero drop counters by name (<c>rx-no-buffer</c>, <c>rx-queue-delay</c>, ...).</summary>
    public IReadOnlyDictionary<string, long> DropsByName()
    {
        var result = new SortedDictionary<string, long>(StringComparer.Ordinal);
        foreach (PortDropReason reason in Enum.GetValues<PortDropReason>())
        {
            long n = Drops(reason);
            if (n != 0)
            {
                result[Name(reason)] = n;
            }
        }

        return result;
    }

    /// <summary>A reason's name as metrics and the API show it: <c>RxQueueDelay</c> is <c>rx-queue-delay</c>.</summary>
    public static string Name(PortDropReason reason) => KebabCase.Of(reason.ToString());

    /// <summary>A consistent-enough copy for reporting (each number read atomically).</summary>
    public PortCountersSnapshot Snapshot()
    {
        var drops = new Dictionary<PortDropReason, long>();
        foreach (PortDropReason reason in Enum.GetValues<PortDropReason>())
        {
            long n = Drops(reason);
            if (n != 0)
            {
                drops[reason] = n;
            }
        }

        return new PortCountersSnapshot(RxFrames, RxBytes, TxFrames, TxBytes, drops);
    }
}

/// <summary>Counters of a port at one moment; <see cref="Drops"/> lists only non-zero reasons.</summary>
public sealed record PortCountersSnapshot(
    long RxFrames,
    long RxBytes,
    long TxFrames,
    long TxBytes,
    IReadOnlyDictionary<PortDropReason, long> Drops)
{
    public override string ToString() =>
        $"rx {RxFrames} frames/{RxBytes} B, tx {TxFrames} frames/{TxBytes} B, drops [{string.Join(", ", Drops.Select(d => $"{d.Key}={d.Value}"))}]";
}
