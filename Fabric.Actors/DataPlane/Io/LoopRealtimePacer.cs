using System.Diagnostics;

namespace Fabric.Actors.DataPlane.Io;

/// <summary>
/// Keeps one I/O loop thread at real-time priority while its load is light (<see cref="LoopRealtime"/>):
/// the loop tells it how long each epoll_wait slept and when each turn ends; at the end of each
/// window a thread awake more than the load limit goes to normal priority, one awake less than half
/// of it goes (back) to SCHED_FIFO. Every method but the counters' getters runs on the loop thread.
/// A refusal by the kernel (no CAP_SYS_NICE) turns it off for good and is reported once per process.
/// </summary>
internal sealed unsafe class LoopRealtimePacer(LoopRealtime settings, Func<string> loopName)
{
    private readonly long _windowTicks = Math.Max(1, (long)(settings.Window.TotalSeconds * Stopwatch.Frequency));
    private long _windowStart;
    private long _windowWaitTicks; // time in epoll_wait this window
    private bool _refused;
    private volatile bool _isRealtime;
    private long _promotions;
    private long _demotions;

    /// <summary>Configured and not refused: the loop reports its waits and turns.</summary>
    public bool Active => settings.IsOn && !_refused;

    public bool IsRealtime => _isRealtime;

    public long Promotions => Interlocked.Read(ref _promotions);

    public long Demotions => Interlocked.Read(ref _demotions);

    /// <summary>Why the kernel refused a loop real-time priority (the first refusal in this process), or null.</summary>
    public static string? Refused { get; private set; }

    private static Action<string>? _reportRefusal;

    /// <summary>Told the first refusal in this process, once; set after one happened, it is told that one at once.</summary>
    public static Action<string>? ReportRefusal
    {
        get => _reportRefusal;
        set
        {
            _reportRefusal = value;
            if (value is not null && Refused is { } refused) value(refused);
        }
    }

    /// <summary>The loop thread starts: idle, so light load.</summary>
    public void Start()
    {
        if (!settings.IsOn) return;
        SetRealtime(true);
        _windowStart = Stopwatch.GetTimestamp();
    }

    /// <summary>
    /// Gone to normal priority while busy: the loop sleeps at most to the window's end, so that an
    /// idle window is seen (and the priority restored) before the next frame, not after it.
    /// </summary>
    public int LimitTimeout(int timeoutMs)
    {
        if (timeoutMs == 0 || !Active || _isRealtime) return timeoutMs;
        int windowLeft = (int)Math.Clamp((_windowStart + _windowTicks - Stopwatch.GetTimestamp()) * 1000 / Stopwatch.Frequency + 1, 1, int.MaxValue);
        return timeoutMs < 0 ? windowLeft : Math.Min(timeoutMs, windowLeft);
    }

    /// <summary>The loop slept from <paramref name="waitStart"/> until now.</summary>
    public void Waited(long waitStart) => _windowWaitTicks += Stopwatch.GetTimestamp() - waitStart;

    /// <summary>A turn ended: at a window's end, the priority its load calls for.</summary>
    public void TurnEnded()
    {
        long now = Stopwatch.GetTimestamp();
        long elapsed = now - _windowStart;
        if (elapsed < _windowTicks) return;
        long awakePercent = 100 * Math.Max(0, elapsed - _windowWaitTicks) / elapsed;
        if (_isRealtime && awakePercent > settings.MaxLoadPercent)
        {
            SetRealtime(false);
        }
        else if (!_isRealtime && awakePercent * 2 < settings.MaxLoadPercent)
        {
            SetRealtime(true);
        }

        _windowStart = now;
        _windowWaitTicks = 0;
    }

    /// <summary>This (the loop) thread to SCHED_FIFO at the configured priority, or back to SCHED_OTHER.</summary>
    private void SetRealtime(bool on)
    {
        int priority = on ? settings.Priority : 0;
        if (LinuxNative.SchedSetScheduler(0, on ? LinuxNative.SCHED_FIFO : LinuxNative.SCHED_OTHER, &priority) != 0)
        {
            int errno = LinuxNative.LastError;
            _refused = true;
            if (Refused is null)
            {
                Refused = $"sched_setscheduler({(on ? $"SCHED_FIFO {priority}" : "SCHED_OTHER")}) for I/O loop {loopName()}: {LinuxNative.Describe(errno)}";
                _reportRefusal?.Invoke(Refused);
            }

            return;
        }

        _isRealtime = on;
        Interlocked.Increment(ref on ? ref _promotions : ref _demotions);
    }
}
