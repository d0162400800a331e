namespace Fabric.Actors.DataPlane.Io;

/// <summary>
/// Shared plumbing of the ports: name, id, counters, state, the capture tee and receiving. A
/// subclass implements <see cref="ReceiveBatch"/>, <see cref="SendBatch"/>, and either opts into
/// the I/O loops (<see cref="ReceivesOnLoop"/>, with <see cref="ReadinessFd"/>,
/// <see cref="NextReceiveDue"/> or <see cref="SignalReceiver"/> saying when it has frames) or
/// keeps a dedicated receive thread and implements <see cref="WakeReceiver"/> (to cut a blocking
/// wait short when stopping). See README.md, "Receiving".
/// </summary>
public abstract class Port : IPort
{
    /// <summary>How long one wait of the receive thread lasts before it re-checks for a stop.</summary>
    protected const int ReceiveLoopWaitMs = 200;

    private readonly Lock _loopLock = new();
    private Thread? _receiveThread;
    private IoLoop.Registration? _registration;
    private volatile bool _stopRequested;
    private volatile PortState _state = PortState.Up;
    private string? _stateDetail;

    protected Port(string name, ushort id)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Name = name;
        Id = id;
    }

    public string Name { get; }

    public ushort Id { get; }

    public PortState State => _state;

    public event Action? WentAway;

    public string? StateDetail => Volatile.Read(ref _stateDetail);

    public PortCounters Counters { get; } = new();

    public PcapWriter? Tee { get; set; }

    /// <summary>True once the port can no longer move frames.</summary>
    protected bool IsFinished => _state is PortState.Gone or PortState.Closed;

    /// <summary>True while a stop of the receive thread is pending.</summary>
    protected bool StopRequested => _stopRequested;

    public abstract int ReceiveBatch(PacketBatch batch, int timeoutMs);

    public abstract int SendBatch(PacketBatch batch);

    /// <summary>
    /// True when the port receives on one of the shared <see cref="IoLoops"/> instead of a thread
    /// of its own: it must then never block in <see cref="ReceiveBatch"/> with timeout 0, and
    /// tell the loop when it has frames (a descriptor, a due time, or a signal).
    /// </summary>
    protected internal virtual bool ReceivesOnLoop => false;

    /// <summary>
    /// A descriptor that polls readable when frames wait (-1 = none): loop ports, and ports that may
    /// be put on a loop of their owner's (<see cref="StartReceiving(PacketBatchPool?, Action{PacketBatch}, IoLoop)"/>).
    /// </summary>
    protected internal virtual int ReadinessFd => -1;

    /// <summary>
    /// Ports on a loop: when (Stopwatch ticks) the port next has frames of its own making, asked after
    /// each service; <see cref="long.MaxValue"/> = only when its descriptor or a signal says so.
    /// </summary>
    protected internal virtual long NextReceiveDue(long nowTicks) => long.MaxValue;

    /// <summary>Loop ports without a descriptor: frames were queued, have the loop read them (any thread).</summary>
    protected void SignalReceiver() => Volatile.Read(ref _registration)?.Signal();

    /// <summary>
    /// True on the thread of the loop this port receives on, while it does: a port written from
    /// there may read its device behind the write, in the same system call, what the write
    /// provoked (<see cref="ReadAheadOnLoop"/>).
    /// </summary>
    protected bool OnReceiveLoop => Volatile.Read(ref _registration) is { Stopped: false } r && r.Loop.IsLoopThread;

    /// <summary>
    /// On the receive loop's thread (<see cref="OnReceiveLoop"/>): frames were read ahead outside
    /// a turn of this port (behind a write); the loop hands them over before it next waits.
    /// </summary>
    protected void ReadAheadOnLoop()
    {
        if (Volatile.Read(ref _registration) is { } r)
        {
            r.Loop.ServeBeforeWaiting(r);
        }
    }

    /// <summary>Frames this port already read and holds for its next <see cref="ReceiveBatch"/> (read ahead, or a super-frame's segments).</summary>
    protected internal virtual bool HoldsReadFrames => false;

    /// <summary>The loop this port receives on, or null (not receiving, or on its own thread).</summary>
    public IoLoop? Loop => Volatile.Read(ref _registration)?.Loop;

    public void StartReceiving(Action<PacketBatch> onBatch) => StartReceiving(null, onBatch);

    public void StartReceiving(PacketBatchPool? pool, Action<PacketBatch> onBatch) => Start(pool, onBatch, null);

    /// <summary>
    /// Receives on <paramref name="loop"/> (one its owner keeps for several ports, so that a frame
    /// one port's callback sends out of another is answered without waking a second thread): for
    /// a port that receives on a thread of its own but can say when it is readable
    /// (<see cref="ReadinessFd"/>, a TAP), or a loop port.
    /// </summary>
    public void StartReceiving(PacketBatchPool? pool, Action<PacketBatch> onBatch, IoLoop loop)
    {
        ArgumentNullException.ThrowIfNull(loop);
        if (!ReceivesOnLoop && ReadinessFd < 0)
        {
            throw new InvalidOperationException($"Port {Name} cannot say when it is readable: it receives on its own thread.");
        }

        Start(pool, onBatch, loop);
    }

    private void Start(PacketBatchPool? pool, Action<PacketBatch> onBatch, IoLoop? loop)
    {
        ArgumentNullException.ThrowIfNull(onBatch);
        lock (_loopLock)
        {
            ObjectDisposedException.ThrowIf(_state == PortState.Closed, this);
            if (_receiveThread is not null || _registration is not null)
            {
                throw new InvalidOperationException($"Port {Name} is already receiving.");
            }

            _stopRequested = false;
            if (loop is not null || ReceivesOnLoop)
            {
                Volatile.Write(ref _registration, (loop ?? IoLoops.Shared.Pick()).Attach(this, pool, onBatch));
                return;
            }

            pool ??= IoLoops.Shared.Pick().Pool;
            _receiveThread = new Thread(() => ReceiveLoop(pool, onBatch))
            {
                IsBackground = true,
                Name = $"port-rx-{Name}",
            };
            _receiveThread.Start();
        }
    }

    public void StopReceiving()
    {
        Thread? thread;
        IoLoop.Registration? registration;
        lock (_loopLock)
        {
            thread = _receiveThread;
            _receiveThread = null;
            registration = _registration;
            Volatile.Write(ref _registration, null);
            _stopRequested = true;
        }

        if (registration is not null)
        {
            registration.Loop.Detach(registration);
            _stopRequested = false;
            return;
        }

        if (thread is null)
        {
            return;
        }

        WakeReceiver();
        if (thread != Thread.CurrentThread)
        {
            thread.Join();
            _stopRequested = false; // the port may be read again, by pull or by a new loop
        }
    }

    public void Dispose()
    {
        if (_state == PortState.Closed)
        {
            return;
        }

        StopReceiving();
        SetState(PortState.Closed, StateDetail);
        DisposeCore();
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the device or socket; called once, after the receive thread ended.</summary>
    protected abstract void DisposeCore();

    /// <summary>Interrupts a <see cref="ReceiveBatch"/> that is waiting (called when stopping).</summary>
    protected virtual void WakeReceiver()
    {
    }

    /// <summary>
    /// True when <see cref="WakeReceiver"/> always ends a waiting <see cref="ReceiveBatch"/> and the
    /// wait itself notices the port going away: the receive thread then waits without a timeout
    /// instead of waking every <see cref="ReceiveLoopWaitMs"/> to look for a stop (an idle port
    /// costs no wake-up).
    /// </summary>
    protected virtual bool WakeEndsReceiveWait => false;

    /// <summary>
    /// For a port that receives by waiting in this one's <see cref="ReceiveBatch"/> (a modem's data
    /// interface over its carrier): interrupts that wait when the outer port is stopped.
    /// </summary>
    internal void InterruptReceive() => WakeReceiver();

    /// <summary>Whether <see cref="InterruptReceive"/> always ends a wait in <see cref="ReceiveBatch"/>.</summary>
    internal bool ReceiveWaitEndsOnWake => WakeEndsReceiveWait;

    /// <summary>Records a state change; <see cref="PortState.Gone"/> and <see cref="PortState.Closed"/> are final.</summary>
    protected void SetState(PortState state, string? detail)
    {
        if (_state == PortState.Closed || (_state == PortState.Gone && state != PortState.Closed))
        {
            return;
        }

        Volatile.Write(ref _stateDetail, detail);
        _state = state;
        if (state == PortState.Gone) WentAway?.Invoke(); // reached once: Gone is final
    }

    /// <summary>The loop caught an exception from this port's receive or callback.</summary>
    internal void ReceiveFailed(Exception ex) =>
        SetState(PortState.Gone, $"receive loop failed: {ex.GetType().Name}: {ex.Message}");

    private void ReceiveLoop(PacketBatchPool pool, Action<PacketBatch> onBatch)
    {
        PacketBatch? batch = null;
        try
        {
            while (!_stopRequested && !IsFinished)
            {
                batch ??= pool.Rent();
                if (ReceiveBatch(batch, WakeEndsReceiveWait ? -1 : ReceiveLoopWaitMs) > 0 || batch.Count > 0)
                {
                    PacketBatch full = batch;
                    batch = null;
                    onBatch(full); // ownership passes to the callback
                }
            }
        }
        catch (Exception ex)
        {
            SetState(PortState.Gone, $"receive loop failed: {ex.GetType().Name}: {ex.Message}");
        }
        finally
        {
            batch?.Return();
        }
    }
}
