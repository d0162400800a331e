using System.Diagnostics;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.Pseudowire;

/// <summary>
/// The node's liveness path, kept apart from the data path so an overload cannot flap a trunk:
/// one thread (SCHED_FIFO when the process may, else nice -10) that receives hellos on their own
/// socket (the kernel steers associated-channel datagrams there, see <see cref="PwUnderlay"/>),
/// runs every PW's session (RFC 5880 state machine) every few milliseconds, sends hellos when due
/// from the underlay's hello socket, and reports each transition to the PW's actor.
/// </summary>
/// <remarks>
/// <para>Before this, hellos were sent and sessions evaluated by Akka timers on the shared
/// dispatcher, and received behind data in the one 6635 socket: an unlimited blast starved all
/// three and took whole trunks down.</para>
/// <para>CPU contention (2x oversubscription, a GC pause, a VM steal) used to flap every idle
/// trunk at once: the clock thread did not run for a few hundred ms, then woke, found every
/// session's last hello older than its detection time and declared them all down, although
/// the hellos were sitting in its own socket, or were never sent because the same stall had
/// stopped the sender. Two rules prevent it (docs/architecture.md, "Liveness under contention"):
/// (1) <b>late but present counts</b>: before sessions are evaluated the hello socket is drained
/// completely, so a hello the kernel holds is seen; (2) <b>only time the clock was awake
/// counts</b>: detection runs on <see cref="AwakeTicks"/>, a clock that advances with real time
/// while the thread runs on schedule but only by <see cref="LivenessSettings.StallSlack"/> for a
/// wake-up that came later than asked (the rest is counted in <see cref="StallMs"/>). A PW
/// that really dies is still detected after its detection time (50 ms x 3) of the clock being
/// awake, so failover is as fast as before when the node is healthy; a stall only delays it
/// by the stall.</para>
/// </remarks>
public sealed class PwLivenessClock : IDisposable
{
    /// <summary>How far a reader of <see cref="AwakeTicks"/> may run ahead of the clock thread's last advance.</summary>
    private static readonly long MaxTick = Stopwatch.Frequency / 200; // 5 ms

    /// <summary>Hello batches drained from the socket before an evaluation, at most.</summary>
    private const int MaxDrainBatches = 256;

    private readonly PwUnderlay _underlay;
    private readonly UdpUnderlayPort? _receiver;
    private readonly Lock _lock = new();
    private readonly Thread _thread;
    private readonly ManualResetEventSlim _wake = new(); // ends the wait when hellos have no socket of their own
    private readonly long _stallSlackTicks;
    private readonly Dictionary<PwLink, Session> _byLink = []; // under _lock
    private readonly Dictionary<long, int> _intervals = []; // under _lock: sessions per intent interval (ticks), for the budget
    private Session[] _sessions = []; // the clock thread's snapshot of _byLink
    private int _sessionsChanged;    // 1 when _byLink changed since the clock thread's last snapshot
    private readonly List<(Session Session, BfdState Before)> _changed = new(64); // clock thread only
    private readonly PacketBatch _rx = new(64); // clock thread only
    private volatile bool _stop;
    private long _hellosSteered;
    private long _strays;
    private long _awake;      // the awake clock, Stopwatch ticks (clock thread writes)
    private long _lastReal;   // real time the awake clock was last advanced at
    private long _stallTicks;
    private long _stalls;
    private long _wakeups;
    private long _askedTicks; // how long the clock thread is sleeping now (for AwakeTicks readers)
    private int _stretch = 1;  // every session's TX interval is its intent interval times this (a power of two)
    private int _budgetStretch = 1; // under _lock: what the hello budget asks for
    private bool _quiet;            // under _lock: the ghost copy between verifications
    private IReadOnlySet<string> _urgent = new HashSet<string>(); // under _lock: PWs a verification judges
    private double _urgentRate;         // under _lock: hellos a second the urgent sessions send at their intent intervals
    private volatile bool _urgentFits;  // ... and whether they fit in half the budget

