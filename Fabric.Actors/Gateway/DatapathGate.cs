using Fabric.Actors.DataPlane.Io;

namespace Fabric.Actors.Gateway;

/// <summary>
/// Who may run a gateway's data path (one thread at a time): each port's receive thread, to run
/// its batch to completion, and the gateway actor's thread, for control work (entity answers,
/// sweeps, reconfiguration, status). A receive thread waits at most <see cref="IngressWait"/>;
/// if the data path is still busy it drops the batch at ingress and counts it, so a port never
/// has more than the one batch it is holding in flight, nothing queues in memory behind a busy
/// data path, and the batch goes straight back to its pool (no new batch is ever needed).
/// </summary>
public sealed class DatapathGate(TimeSpan ingressWait)
{
    private readonly Lock _lock = new();
    private long _ingressBusy;

    public TimeSpan IngressWait { get; } = ingressWait;

    /// <summary>Frames dropped at ingress because the data path stayed busy longer than <see cref="IngressWait"/>.</summary>
    public long IngressBusyDrops => Interlocked.Read(ref _ingressBusy);

    /// <summary>Control work: holds the data path until the scope is disposed (waits as long as it takes).</summary>
    public Lock.Scope Hold() => _lock.EnterScope();

    /// <summary>
    /// A receive thread's batch: <paramref name="run"/> (which owns the batch from then on) runs
    /// holding the data path, or, when it stays busy, the batch is counted, dropped and returned.
    /// </summary>
    public bool TryRun(PacketBatch batch, Action<PacketBatch> run)
    {
        if (!_lock.TryEnter(IngressWait))
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
}
