using Fabric.Actors.DataPlane.Io;

namespace Fabric.Actors.Pseudowire;

/// <summary>
/// Where a CE attaches: the port (TAP or simulated) and the two directions through it. Frames
/// the CE sends are read on the port's receive thread and given to the trunk's forwarder;
/// frames decapsulated from PWs are gathered by the node's underlay receive thread with
/// <see cref="Deliver"/> and written out by <see cref="Flush"/> once per underlay batch.
/// </summary>
/// <remarks>Owned by the PE actor, which opens and disposes the port. VLAN attachment circuits are
/// not split yet: the whole port is the attachment.</remarks>
public sealed class AttachmentCircuit : IDisposable
{
    private readonly PacketBatchPool _pool;
    private PacketBatch? _pending; // underlay receive thread only
    private long _noTrunkDrops;
    private long _trunkDownDrops;

    public AttachmentCircuit(string name, IPort port, PacketBatchPool pool)
    {
        Name = name;
        Port = port;
        _pool = pool;
    }

    public string Name { get; }
    public IPort Port { get; }

    /// <summary>The trunk CE frames are shared over; null = no trunk (frames dropped and counted).</summary>
    public TrunkForwarder? Forwarder { get; set; }

    public long NoTrunkDrops => Interlocked.Read(ref _noTrunkDrops);
    public long TrunkDownDrops => Interlocked.Read(ref _trunkDownDrops);

    public void Start() => Port.StartReceiving(_pool, OnBatch);

    /// <summary>Underlay receive thread: queues one decapsulated frame for the CE.</summary>
    public void Deliver(ReadOnlySpan<byte> frame)
    {
        _pending ??= _pool.Rent();
        if (!_pending.TryAppend(frame))
        {
            Flush();
            _pending = _pool.Rent();
            _pending.TryAppend(frame);
        }
    }

    /// <summary>Underlay receive thread: writes what <see cref="Deliver"/> queued.</summary>
    public void Flush()
    {
        if (_pending is { } batch)
        {
            _pending = null;
            if (batch.Count > 0)
            {
                Port.SendBatch(batch);
            }

            batch.Return();
        }
    }

    private void OnBatch(PacketBatch batch)
    {
        try
        {
            if (Forwarder is not { } forwarder)
            {
                Interlocked.Add(ref _noTrunkDrops, batch.Count);
                return;
            }

            if (!forwarder.Forward(batch))
            {
                Interlocked.Add(ref _trunkDownDrops, batch.Count);
            }
        }
        finally
        {
            batch.Return();
        }
    }

    public void Dispose()
    {
        Port.StopReceiving();
        Port.Dispose();
    }
}
