using System.Collections.Concurrent;
using Fabric.Actors.DataPlane.Io;

namespace Fabric.Tests.Switching;

/// <summary>
/// A test port: frames a test injects are what it receives; frames sent to it are kept (with
/// their ghost flag) for the test to read. The test hooks live here, not in the product's ports.
/// </summary>
internal sealed class FramePort(string name, ushort id) : Port(name, id)
{
    private readonly ConcurrentQueue<byte[]> _incoming = new();
    private readonly SemaphoreSlim _signal = new(0);

    public ConcurrentQueue<(byte[] Frame, bool Ghost)> Sent { get; } = new();

    /// <summary>False: sent frames are only counted and shown to <see cref="OnSend"/>, not kept.</summary>
    public bool KeepSent { get; init; } = true;

    /// <summary>Called with every batch sent (borrowed).</summary>
    public Action<PacketBatch>? OnSend { get; init; }

    public void Inject(params byte[][] frames)
    {
        foreach (var frame in frames)
        {
            _incoming.Enqueue(frame);
        }

        _signal.Release();
    }

    /// <summary>Takes every frame sent so far.</summary>
    public List<byte[]> TakeSent()
    {
        var taken = new List<byte[]>();
        while (Sent.TryDequeue(out var f))
        {
            taken.Add(f.Frame);
        }

        return taken;
    }

    public override int ReceiveBatch(PacketBatch batch, int timeoutMs)
    {
        if (IsFinished)
        {
            return 0;
        }

        if (_incoming.IsEmpty)
        {
            _signal.Wait(timeoutMs);
        }

        int added = 0;
        while (!batch.IsFull && _incoming.TryDequeue(out var frame))
        {
            batch.TryAppend(frame, Id);
            Counters.AddRx(1, frame.Length);
            added++;
        }

        return added;
    }

    public override int SendBatch(PacketBatch batch)
    {
        if (IsFinished)
        {
            Counters.AddDrop(PortDropReason.TxPortGone, batch.Count);
            return 0;
        }

        for (int i = 0; KeepSent && i < batch.Count; i++)
        {
            Sent.Enqueue((batch.Frame(i).ToArray(), batch[i].IsGhost));
        }

        OnSend?.Invoke(batch);

        Counters.AddTx(batch.Count, batch.TotalBytes());
        return batch.Count;
    }

    protected override void WakeReceiver() => _signal.Release();

    protected override void DisposeCore() => _signal.Dispose();
}
