using Fabric.Actors.DataPlane.Io;

namespace Fabric.Actors.Gateway;

/// <summary>
/// Who may run a gateway's data path (one thread at a time): each port's receive thread, to run
/// its batch to completion, and the gateway actor's thread, for control work (entity answers,
/// sweeps, reconfiguration, status). A receive thread waits at most <see cref="IngressWait"/>;
/// if the data path is still busy it drops the batch at ingress and counts it, so a port never
/// has more than the one batch it is holding in flight, nothing queues in memory behind a busy
/// data path, and the batch goes straight back to its pool (no new batch is ever needed).
/// A port served by a shared I/O loop (a simulated port) does not wait at all: the loop serves
/// many ports and a wait would stall them all. While the control work closes ports (which joins
/// their receive threads) a waiting receive thread gives up its batch at once instead of waiting
/// for the thread that is joining it.
/// </summary>
public sealed class DatapathGate(TimeSpan ingressWait)
{
    /// <summary>How often a waiting receive thread looks whether its ports are being closed.</summary>
    private static readonly TimeSpan WaitSlice = TimeSpan.FromMilliseconds(10);

    private readonly Lock _lock = new();
    private long _ingressBusy;
    private volatile bool _closingPorts;

    public TimeSpan IngressWait { get; } = ingressWait;

    /// <summary>Frames dropped at ingress because the data path stayed busy longer than <see cref="IngressWait"/> or its ports were closing.</summary>
    public long IngressBusyDrops => Interlocked.Read(ref _ingressBusy);

    /// <summary>Control work: holds the data path until the scope is disposed (waits as long as it takes).</summary>
    public Lock.Scope Hold() => _lock.EnterScope();

    /// <summary>
    /// Control work that disposes ports (and so joins their receive threads): runs
    /// <paramref name="close"/> while receive threads waiting for the data path drop their batch
    /// instead of waiting. The caller holds the data path (<see cref="Hold"/>).
    /// </summary>
    public void ClosingPorts(Action close)
    {
        if (!_lock.IsHeldByCurrentThread) throw new InvalidOperationException("Ports are closed while holding the data path.");
        _closingPorts = true;
        try
        {
            close();
        }
        finally
        {
            _closingPorts = false;
        }
    }

    /// <summary>
    /// A receive thread's batch: <paramref name="run"/> (which owns the batch from then on) runs
    /// holding the data path, or, when it stays busy, the batch is counted, dropped and returned.
    /// </summary>
    public bool TryRun(PacketBatch batch, Action<PacketBatch> run)
    {
        if (!Enter())
        {
            Interlocked.Add(ref _ingressBusy, batch.Count);
            batch.Return();
            return false;
        }

        try
        {
            run(batch);
        }
        finally
        {
            _lock.Exit();
        }

        return true;
    }

    private bool Enter()
    {
        if (IoLoop.OnLoopThread) return _lock.TryEnter();
        if (IngressWait <= WaitSlice) return _lock.TryEnter(IngressWait);
        var deadline = Environment.TickCount64 + (long)IngressWait.TotalMilliseconds;
        while (!_closingPorts)
        {
            if (_lock.TryEnter(WaitSlice)) return true;
            if (Environment.TickCount64 >= deadline) return false;
        }
        return false;
    }
}
