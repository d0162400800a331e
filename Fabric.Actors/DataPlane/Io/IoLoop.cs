using System.Collections.Concurrent;
using System.Diagnostics;

namespace Fabric.Actors.DataPlane.Io;

/// <summary>
/// One I/O thread that receives for many ports (OVS handler threads, VPP workers): an epoll set
/// over the ports' descriptors, a timer queue for ports that produce frames at a time of their
/// own (a rate-limited generator), and a ready queue for in-memory ports signalled from other
/// threads (a ghost port given a probe). A port with nothing to read costs nothing: no thread,
/// no wake-up, no batch. A batch is rented from the loop's shared <see cref="Pool"/> only when a
/// port is readable, and when the pool is at its cap the port's frames are read into a scratch
/// batch and dropped at ingress, counted as <see cref="PortDropReason.RxNoBuffer"/>.
/// </summary>
/// <remarks>
/// The callback contract is the one of <see cref="IPort.StartReceiving"/>: each non-empty batch
/// is handed to the port's callback on this loop's thread, which then owns it. A callback must
/// not block (it delays every other port of the loop); it runs to completion or tells the batch
/// on. A port is served at most <see cref="BatchesPerTurn"/> full batches in a row before the
/// others get a turn. Level-triggered epoll: a socket with data left is reported again.
/// </remarks>
public sealed unsafe class IoLoop : IDisposable
{
    /// <summary>Full batches one port may receive before the loop moves to the next ready port (hocon <c>fabric.io.batches-per-turn</c>).</summary>
    public int BatchesPerTurn { get; }

    /// <summary>Most ready sockets one epoll_wait reports (hocon <c>fabric.io.max-events</c>).</summary>
    private readonly int _maxEvents;

    private readonly int _epoll;
    private readonly int _wakeFd;
    private readonly Thread _thread;
    private readonly ConcurrentDictionary<ulong, Registration> _registrations = new();
    private readonly ConcurrentQueue<Registration> _signalled = new();
    private readonly PriorityQueue<Registration, long> _timers = new(); // loop thread only
    private readonly List<Registration> _readyNow;                      // loop thread only
    private List<Registration> _readAhead = new();                       // loop thread only: ports that read frames behind a write this turn
    private List<Registration> _readAheadServing = new();                // loop thread only
    private PacketBatch? _scratch;                                     // loop thread only, made at the first drop
    private ulong _nextId;
    private int _wakePending;
    private readonly bool _shared;
    private readonly long _busyPollTicks;
    private volatile bool _stop;
    private long _turns;
    private long _wakeups;
    private readonly LoopRealtimePacer _realtime;
    private volatile int _threadId;

    /// <param name="shared">True for the process's shared loops (<see cref="IoLoops"/>), whose
    /// callbacks must never wait (<see cref="OnLoopThread"/>). False for a loop one owner keeps for
    /// its own ports (a gateway's TAPs): its callbacks may wait for that owner's lock, as on a
    /// port's own receive thread, since no other owner's port is behind them.</param>
    /// <param name="name">The thread's name (default <c>io-loop-INDEX</c>).</param>
    /// <param name="busyPoll">After a turn that received frames, keep looking without sleeping for
    /// this long (hocon <c>fabric.io.busy-poll</c>; zero = sleep at once): an answer that arrives
    /// within it is read without the wake-up of a sleeping thread. Costs CPU only while frames flow.</param>
    /// <param name="realtime">Real-time priority while the loop's load is light (default off, see <see cref="LoopRealtime"/>).</param>
    public IoLoop(int index, PacketBatchPool pool, int batchesPerTurn, int maxEvents, bool shared = true, string? name = null,
        TimeSpan busyPoll = default, LoopRealtime? realtime = null)
    {
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchesPerTurn, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxEvents, 1);
        BatchesPerTurn = batchesPerTurn;
        _maxEvents = maxEvents;
        _readyNow = new(maxEvents);
        Index = index;
        Pool = pool;
        _epoll = LinuxNative.EpollCreate1(LinuxNative.EPOLL_CLOEXEC);
        if (_epoll < 0)
        {
            throw new IOException($"epoll_create1: {LinuxNative.Describe(LinuxNative.LastError)}");
        }

        _wakeFd = LinuxNative.EventFd(0, LinuxNative.EFD_NONBLOCK | LinuxNative.EFD_CLOEXEC);
        if (_wakeFd < 0 || !Watch(_wakeFd, 0))
        {
            LinuxNative.Close(_epoll);
            throw new IOException($"eventfd/epoll_ctl: {LinuxNative.Describe(LinuxNative.LastError)}");
        }