    internal PwLivenessClock(PwUnderlay underlay, UdpUnderlayPort? helloReceiver, LivenessSettings? settings = null, bool ghost = false)
    {
        _underlay = underlay;
        _receiver = helloReceiver;
        Settings = settings ?? LivenessSettings.Default;
        HelloBudget = ghost ? Settings.GhostHelloBudget : Settings.HelloBudget;
        QuietStretch = ghost ? Settings.GhostQuietStretch : 1;
        _stallSlackTicks = (long)(Settings.StallSlack.TotalSeconds * Stopwatch.Frequency);
        _lastReal = Stopwatch.GetTimestamp();
        _awake = _lastReal;
        _thread = new Thread(Run) { IsBackground = true, Name = "pw-liveness" };
    }

    /// <summary>How a PW actor hears of a session transition: (before, after, RFC 5880 diagnostic).</summary>
    public delegate void TransitionHandler(BfdState before, BfdState after, byte diagnostic);

    public LivenessSettings Settings { get; }

    /// <summary>True when the thread runs at a raised priority (SCHED_FIFO, or nice below 0).</summary>
    public bool RaisedPriority { get; private set; }

    /// <summary>How the thread is scheduled: "fifo:N", "nice:N" or "default".</summary>
    public string Scheduling { get; private set; } = "default";

    /// <summary>True when hellos arrive on their own socket (the kernel accepted the steering program).</summary>
    public bool HasOwnSocket => _receiver is not null;

    /// <summary>Hellos received on the hello socket.</summary>
    public long HellosSteered => Interlocked.Read(ref _hellosSteered);

    /// <summary>Non-hello datagrams that reached the hello socket (dropped; none expected).</summary>
    public long Strays => Interlocked.Read(ref _strays);

    /// <summary>Wake-ups of the clock thread that came later than asked plus the slack.</summary>
    public long Stalls => Interlocked.Read(ref _stalls);

    /// <summary>Total time the clock thread was held up beyond the slack (not counted against any session).</summary>
    public double StallMs => Interlocked.Read(ref _stallTicks) * 1000.0 / Stopwatch.Frequency;

    /// <summary>Times the clock thread woke (a due hello or deadline, or hellos arriving).</summary>
    public long Wakeups => Interlocked.Read(ref _wakeups);

    /// <summary>Most hellos a second this clock sends (0 = no limit): <see cref="LivenessSettings.HelloBudget"/>, or the ghost copy's.</summary>
    public int HelloBudget { get; }

    /// <summary>
    /// What every session's TX interval is multiplied by so that the node's hellos stay within
    /// <see cref="HelloBudget"/>: 1 while they fit, else the smallest power of two that makes them fit.
    /// </summary>
    public int Stretch => Volatile.Read(ref _stretch);

    /// <summary>
    /// The stretch a quiet clock runs at, at least (<see cref="LivenessSettings.GhostQuietStretch"/>
    /// for the ghost copy's clock, 1 for main's: main is never quiet).
    /// </summary>
    public int QuietStretch { get; }

    /// <summary>
    /// True while the clock is quiet: its sessions' hellos go <see cref="QuietStretch"/> times less
    /// often (advertised, so the peers' detection times grow with them). The ghost copy is quiet
    /// between verifications; a verification makes it fast again before it judges anything, and
    /// waits out <see cref="LongestDetectionTime"/>, so a PW that went down while its ends were
    /// quiet is still seen down.
    /// </summary>
    public bool Quiet
    {
        get
        {
            lock (_lock)
            {
                return _quiet;
            }
        }

        set
        {
            bool changed;
            lock (_lock)
            {
                _quiet = value;
                changed = Restretch();
            }

            // Hellos advertising the new interval go at once, not at the next (stretched) one.
            if (changed)
            {
                Wake();
            }
        }
    }

