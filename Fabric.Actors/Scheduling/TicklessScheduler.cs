using System.Diagnostics;
using System.Reflection;
using Akka.Actor;
using Akka.Dispatch;
using Akka.Event;

namespace Fabric.Actors.Scheduling;

/// <summary>
/// Akka's scheduler without a tick (<c>akka.scheduler.implementation</c>): one thread sleeps until
/// the earliest registration is due, runs what is due, and sleeps again; a registration earlier
/// than the one it sleeps for wakes it. Akka's default (<c>HashedWheelTimerScheduler</c>) wakes
/// every <c>tick-duration</c> whether or not anything is due, through the .NET timer thread and
/// a thread-pool continuation, and rounds every delay up to a tick; here an idle node wakes only
/// for its real timers, and a registration runs 1-2 ms after it is due (never within the
/// millisecond it is due: see <see cref="LateBy"/>).
/// <para>
/// Semantics follow Akka's scheduler: a cancelled registration is skipped when it falls due
/// (registrations cancelled early are purged once they outnumber the live ones, so cancelling
/// many long timers does not hold memory); a repeated one runs again <c>interval</c> after it
/// was due (missed runs are not made up in a burst); actions run on the scheduler's thread and
/// an action that throws is logged and not repeated; on dispose, what was still registered runs
/// once, as Akka's does.
/// </para>
/// </summary>
public sealed class TicklessScheduler : SchedulerBase, IDateTimeOffsetNowTimeProvider, IDisposable
{
    private static readonly Func<TimeSpan> AkkaMonotonic = ClockOf("Elapsed");
    private static readonly Func<TimeSpan> AkkaMonotonicHighRes = ClockOf("ElapsedHighRes");

    private readonly object _lock = new();
    private readonly PriorityQueue<Registration, long> _due = new();
    private readonly List<Registration> _firing = [];
    private readonly Thread _thread;
    private readonly TimeSpan _shutdownTimeout;
    private long _sleepingUntil = long.MaxValue;
    private int _purgeAbove = MinPurge;
    private bool _stopping;
    private List<Registration>? _leftAtStop;

    private const int MinPurge = 1024;

    /// <summary>
    /// How late every registration runs, at least: one millisecond. Akka's own clock
    /// (<see cref="MonotonicClock"/>) counts whole milliseconds, and Akka code compares deadlines
    /// against it with <c>&lt;</c>: a timer run within the millisecond it is due finds its deadline
    /// not yet passed. Akka's wheel runs up to a tick late and never meets this. Seen with
    /// <c>Inbox.ReceiveAsync</c>: 10-85 of 300 concurrent receives never ended when timers ran
    /// exactly on time, 1 with this (13-14 under Akka's wheel: the inbox has a race of its own,
    /// and the management API no longer uses it).
    /// </summary>
    private static readonly long LateBy = Stopwatch.Frequency / 1000;

    public TicklessScheduler(Akka.Configuration.Config config, ILoggingAdapter log) : this(config, log, "akka-scheduler")
    {
    }

    /// <summary>With a thread name of its own (tests tell their scheduler's thread from others').</summary>
    internal TicklessScheduler(Akka.Configuration.Config config, ILoggingAdapter log, string threadName) : base(config, log)
    {
        _shutdownTimeout = config.GetTimeSpan("akka.scheduler.shutdown-timeout", TimeSpan.FromSeconds(5));
        _thread = new Thread(Run) { IsBackground = true, Name = threadName };
        _thread.Start();
    }

    /// <summary>Registrations not yet run (cancelled ones not purged yet included); for tests.</summary>
    public int Pending
    {
        get
        {
            lock (_lock) return _due.Count;
        }
    }

    protected override DateTimeOffset TimeNow => DateTimeOffset.UtcNow;

    // Akka's own clock (Akka.Util.MonotonicClock, internal): other parts of Akka compare with it.
    public override TimeSpan MonotonicClock => AkkaMonotonic();

    public override TimeSpan HighResMonotonicClock => AkkaMonotonicHighRes();

    protected override void InternalScheduleTellOnce(TimeSpan delay, ICanTell receiver, object message, IActorRef sender, ICancelable cancelable) =>
        Add(delay, TimeSpan.Zero, new Tell(receiver, message, sender), cancelable);

    protected override void InternalScheduleTellRepeatedly(TimeSpan initialDelay, TimeSpan interval, ICanTell receiver, object message, IActorRef sender, ICancelable cancelable) =>
        Add(initialDelay, interval, new Tell(receiver, message, sender), cancelable);

    protected override void InternalScheduleOnce(TimeSpan delay, Action action, ICancelable cancelable) =>
        Add(delay, TimeSpan.Zero, new ActionRunnable(action), cancelable);

    protected override void InternalScheduleOnce(TimeSpan delay, IRunnable action, ICancelable cancelable) =>
        Add(delay, TimeSpan.Zero, action, cancelable);

    protected override void InternalScheduleRepeatedly(TimeSpan initialDelay, TimeSpan interval, Action action, ICancelable cancelable) =>
        Add(initialDelay, interval, new ActionRunnable(action), cancelable);

    protected override void InternalScheduleRepeatedly(TimeSpan initialDelay, TimeSpan interval, IRunnable action, ICancelable cancelable) =>
        Add(initialDelay, interval, action, cancelable);

