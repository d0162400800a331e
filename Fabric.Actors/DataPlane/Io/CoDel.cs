namespace Fabric.Actors.DataPlane.Io;

/// <summary>
/// How long a receive queue may hold frames before the port starts dropping (CoDel, RFC 8289):
/// a frame's sojourn is the time from the kernel's receive timestamp to the moment the port reads
/// it. <see cref="Target"/> is the standing delay tolerated, <see cref="Interval"/> how long the
/// delay must stay above it before the first drop (about a round trip of the flows carried).
/// <see cref="MaxDelay"/> is a hard limit beside the control law: a frame that waited longer is
/// always dropped. CoDel's drop rate grows slowly (it relies on senders that slow down on loss);
/// a flood that does not slow down would keep a standing queue, and every frame behind it, a
/// ping's included, would wait the whole buffer. Dropping what is already too old as it is
/// read costs only the read, so the reader catches up with the fresh frames.
/// </summary>
public sealed record CoDelSettings(TimeSpan Target, TimeSpan Interval, TimeSpan MaxDelay)
{
    /// <summary>RFC 8289's defaults for the Internet (5 ms target, 100 ms interval), and frames older than 50 ms dropped.</summary>
    public static readonly CoDelSettings Default = new(TimeSpan.FromMilliseconds(5), TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(50));

    /// <summary>A target of zero turns the limit off.</summary>
    public bool IsOn => Target > TimeSpan.Zero;
}

/// <summary>
/// The CoDel control law of RFC 8289 §5 for one receive queue, read by one thread. The port asks
/// <see cref="ShouldDrop"/> for each frame as it reads it: once every frame's sojourn has stayed
/// above the target for an interval, frames are dropped at intervals that shrink with the square
/// root of the drops so far, until a frame's sojourn falls below the target or the queue runs
/// empty. Dropping at the reader is what makes a standing queue drain: a dropped frame costs only
/// its read, and a TCP sender that loses one slows down. Times are in nanoseconds of any clock.
/// </summary>
public sealed class CoDel(CoDelSettings settings)
{
    private readonly long _target = (long)(settings.Target.TotalMilliseconds * 1_000_000);
    private readonly long _interval = (long)(settings.Interval.TotalMilliseconds * 1_000_000);
    private readonly long _maxDelay = (long)(settings.MaxDelay.TotalMilliseconds * 1_000_000);
    private long _firstAboveTime;
    private long _dropNext;
    private int _count;
    private int _lastCount;
    private bool _dropping;

    /// <summary>True while the queue is in the dropping state.</summary>
    public bool Dropping => _dropping;

    /// <summary>Frames dropped since the port opened.</summary>
    public long Drops { get; private set; }

    /// <summary>Whether the frame read at <paramref name="now"/> after <paramref name="sojourn"/> in the queue is dropped.</summary>
    public bool ShouldDrop(long sojourn, long now)
    {
        bool okToDrop = OkToDrop(sojourn, now);
        if (sojourn > _maxDelay)
        {
            Drops++;
            return true; // too old to be worth forwarding, whatever the control law says
        }

        if (_dropping)
        {
            if (!okToDrop)
            {
                _dropping = false;
                return false;
            }

            if (now >= _dropNext)
            {
                _count++;
                _dropNext = ControlLaw(_dropNext, _count);
                Drops++;
                return true;
            }

            return false;
        }

        if (!okToDrop)
        {
            return false;
        }

        // Enter the dropping state; start near the drop rate of the last episode if it was recent.
        _dropping = true;
        int delta = _count - _lastCount;
        _count = delta > 1 && now - _dropNext < 16 * _interval ? delta : 1;
        _dropNext = ControlLaw(now, _count);
        _lastCount = _count;
        Drops++;
        return true;
    }

    /// <summary>The port read the queue empty: the standing queue is gone.</summary>
    public void QueueEmpty()
    {
        _firstAboveTime = 0;
        _dropping = false;
    }

    private bool OkToDrop(long sojourn, long now)
    {
        if (sojourn < _target)
        {
            _firstAboveTime = 0;
            return false;
        }

        if (_firstAboveTime == 0)
        {
            _firstAboveTime = now + _interval;
            return false;
        }

        return now >= _firstAboveTime;
    }

    private long ControlLaw(long t, int count) => t + (long)(_interval / Math.Sqrt(count));
}