    /// <summary>
    /// The longest detection time of this clock's sessions that are up, where it is longer than
    /// the hello budget's stretch explains: how long a PW whose other end went silent during a
    /// quiet spell can still read as up here. It stays long until the peer's next hello advertises
    /// the short interval again; zero when no session is in that state. (A stretch the budget
    /// forces on both ends, thousands of ghost PWs on one node, is the copy's standing floor and
    /// is not counted: the verifier has always judged those at the intent's detection time.)
    /// </summary>
    public TimeSpan LongestDetectionTime
    {
        get
        {
            var longest = TimeSpan.Zero;
            lock (_lock)
            {
                foreach (var (link, session) in _byLink)
                {
                    if (!link.HasLiveness || link.Liveness.State != BfdState.Up)
                    {
                        continue;
                    }

                    // An urgent session is judged at its intent's detection time: anything longer counts.
                    var liveness = link.Liveness;
                    var detection = liveness.DetectionTime;
                    var budgeted = liveness.Interval * (liveness.Multiplier * (session.Urgent ? 1 : _budgetStretch));
                    if (detection > budgeted && detection > longest)
                    {
                        longest = detection;
                    }
                }
            }

            return longest;
        }
    }

    /// <summary>
    /// The PWs (by name) a verification is about to judge, on the ghost copy's clock: their
    /// sessions run at their intent intervals whatever stretch the hello budget puts on the others
    /// (thousands of ghost PWs at 3.2 s instead of 50 ms), as long as their hellos fit in half the
    /// budget; else they keep the stretch and <see cref="LongestDetectionTime"/> says so. Set
    /// before the change is applied, so both ends of each such PW have told each other the short
    /// interval by then. Empty: none.
    /// </summary>
    public IReadOnlySet<string> Urgent
    {
        get
        {
            lock (_lock)
            {
                return _urgent;
            }
        }

        set
        {
            ArgumentNullException.ThrowIfNull(value);
            lock (_lock)
            {
                _urgent = value;
                foreach (var s in _byLink.Values)
                {
                    s.Urgent = value.Contains(s.Link.Name);
                }

                RefitUrgent();
            }

            Wake(); // restretched sessions advertise their interval at once
        }
    }

    /// <summary>Under the lock: the urgent sessions' hello rate, counted again, and whether it fits in half the hello budget.</summary>
    private void RefitUrgent()
    {
        _urgentRate = 0;
        foreach (var s in _byLink.Values)
        {
            _urgentRate += UrgentRate(s);
        }

        _urgentFits = HelloBudget <= 0 || _urgentRate <= HelloBudget / 2.0;
    }

    /// <summary>Under the lock: a session joins (+1) or leaves (-1) the urgent ones' rate.</summary>
    private void CountUrgent(Session s, int sign)
    {
        _urgentRate += sign * UrgentRate(s);
        _urgentFits = HelloBudget <= 0 || _urgentRate <= HelloBudget / 2.0;
    }

    private static double UrgentRate(Session s) =>
        s.Urgent && s.Link.HasLiveness && s.Link.Liveness.Interval > TimeSpan.Zero ? TimeSpan.TicksPerSecond / (double)s.Link.Liveness.Interval.Ticks : 0;

    /// <summary>The stretch a session runs at: 1 for an urgent one that fits, else every session's.</summary>
    private int StretchOf(Session s) => s.Urgent && _urgentFits ? 1 : Volatile.Read(ref _stretch);

    /// <summary>Sessions run by this clock.</summary>
    public int Sessions
    {
        get
        {
            lock (_lock)
            {
                return _byLink.Count;
            }
        }
    }

    /// <summary>
    /// The awake clock (Stopwatch ticks): what hellos are stamped with and sessions are judged on.
    /// Any thread may read it; between two advances it runs with real time up to the slack.
    /// </summary>
    public long AwakeTicks
    {
        get
        {
            long since = Stopwatch.GetTimestamp() - Volatile.Read(ref _lastReal);
            return Volatile.Read(ref _awake) + Math.Clamp(since, 0, Volatile.Read(ref _askedTicks) + _stallSlackTicks + MaxTick);
        }
    }

    internal void Start() => _thread.Start();