    private void Add(TimeSpan delay, TimeSpan interval, IRunnable action, ICancelable? cancelable)
    {
        var registration = new Registration(action, cancelable, ToStopwatch(interval));
        var at = Stopwatch.GetTimestamp() + ToStopwatch(delay) + LateBy;
        lock (_lock)
        {
            if (_stopping) throw new SchedulerException("cannot enqueue after timer shutdown");
            _due.Enqueue(registration, at);
            if (_due.Count > _purgeAbove) Purge();
            if (at < _sleepingUntil) Monitor.Pulse(_lock);
        }
    }

    /// <summary>Drops cancelled registrations (under the lock); the next purge waits until the queue doubles.</summary>
    private void Purge()
    {
        var live = new List<(Registration, long)>(_due.Count);
        while (_due.TryDequeue(out var r, out var at))
        {
            if (!r.Cancelled) live.Add((r, at));
        }
        _due.EnqueueRange(live);
        _purgeAbove = Math.Max(MinPurge, 2 * _due.Count);
    }

    private void Run()
    {
        while (true)
        {
            lock (_lock)
            {
                while (true)
                {
                    if (_stopping)
                    {
                        _leftAtStop ??= [];
                        while (_due.TryDequeue(out var left, out _))
                        {
                            if (!left.Cancelled) _leftAtStop.Add(left);
                        }
                        Monitor.PulseAll(_lock);
                        return;
                    }
                    var now = Stopwatch.GetTimestamp();
                    if (_due.TryPeek(out _, out var first) && first <= now) break;
                    _sleepingUntil = _due.Count == 0 ? long.MaxValue : first;
                    Monitor.Wait(_lock, _due.Count == 0 ? Timeout.Infinite : WaitMs(first - now));
                    _sleepingUntil = long.MaxValue;
                }
                var until = Stopwatch.GetTimestamp();
                while (_due.TryPeek(out var r, out var at) && at <= until)
                {
                    _due.Dequeue();
                    if (r.Cancelled) continue;
                    r.DueAt = at;
                    _firing.Add(r);
                }
            }
            foreach (var r in _firing)
            {
                if (!TryRun(r) || !r.Repeats || r.Cancelled) continue;
                var next = r.DueAt + r.Interval;
                var now = Stopwatch.GetTimestamp();
                if (next <= now) next = now + r.Interval; // late (a stall): no burst of missed runs
                lock (_lock) _due.Enqueue(r, next);
            }
            _firing.Clear();
        }
    }

    private bool TryRun(Registration r)
    {
        try
        {
            r.Action.Run();
            return true;
        }
        catch (Exception ex)
        {
            try
            {
                Log.Error(ex, "Error while executing scheduled task {0}", r.Action);
            }
            catch
            {
                // a failing logger must not stop the scheduler
            }
            return false;
        }
    }

    /// <summary>Milliseconds to wait for <paramref name="ticks"/> of Stopwatch time, rounded up (never early, never 0).</summary>
    private static int WaitMs(long ticks) =>
        (int)Math.Clamp((ticks * 1000 + Stopwatch.Frequency - 1) / Stopwatch.Frequency, 1, int.MaxValue - 1);

    private static long ToStopwatch(TimeSpan span) =>
        span <= TimeSpan.Zero ? 0 : (long)Math.Min(span.Ticks * (double)Stopwatch.Frequency / TimeSpan.TicksPerSecond, long.MaxValue / 4);

    private static Func<TimeSpan> ClockOf(string property)
    {
        var getter = typeof(ActorSystem).Assembly.GetType("Akka.Util.MonotonicClock")
            ?.GetProperty(property, BindingFlags.Public | BindingFlags.Static)?.GetMethod;
        if (getter is not null) return getter.CreateDelegate<Func<TimeSpan>>();
        var fallback = Stopwatch.StartNew();
        return () => fallback.Elapsed;
    }

    public void Dispose()
    {
        List<Registration>? left;
        lock (_lock)
        {
            if (_stopping) return;
            _stopping = true;
            if (_thread == Thread.CurrentThread)
            {
                // Disposed from a scheduled action: the loop ends when that action returns.
                _leftAtStop = [.. _due.UnorderedItems.Select(i => i.Element).Where(r => !r.Cancelled)];
                _due.Clear();
            }
            Monitor.PulseAll(_lock);
            var deadline = Stopwatch.GetTimestamp() + ToStopwatch(_shutdownTimeout);
            while (_leftAtStop is null)
            {
                var wait = deadline - Stopwatch.GetTimestamp();
                if (wait <= 0) break;
                Monitor.Wait(_lock, WaitMs(wait));
            }
            left = _leftAtStop;
        }
        if (left is null)
        {
            Log.Warning("Failed to shutdown scheduler within {0}", _shutdownTimeout);
            return;
        }
        // As Akka's scheduler: what was still registered runs once.
        foreach (var r in left)
        {
            try
            {
                r.Action.Run();
            }
            catch (SchedulerException)
            {
                // from terminated actors
            }
            catch (Exception ex)
            {
                Log.Error(ex, "Exception while executing timer task.");
            }
        }
    }

    private sealed class Registration(IRunnable action, ICancelable? cancelable, long interval)
    {
        public IRunnable Action => action;

        public long Interval => interval;

        public bool Repeats => interval > 0;

        public bool Cancelled => cancelable?.IsCancellationRequested ?? false;

        /// <summary>When it was due this time (Stopwatch ticks), for the next run of a repeated one.</summary>
        public long DueAt;
    }

    private sealed class Tell(ICanTell receiver, object message, IActorRef sender) : IRunnable
    {
        public void Run() => receiver.Tell(message, sender);

#if NET6_0_OR_GREATER
        public void Execute() => Run();
#endif

        public override string ToString() => $"[{receiver}.Tell({message}, {sender})]";
    }
}