        _shared = shared;
        _busyPollTicks = (long)(busyPoll.TotalSeconds * Stopwatch.Frequency);
        _realtime = new LoopRealtimePacer(realtime ?? LoopRealtime.Off, () => Name);
        _thread = new Thread(Run) { IsBackground = true, Name = name ?? $"io-loop-{index}" };
        LiveLoops[this] = 0;
        _thread.Start();
    }

    public int Index { get; }

    /// <summary>Where this loop's ports rent their receive batches (bounded, grown on demand).</summary>
    public PacketBatchPool Pool { get; }

    /// <summary>Ports receiving on this loop now.</summary>
    public int Ports => _registrations.Count;

    /// <summary>Port services run (one per ready port per wake-up).</summary>
    public long Turns => Interlocked.Read(ref _turns);

    /// <summary>Times the loop thread woke up (from epoll, a signal or a timer).</summary>
    public long Wakeups => Interlocked.Read(ref _wakeups);

    internal bool IsLoopThread => Thread.CurrentThread == _thread;

    /// <summary>Whether the loop thread runs at real-time priority now (light load; see <see cref="LoopRealtime"/>).</summary>
    public bool IsRealtime => _realtime.IsRealtime;

    /// <summary>Times the loop thread went to real-time priority (at start, and after a busy spell).</summary>
    public long RealtimePromotions => _realtime.Promotions;

    /// <summary>Times the loop thread went back to normal priority because it was busy.</summary>
    public long RealtimeDemotions => _realtime.Demotions;

    /// <summary>The loop thread's kernel id (0 until it has started).</summary>
    public int ThreadId => _threadId;

    /// <summary>Why the kernel refused a loop real-time priority (the first refusal in this process), or null.</summary>
    public static string? RealtimeRefused => LoopRealtimePacer.Refused;

    /// <summary>
    /// Told the first refusal of real-time priority in this process, once (the node logs it); set
    /// after a refusal already happened, it is told that one at once.
    /// </summary>
    public static Action<string>? ReportRealtimeRefused
    {
        get => LoopRealtimePacer.ReportRefusal;
        set => LoopRealtimePacer.ReportRefusal = value;
    }

    private static readonly ConcurrentDictionary<IoLoop, byte> LiveLoops = new();

    /// <summary>The loops of this process not disposed yet (shared and owned), for metrics.</summary>
    public static IEnumerable<IoLoop> Live => LiveLoops.Keys;

    /// <summary>The loop thread's name (io-loop-N, or the owner's: gw-rx-NAME).</summary>
    public string Name => _thread.Name ?? $"io-loop-{Index}";

    /// <summary>True on a shared I/O loop's thread: a callback there must not wait (it would stall every port of the loop).</summary>
    public static bool OnLoopThread => t_onLoop;

    [ThreadStatic]
    private static bool t_onLoop;

    /// <summary>Starts receiving for <paramref name="port"/> on this loop (any thread).</summary>
    internal Registration Attach(Port port, PacketBatchPool? pool, Action<PacketBatch> onBatch)
    {
        ObjectDisposedException.ThrowIf(_stop, this);
        var registration = new Registration(this, Interlocked.Increment(ref _nextId), port, pool ?? Pool, onBatch);
        _registrations[registration.Id] = registration;
        int fd = port.ReadinessFd;
        if (fd >= 0 && !Watch(fd, registration.Id))
        {
            _registrations.TryRemove(registration.Id, out _);
            throw new IOException($"epoll_ctl({port.Name}): {LinuxNative.Describe(LinuxNative.LastError)}");
        }

        registration.Fd = fd;
        Signal(registration); // first look (and timer) on the loop thread
        return registration;
    }

    /// <summary>
    /// Stops receiving for a registration; when called off the loop thread, returns only once
    /// the loop is no longer inside that port's receive or callback.
    /// </summary>
    internal void Detach(Registration registration)
    {
        if (!_registrations.TryRemove(registration.Id, out _))
        {
            return;
        }

        registration.Stopped = true;
        Interlocked.MemoryBarrier();
        if (registration.Fd >= 0)
        {
            LinuxNative.EpollCtl(_epoll, LinuxNative.EPOLL_CTL_DEL, registration.Fd, null);
        }

        if (!IsLoopThread)
        {
            var spin = new SpinWait();
            while (Volatile.Read(ref registration.InService) != 0)
            {
                spin.SpinOnce(sleep1Threshold: 10);
            }
        }
    }

    /// <summary>Marks a registration ready (any thread): the loop serves it on its next turn.</summary>
    internal void Signal(Registration registration)
    {
        if (registration.Stopped || Interlocked.Exchange(ref registration.Signalled, 1) == 1)
        {
            return;
        }

        _signalled.Enqueue(registration);
        Wake();
    }

    private void Wake()
    {
        if (!IsLoopThread && Interlocked.Exchange(ref _wakePending, 1) == 0)
        {
            LinuxNative.Signal(_wakeFd);
        }
    }

    private bool Watch(int fd, ulong data)
    {
        byte* ev = stackalloc byte[16];
        LinuxNative.WriteEpollEvent(ev, LinuxNative.EPOLLIN, data);
        return LinuxNative.EpollCtl(_epoll, LinuxNative.EPOLL_CTL_ADD, fd, ev) == 0;
    }

    private void Run()
    {
        t_onLoop = _shared;
        _threadId = LinuxNative.GetTid();
        byte* events = stackalloc byte[_maxEvents * LinuxNative.EpollEventSize];
        long spinUntil = 0;
        _realtime.Start();

        while (!_stop)
        {
            // A port signalled from this thread (a callback's frame for an in-memory port of the
            // same loop, or a port with more queued) wrote no eventfd: look without sleeping. So
            // too while busy-polling after a turn that received frames.
            int timeout = _signalled.IsEmpty ? NextTimeoutMs() : 0;
            if (timeout != 0 && spinUntil != 0 && Stopwatch.GetTimestamp() < spinUntil)
            {
                timeout = 0;
            }

            bool paced = _realtime.Active;
            long waitStart = 0;
            if (paced)
            {
                timeout = _realtime.LimitTimeout(timeout);
                waitStart = Stopwatch.GetTimestamp();
            }

            int n = LinuxNative.EpollWait(_epoll, events, _maxEvents, timeout);
            if (paced)
            {
                _realtime.Waited(waitStart);
            }

            if (n < 0)
            {
                if (LinuxNative.LastError == LinuxNative.EINTR)
                {
                    continue;
                }

                break; // the epoll set was closed: the loop is being disposed
            }

            Interlocked.Increment(ref _wakeups);
            _readyNow.Clear();
            for (int i = 0; i < n; i++)
            {
                var (_, data) = LinuxNative.ReadEpollEvent(events + i * LinuxNative.EpollEventSize);
                if (data == 0)
                {
                    // Drain, then clear: cleared first, a Wake in between would write the eventfd,
                    // the drain would swallow it and the flag would stay set, so no later Wake
                    // would ever write again (the loop then slept through every signal).
                    LinuxNative.Drain(_wakeFd);
                    Interlocked.Exchange(ref _wakePending, 0);
                }
                else if (_registrations.TryGetValue(data, out var registration))
                {
                    _readyNow.Add(registration);
                }
            }

            while (_signalled.TryDequeue(out var signalled))
            {
                Volatile.Write(ref signalled.Signalled, 0);
                if (!_readyNow.Contains(signalled))
                {
                    _readyNow.Add(signalled);
                }
            }

            long now = Stopwatch.GetTimestamp();
            while (_timers.TryPeek(out var timed, out long due) && due <= now)
            {
                _timers.Dequeue();
                if (timed.DueTicks == due)
                {
                    timed.DueTicks = long.MaxValue; // fired: no entry left for it
                    if (!_readyNow.Contains(timed))
                    {
                        _readyNow.Add(timed);
                    }
                }
            }

            bool received = false;
            foreach (var registration in _readyNow)
            {
                received |= Serve(registration);
            }

            received |= ServeReadAhead();

            if (received && _busyPollTicks > 0)
            {
                spinUntil = Stopwatch.GetTimestamp() + _busyPollTicks;
            }

            if (paced)
            {
                _realtime.TurnEnded();
            }
        }
    }

    /// <summary>
    /// A port of this loop read frames ahead outside its turn (a TAP reading back, in the system
    /// call of a write to it, what the write provoked: an echo reply, a SYN-ACK): the loop serves
    /// it before it next waits, with no epoll_wait and no read of its own. Loop thread only.
    /// </summary>
    internal void ServeBeforeWaiting(Registration registration)
    {
        Debug.Assert(IsLoopThread);
        if (!registration.Stopped && !_readAhead.Contains(registration))
        {
            _readAhead.Add(registration);
        }
    }

    /// <summary>
    /// Serves, once, the ports that read ahead during this turn (<see cref="ServeBeforeWaiting"/>);
    /// those that read ahead again meanwhile are signalled, so the next wait does not sleep.
    /// </summary>
    private bool ServeReadAhead()
    {
        if (_readAhead.Count == 0)
        {
            return false;
        }

        (_readAheadServing, _readAhead) = (_readAhead, _readAheadServing);
        bool received = false;
        foreach (var registration in _readAheadServing)
        {
            // One that a turn of its own served since (it was ready too) holds nothing now: no read for it.
            if (registration.Port.HoldsReadFrames)
            {
                received |= Serve(registration);
            }
        }

        _readAheadServing.Clear();
        foreach (var registration in _readAhead)
        {
            Signal(registration);
        }

        _readAhead.Clear();
        return received;
    }

    private int NextTimeoutMs()
    {
        while (_timers.TryPeek(out var timed, out long due))
        {
            if (timed.Stopped || timed.DueTicks != due)
            {
                _timers.Dequeue(); // stale entry
                continue;
            }

            long wait = due - Stopwatch.GetTimestamp();
            // Rounded up: a wait rounded down to 0 ms would spin until the due time.
            return wait <= 0 ? 0 : (int)Math.Min(int.MaxValue, (wait * 1000 + Stopwatch.Frequency - 1) / Stopwatch.Frequency);
        }

        return -1;
    }

    /// <summary>Receives for one ready port; true when it handed over frames.</summary>
    private bool Serve(Registration r)
    {
        if (r.Stopped)
        {
            return false;
        }

        Interlocked.Exchange(ref r.InService, 1); // a full fence: Detach's write of Stopped is seen, or it sees this
        try
        {
            if (r.Stopped)
            {
                return false;
            }

            Interlocked.Increment(ref _turns);
            Port port = r.Port;
            bool more = false, handed = false;
            for (int turn = 0; turn < BatchesPerTurn && !r.Stopped; turn++)
            {
                if (!r.Pool.TryRent(out var batch))
                {
                    DropAtIngress(port);
                    break;
                }

                int received = port.ReceiveBatch(batch, 0);
                if (received == 0)
                {
                    batch.Return();
                    break;
                }

                bool full = batch.IsFull;
                handed = true;
                r.OnBatch(batch); // ownership passes to the callback
                if (!full)
                {
                    break;
                }

                more = turn == BatchesPerTurn - 1;
            }

            if (port.State is PortState.Gone or PortState.Closed)
            {
                Detach(r);
                return handed;
            }

            if (more && r.Fd < 0)
            {
                Signal(r); // an in-memory port with more queued: after the others' turn
            }

            ScheduleTimer(r, port);
            return handed;
        }
        catch (Exception ex)
        {
            r.Port.ReceiveFailed(ex);
            Detach(r);
            return false;
        }
        finally
        {
            Volatile.Write(ref r.InService, 0);
        }
    }

    private void ScheduleTimer(Registration r, Port port)
    {
        long due = port.NextReceiveDue(Stopwatch.GetTimestamp());
        if (due == long.MaxValue)
        {
            r.DueTicks = long.MaxValue;
            return;
        }

        if (due != r.DueTicks)
        {
            r.DueTicks = due;
            _timers.Enqueue(r, due);
        }
    }

    /// <summary>The pool is at its cap: read what the port holds into the scratch batch and drop it, counted.</summary>
    private void DropAtIngress(Port port)
    {
        _scratch ??= new PacketBatch(Pool.BatchCapacity, Pool.SlotSize, Pool.Headroom);
        for (int turn = 0; turn < BatchesPerTurn; turn++)
        {
            _scratch.Clear();
            int n = port.ReceiveBatch(_scratch, 0);
            if (n == 0)
            {
                break;
            }

            port.Counters.AddDrop(PortDropReason.RxNoBuffer, n);
        }

        _scratch.Clear();
    }

    public void Dispose()
    {
        if (_stop)
        {
            return;
        }

        _stop = true;
        LiveLoops.TryRemove(this, out _);
        LinuxNative.Signal(_wakeFd);
        if (!IsLoopThread)
        {
            _thread.Join(TimeSpan.FromSeconds(2));
        }

        LinuxNative.Close(_wakeFd);
        LinuxNative.Close(_epoll);
    }

    /// <summary>One port receiving on a loop.</summary>
    internal sealed class Registration(IoLoop loop, ulong id, Port port, PacketBatchPool pool, Action<PacketBatch> onBatch)
    {
        public IoLoop Loop { get; } = loop;
        public ulong Id { get; } = id;
        public Port Port { get; } = port;
        public PacketBatchPool Pool { get; } = pool;
        public Action<PacketBatch> OnBatch { get; } = onBatch;
        public int Fd = -1;
        public volatile bool Stopped;
        public int InService;
        public int Signalled;
        public long DueTicks = long.MaxValue;

        public void Signal() => Loop.Signal(this);
    }
}