    /// <summary>
    /// The thread's nice value when SCHED_FIFO is not used or not allowed: -10 for main (hellos
    /// must not wait behind the node's own work), 0 for the ghost network's clock.
    /// </summary>
    public int Niceness { get; set; } = -10;

    /// <summary>SCHED_FIFO priority to ask for (0 = do not: nice only). Main's clock only.</summary>
    public int RealtimePriority { get; set; }

    /// <summary>
    /// Starts running <paramref name="link"/>'s session: a hello now (the clock is woken for it:
    /// asleep until its next hello, it would otherwise send the first one up to a stretched
    /// interval later, and the peer's handshake would wait that long), then every interval.
    /// Constant time: thousands of PWs starting together cost one snapshot per clock wake-up.
    /// </summary>
    public void Add(PwLink link, TransitionHandler onTransition)
    {
        ArgumentNullException.ThrowIfNull(link);
        lock (_lock)
        {
            if (_byLink.TryGetValue(link, out var old))
            {
                Count(old.Link, -1);
                CountUrgent(old, -1);
            }

            var session = new Session(link, onTransition) { Urgent = _urgent.Contains(link.Name) };
            _byLink[link] = session;
            Count(link, +1);
            CountUrgent(session, +1);
            Rebudget();
        }

        if (Interlocked.Exchange(ref _sessionsChanged, 1) == 0)
        {
            Wake();
        }
    }

    public void Remove(PwLink link)
    {
        lock (_lock)
        {
            if (!_byLink.Remove(link, out var old))
            {
                return;
            }

            Count(old.Link, -1);
            CountUrgent(old, -1);
            Rebudget();
        }

        Interlocked.Exchange(ref _sessionsChanged, 1); // no hurry: the session goes at the next wake-up
    }

    /// <summary>Under the lock: counts a session with liveness in (or out of) its interval's group.</summary>
    private void Count(PwLink link, int delta)
    {
        if (!link.HasLiveness || link.Liveness.Interval <= TimeSpan.Zero)
        {
            return;
        }

        long ticks = link.Liveness.Interval.Ticks;
        int n = _intervals.GetValueOrDefault(ticks) + delta;
        if (n == 0)
        {
            _intervals.Remove(ticks);
        }
        else
        {
            _intervals[ticks] = n;
        }
    }

    /// <summary>Ends the clock thread's wait now (a session to start).</summary>
    private void Wake()
    {
        if (_receiver is { } receiver)
        {
            receiver.Interrupt();
        }
        else
        {
            _wake.Set();
        }
    }

    /// <summary>Clock thread: takes a new snapshot of the sessions when they changed.</summary>
    private Session[] CurrentSessions()
    {
        if (Volatile.Read(ref _sessionsChanged) != 0)
        {
            lock (_lock)
            {
                Volatile.Write(ref _sessionsChanged, 0);
                _sessions = [.. _byLink.Values];
            }
        }

        return _sessions;
    }

    /// <summary>
    /// Under the lock: the stretch that keeps the sessions' hellos within the budget. Powers of two
    /// keep sessions of one interval on one send grid and change the stretch only a few times while
    /// thousands of sessions are added; it shrinks only when the hellos would fit with 25 % to
    /// spare, so sessions coming and going at the edge do not make every session re-advertise.
    /// </summary>
    private void Rebudget()
    {
        // Hellos a second the sessions ask for at their intent intervals.
        double rate = 0;
        foreach (var (ticks, sessions) in _intervals)
        {
            rate += sessions * (double)TimeSpan.TicksPerSecond / ticks;
        }

        int stretch = StretchFor(rate, HelloBudget);
        if (stretch > _budgetStretch || StretchFor(rate * 1.25, HelloBudget) < _budgetStretch)
        {
            _budgetStretch = stretch;
        }

        Restretch();
    }

