using System.Collections.Concurrent;
using Fabric.Actors.DataPlane.Io;

namespace Fabric.Actors.Cellular.Emulator;

/// <summary>
/// A port whose other side is this process: frames a caller <see cref="Inject"/>s are received
/// by the element, frames the element sends are kept (the last <see cref="KeepLast"/>) for the
/// caller to read or wait for. What ghost elements attach to instead of a TAP device, and what
/// tests drive a bridge with. Control-path speed: a frame costs an allocation.
/// </summary>
public class MemoryPort(string name, ushort id = 0) : Port(name, id)
{
    public const int KeepLast = 256;

    private readonly ConcurrentQueue<byte[]> _toElement = new();
    private readonly ConcurrentQueue<byte[]> _fromElement = new();
    private readonly SemaphoreSlim _ready = new(0);
    private readonly SemaphoreSlim _arrived = new(0);

    /// <summary>The last frames the element sent out of this port, oldest first.</summary>
    public IReadOnlyList<byte[]> Sent => [.. _fromElement];

    /// <summary>Queues <paramref name="frame"/> to be received by the element.</summary>
    public void Inject(ReadOnlySpan<byte> frame)
    {
        _toElement.Enqueue(frame.ToArray());
        _ready.Release();
    }

    /// <summary>Forgets what the element sent so far.</summary>
    public void ClearSent() => _fromElement.Clear();

    /// <summary>Waits until a frame the element sent matches <paramref name="match"/>; returns it, or null after <paramref name="timeout"/>.</summary>
    public byte[]? WaitForSent(Func<byte[], bool> match, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var found = _fromElement.FirstOrDefault(match);
            if (found is not null) return found;
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero) return null;
            _arrived.Wait(left < TimeSpan.FromMilliseconds(50) ? left : TimeSpan.FromMilliseconds(50));
        }
    }

    public override int ReceiveBatch(PacketBatch batch, int timeoutMs)
    {
        if (IsFinished || batch.IsFull) return 0;
        if (!_ready.Wait(timeoutMs < 0 ? Timeout.Infinite : timeoutMs)) return 0;
        var added = 0;
        long bytes = 0;
        var first = true;
        while (!batch.IsFull && (first || _ready.Wait(0)))
        {
            first = false;
            if (!_toElement.TryDequeue(out var frame)) break;
            if (!batch.TryAppend(frame, Id))
            {
                Counters.AddDrop(PortDropReason.RxFrameTooLarge);
                continue;
            }
            added++;
            bytes += frame.Length;
        }
        if (added > 0) Counters.AddRx(added, bytes);
        return added;
    }

    public override int SendBatch(PacketBatch batch)
    {
        if (IsFinished)
        {
            Counters.AddDrop(PortDropReason.TxPortGone, batch.Count);
            return 0;
        }
        for (var i = 0; i < batch.Count; i++)
        {
            var frame = batch.Frame(i);
            _fromElement.Enqueue(frame.ToArray());
            while (_fromElement.Count > KeepLast) _fromElement.TryDequeue(out _);
            OnSent(frame);
        }
        _arrived.Release();
        Counters.AddTx(batch.Count, batch.TotalBytes());
        return batch.Count;
    }

    /// <summary>Called for each frame the element sends (after it is kept).</summary>
    protected virtual void OnSent(ReadOnlySpan<byte> frame)
    {
    }

    protected override void WakeReceiver() => _ready.Release();

    /// <summary>A wake releases the wait on <c>_ready</c>: the receive thread waits without a timeout.</summary>
    protected override bool WakeEndsReceiveWait => true;

    protected override void DisposeCore()
    {
        _ready.Dispose();
        _arrived.Dispose();
    }
}
