namespace Fabric.Actors.DataPlane.Io;

/// <summary>
/// The process's I/O loops: a small fixed set (one per core by default, hocon
/// <c>fabric.io.loops</c>) that every loop-capable port receives on, each with its own bounded
/// batch pool. Created on first use; <see cref="Configure"/> before that sets their number and
/// pool cap (the node does it from hocon at start).
/// </summary>
public sealed class IoLoops : IDisposable
{
    private static readonly Lock SharedLock = new();
    private static IoSettings _settings = IoSettings.Default;
    private static IoLoops? _shared;

    private readonly IoLoop[] _loops;

    public IoLoops(IoSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        Settings = settings;
        _loops = new IoLoop[settings.LoopCount];
        for (int i = 0; i < _loops.Length; i++)
        {
            _loops[i] = new IoLoop(i, new PacketBatchPool(maxRetained: settings.PoolRetained, maxLive: settings.PoolMaxBatches), settings.BatchesPerTurn, settings.MaxEvents,
                busyPoll: settings.BusyPoll, realtime: settings.Realtime);
        }
    }

    public IoSettings Settings { get; }

    public IReadOnlyList<IoLoop> Loops => _loops;

    /// <summary>The process's loops, started on first use with the settings last given to <see cref="Configure"/>.</summary>
    public static IoLoops Shared
    {
        get
        {
            if (Volatile.Read(ref _shared) is { } shared)
            {
                return shared;
            }

            lock (SharedLock)
            {
                return _shared ??= new IoLoops(_settings);
            }
        }
    }

    /// <summary>
    /// Sets how the shared loops are built; false (and nothing changes) once they run with other
    /// settings (a second node in the same process shares the first one's loops).
    /// </summary>
    public static bool Configure(IoSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        lock (SharedLock)
        {
            if (_shared is not null)
            {
                return _shared.Settings == settings;
            }

            _settings = settings;
            return true;
        }
    }

    /// <summary>
    /// A loop one owner keeps for its own ports (<c>shared: false</c>, see <see cref="IoLoop"/>),
    /// built with these loops' settings; the owner disposes it.
    /// </summary>
    public IoLoop NewOwnLoop(string name, PacketBatchPool pool) =>
        new(0, pool, Settings.BatchesPerTurn, Settings.MaxEvents, shared: false, name: name, busyPoll: Settings.BusyPoll, realtime: Settings.Realtime);

    /// <summary>The loop a new port receives on: the one with the fewest ports.</summary>
    public IoLoop Pick()
    {
        IoLoop best = _loops[0];
        foreach (var loop in _loops)
        {
            if (loop.Ports < best.Ports)
            {
                best = loop;
            }
        }

        return best;
    }

    public void Dispose()
    {
        foreach (var loop in _loops)
        {
            loop.Dispose();
        }
    }
}

/// <summary>
/// How the I/O loops are built (hocon <c>fabric.io</c>, each key commented there).
/// </summary>
/// <param name="LoopCount">I/O threads (hocon 0 = one per core). Read by <c>IoHocon</c> in Guardian/,
/// as this folder knows nothing of Akka.</param>
/// <param name="PoolMaxBatches">Most receive batches one loop's pool lets be out at once (each
/// pins 256 x 2 KiB = 512 KiB); beyond it a port drops at ingress, counted.</param>
/// <param name="PoolRetained">Idle batches a loop's pool keeps for reuse; the rest go to the GC.</param>
public sealed record IoSettings(int LoopCount, int PoolMaxBatches, int PoolRetained)
{
    /// <summary>
    /// The shipped values, for loops started before the node read its hocon (and IoHocon's
    /// fallback); the node's come from <c>FabricSettings.Io</c>, which a test compares with these.
    /// </summary>
    public static readonly IoSettings Default = new(Math.Max(1, Environment.ProcessorCount), 256, 16)
    {
        BatchesPerTurn = 4,
        MaxEvents = 64,
        Realtime = LoopRealtime.Off,
    };

    /// <summary>Full batches one port may receive before its loop serves the next ready port.</summary>
    public int BatchesPerTurn { get; init; }

    /// <summary>Most ready sockets one epoll_wait of a loop reports.</summary>
    public int MaxEvents { get; init; }

    /// <summary>How long a loop keeps looking without sleeping after a turn that received frames (zero = off).</summary>
    public TimeSpan BusyPoll { get; init; }

    /// <summary>Real-time scheduling of the loop threads while their load is light (<see cref="LoopRealtime"/>).</summary>
    public LoopRealtime Realtime { get; init; } = LoopRealtime.Off;
}

/// <summary>
/// A loop thread runs at SCHED_FIFO <paramref name="Priority"/> while it is awake at most
/// <paramref name="MaxLoadPercent"/> % of a <paramref name="Window"/>, and at normal priority
/// from a window in which it was awake longer until one in which it was awake less than half
/// that (hocon <c>fabric.io.realtime-*</c>).
/// </summary>
/// <remarks>
/// <para>Why: a frame that wakes a sleeping loop thread is forwarded when the thread runs. At
/// normal priority the kernel puts the woken thread on an idle core, and waking an idle core costs
/// tens of microseconds (an inter-processor interrupt; on a VM the hypervisor must resume the
/// vCPU). At real-time priority the thread is woken on the core it last ran on, ahead of whatever
/// runs there: when that is the core of the sender, the frame is forwarded before the sender
/// even returns from its write.</para>
/// <para>Off by default (priority 0), because on this project's 2-vCPU test VM it did not pay
/// in the scenario runs: a ping through the gateway every 5 ms had a median of 0.022-0.067 ms
/// with it against 0.085-0.10 ms without, but every 10 ms (the scenario's pace, the sender's
/// core then no longer the loop's) no better than without; and a TCP stream across the PW trunk
/// fell from 7.4 to 5.8 Gbit/s in two of three rounds, the PE loops' load flickering around the
/// limit so that they preempted the processes feeding them. A deployment whose loops are lightly
/// loaded and latency-bound may turn it on; <c>fabric_io_loop_realtime</c> in /metrics shows
/// which loops run at it.</para>
/// </remarks>
public sealed record LoopRealtime(int Priority, int MaxLoadPercent, TimeSpan Window)
{
    public static readonly LoopRealtime Off = new(0, 20, TimeSpan.FromMilliseconds(50));

    public bool IsOn => Priority > 0;
}