    /// <summary>Under the lock: the stretch sessions run at, from the budget's and the quiet floor; true when it changed.</summary>
    private bool Restretch()
    {
        int stretch = _quiet ? Math.Max(_budgetStretch, QuietStretch) : _budgetStretch;
        if (stretch == _stretch)
        {
            return false;
        }

        Volatile.Write(ref _stretch, stretch);
        return true;
    }

    /// <summary>The smallest power of two that brings <paramref name="rate"/> hellos a second within <paramref name="budget"/>.</summary>
    internal static int StretchFor(double rate, int budget)
    {
        int stretch = 1;
        while (budget > 0 && rate / stretch > budget && stretch < 1 << 16)
        {
            stretch <<= 1;
        }

        return stretch;
    }

    /// <summary>
    /// Advances the awake clock to <paramref name="real"/>: by the real time elapsed when the
    /// thread woke no later than <paramref name="askedTicks"/> plus the slack, else by that much
    /// only (the rest was a stall nobody's hellos should be judged on).
    /// </summary>
    private long Advance(long real, long askedTicks)
    {
        long elapsed = real - _lastReal;
        long allowed = askedTicks + _stallSlackTicks;
        if (elapsed > allowed)
        {
            Interlocked.Add(ref _stallTicks, elapsed - allowed);
            Interlocked.Increment(ref _stalls);
            elapsed = allowed;
        }

        long awake = _awake + Math.Max(0, elapsed);
        Volatile.Write(ref _awake, awake);
        Volatile.Write(ref _lastReal, real);
        return awake;
    }

    private void Run()
    {
        ApplyScheduling();
        var rx = _rx;
        var tx = new PacketBatch();
        long msTicks = Stopwatch.Frequency / 1000;
        long asked = 0;
        try
        {
            while (!_stop)
            {
                long now = Advance(Stopwatch.GetTimestamp(), asked);
                // Late but present: whatever the kernel holds is read before any session is judged.
                DrainHellos(now);
                long next = RunSessions(now, tx);
                // Sleep until the next hello or detection deadline (rounded up: a wait rounded
                // down to 0 ms would spin), or until a hello arrives. No session, no wake-up.
                int waitMs = next == long.MaxValue ? 1000 : (int)Math.Clamp((next - now + msTicks - 1) / msTicks, 0, 1000);
                // A session added while this pass ran may have had its wake-up drained by a
                // DrainHellos poll: it runs now, not at the next due hello.
                if (Volatile.Read(ref _sessionsChanged) != 0)
                {
                    waitMs = 0;
                }

                Volatile.Write(ref _askedTicks, waitMs * msTicks);
                long before = Stopwatch.GetTimestamp();
                if (_receiver is { } receiver)
                {
                    rx.Clear();
                    if (receiver.ReceiveBatch(rx, waitMs) > 0)
                    {
                        ReceiveHellos(rx, Advance(Stopwatch.GetTimestamp(), Math.Min(Stopwatch.GetTimestamp() - before, waitMs * msTicks)));
                    }
                }
                else if (waitMs > 0 && _wake.Wait(waitMs))
                {
                    _wake.Reset();
                }

                asked = waitMs * msTicks;
                Interlocked.Increment(ref _wakeups);
            }
        }
        catch (ObjectDisposedException)
        {
            // the underlay closed under us: nothing left to run
        }
    }

    private void ApplyScheduling()
    {
        int tid = LinuxNative.GetTid();
        if (RealtimePriority > 0)
        {
            int priority = RealtimePriority;
            unsafe
            {
                if (LinuxNative.SchedSetScheduler(tid, LinuxNative.SCHED_FIFO, &priority) == 0)
                {
                    RaisedPriority = true;
                    Scheduling = $"fifo:{priority}";
                    return;
                }
            }
        }

        if (Niceness != 0 && LinuxNative.SetPriority(LinuxNative.PRIO_PROCESS, (uint)tid, Niceness) == 0)
        {
            RaisedPriority = Niceness < 0;
            Scheduling = $"nice:{Niceness}";
        }
    }

