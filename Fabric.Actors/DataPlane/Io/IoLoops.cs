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
                busyPoll: settings.BusyPoll);
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
        new(0, pool, Settings.BatchesPerTurn, Settings.MaxEvents, shared: false, name: name, busyPoll: Settings.BusyPoll);

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
    public static readonly IoSettings Default = new(Math.Max(1, Environment.ProcessorCount), 256, 16) { BatchesPerTurn = 4, MaxEvents = 64 };

    /// <summary>Full batches one port may receive before its loop serves the next ready port.</summary>
    public int BatchesPerTurn { get; init; }

    /// <summary>Most ready sockets one epoll_wait of a loop reports.</summary>
    public int MaxEvents { get; init; }

    /// <summary>How long a loop keeps looking without sleeping after a turn that received frames (zero = off).</summary>
    public TimeSpan BusyPoll { get; init; }
}