    /// <summary>Reads every hello the kernel holds (at most <see cref="MaxDrainBatches"/> batches).</summary>
    private void DrainHellos(long now)
    {
        if (_receiver is not { } drain)
        {
            return;
        }

        for (int n = 0; n < MaxDrainBatches; n++)
        {
            _rx.Clear();
            if (drain.ReceiveBatch(_rx, 0) == 0)
            {
                break;
            }

            ReceiveHellos(_rx, now);
        }
    }

    private void ReceiveHellos(PacketBatch rx, long now)
    {
        for (int i = 0; i < rx.Count; i++)
        {
            ReadOnlySpan<byte> datagram = rx.Frame(i);
            if (_underlay.TryGetPw(datagram, out var pw) && pw.IsControl(datagram))
            {
                pw.Receive(datagram, now);
                Interlocked.Increment(ref _hellosSteered);
            }
            else
            {
                Interlocked.Increment(ref _strays);
            }
        }
    }

    /// <summary>
    /// Evaluates every session and sends the hellos that are due, in one sendmmsg where they
    /// fall together; returns when the clock must next run (the earliest hello or detection
    /// deadline). Hellos are kept on a grid of their interval, so sessions with the same interval
    /// send together and an idle node wakes about once per interval, not once per session.
    /// </summary>
    private long RunSessions(long now, PacketBatch tx)
    {
        tx.Clear();
        _changed.Clear();
        long next = long.MaxValue;
        foreach (var s in CurrentSessions())
        {
            next = Math.Min(next, RunSession(s, now, tx));
        }

        if (tx.Count > 0)
        {
            _underlay.SendControl(tx);
            tx.Clear();
        }

        // Transitions are reported after their hellos have left: a PW actor slow to take the
        // report never delays telling the peer.
        foreach (var (s, before) in _changed)
        {
            s.OnTransition(before, s.Link.Liveness.State, s.Link.Liveness.Diagnostic);
        }

        return next;
    }

    private long RunSession(Session s, long now, PacketBatch tx)
    {
        var liveness = s.Link.Liveness;
        BfdState before = liveness.State;
        bool changed = liveness.Evaluate(now);
        int stretch = StretchOf(s);
        bool restretched = stretch != s.Stretch;
        if (restretched)
        {
            // A new TX interval is advertised at once: the peer's detection time of this end
            // follows it, and must before the next hello comes later than it expects.
            liveness.TxInterval = liveness.Interval * stretch;
            s.Stretch = stretch;
        }

        long interval = liveness.TxInterval.Ticks * Stopwatch.Frequency / TimeSpan.TicksPerSecond;
        // A transition is told to the peer at once rather than at the next interval.
        if (changed || restretched || now >= s.NextHello)
        {
            if (tx.IsFull)
            {
                _underlay.SendControl(tx);
                tx.Clear();
                // Thousands of sessions send on one grid tick, and where both ends run on this
                // node the hellos come back to this thread's own socket: read them between
                // batches, or a burst larger than the socket's buffer is lost and sessions flap.
                DrainHellos(now);
            }

            s.Link.AppendHello(tx);
            s.NextHello = interval > 0 ? (now / interval + 1) * interval : now;
        }

        if (changed)
        {
            _changed.Add((s, before));
        }

        long deadline = liveness.DetectionDeadline;
        return deadline > now ? Math.Min(s.NextHello, deadline) : s.NextHello;
    }

    public void Dispose()
    {
        _stop = true;
        Wake();
        if (_thread.IsAlive && !_thread.Join(TimeSpan.FromSeconds(2)))
        {
            // the receive poll wakes within one tick; a thread still alive is a background thread
        }

        _wake.Dispose();
    }

    private sealed class Session(PwLink link, TransitionHandler onTransition)
    {
        public PwLink Link { get; } = link;
        public TransitionHandler OnTransition { get; } = onTransition;
        public long NextHello;
        public int Stretch = 1;
        /// <summary>A verification judges this PW: it runs at its intent interval (<see cref="Urgent"/>). Written under the lock.</summary>
        public volatile bool Urgent;
    }
}
