using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.Pseudowire;

/// <summary>
/// Where a CE attaches: the port (TAP or simulated) and the two directions through it. Frames
/// the CE sends are read on the port's receive thread and given to the trunk's forwarder;
/// frames decapsulated from PWs are gathered by the node's underlay receive thread with
/// <see cref="Deliver"/> and written out by <see cref="Flush"/> once per underlay batch.
/// </summary>
/// <remarks>Owned by the PE actor, which opens and disposes the port. With a <see cref="Vlan"/>
/// only the port's frames tagged with that 802.1Q VLAN belong to the circuit: they go to the
/// trunk untagged (one copy each), every other frame is dropped and counted
/// (<see cref="OtherVlanDrops"/>); frames from the PWs get the tag back on the way to the port.
/// Without one the whole port is the circuit, tags and all. One circuit per port.</remarks>
public sealed class AttachmentCircuit : IDisposable
{
    private readonly PacketBatchPool _pool;
    private PacketBatch? _pending; // underlay receive thread only
    private long _noTrunkDrops;
    private long _trunkDownDrops;
    private long _otherVlanDrops;

    public AttachmentCircuit(string name, IPort port, PacketBatchPool pool, VlanId? vlan = null, bool ghost = false, IHopTracer? tracer = null)
    {
        Name = name;
        Port = port;
        _pool = pool;
        Vlan = vlan;
        IsGhost = ghost;
        Tracer = tracer;
    }

    /// <summary>A circuit of the ghost network: what it delivers is marked ghost (a live port refuses it).</summary>
    public bool IsGhost { get; }

    /// <summary>Ghost circuits only: reports drops of probes (null on main).</summary>
    public IHopTracer? Tracer { get; }

    /// <summary>The 802.1Q VLAN of the port that is this circuit; null = the whole port.</summary>
    public VlanId? Vlan { get; }

    /// <summary>Frames of the port outside <see cref="Vlan"/> (untagged or another VLAN), dropped.</summary>
    public long OtherVlanDrops => Interlocked.Read(ref _otherVlanDrops);

    public string Name { get; }
    public IPort Port { get; }

    /// <summary>The trunk CE frames are shared over; null = no trunk (frames dropped and counted).</summary>
    public TrunkForwarder? Forwarder { get; set; }

    public long NoTrunkDrops => Interlocked.Read(ref _noTrunkDrops);
    public long TrunkDownDrops => Interlocked.Read(ref _trunkDownDrops);

    /// <summary>
    /// Starts receiving the CE's frames (batches from the I/O loop's pool; see DataPlane/Io/README.md).
    /// A TAP goes on <paramref name="underlayLoop"/>, the loop that receives the node's PW underlay
    /// and writes decapsulated frames to the CE: what the CE answers at once (an echo reply, an
    /// ACK) is read by that same thread without waking another. Other ports keep their own way.
    /// </summary>
    public void Start(IoLoop? underlayLoop = null)
    {
        if (underlayLoop is not null && Port is Port { ReceivesOnLoop: false, ReadinessFd: >= 0 } device)
        {
            device.StartReceiving(null, OnBatch, underlayLoop);
            return;
        }

        Port.StartReceiving(OnBatch);
    }

    /// <summary>Underlay receive thread: queues one decapsulated frame for the CE.</summary>
    public void Deliver(ReadOnlySpan<byte> frame)
    {
        _pending ??= _pool.Rent();
        if (_pending.IsFull)
        {
            Flush();
            _pending = _pool.Rent();
        }

        if (Vlan is { } vlan)
        {
            if (VlanTagging.TryCopyTagged(frame, vlan, _pending.NextFrameRoom(), out int length))
            {
                _pending.Commit(length).IsGhost = IsGhost;
            }
        }
        else if (_pending.TryAppend(frame))
        {
            _pending[_pending.Count - 1].IsGhost = IsGhost;
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
        if (Vlan is { } vlan)
        {
            // The circuit's frames, untagged, in a batch of their own (the port's batch is returned here).
            var own = _pool.Rent();
            int others = 0;
            for (int i = 0; i < batch.Count; i++)
            {
                if (VlanTagging.TryCopyUntagged(batch.Frame(i), vlan, own.NextFrameRoom(), out int length))
                {
                    own.Commit(length, batch[i].IngressPort);
                }
                else
                {
                    others++;
                }
            }

            Interlocked.Add(ref _otherVlanDrops, others);
            batch.Return();
            batch = own;
        }

        try
        {
            if (batch.Count == 0)
            {
                return;
            }

            if (Forwarder is not { } forwarder)
            {
                Interlocked.Add(ref _noTrunkDrops, batch.Count);
                TraceDrops(batch, "no-trunk (no trunk is bound to this attachment circuit)");
                return;
            }

            if (!forwarder.Forward(batch))
            {
                Interlocked.Add(ref _trunkDownDrops, batch.Count);
                TraceDrops(batch, $"trunk-down (trunk {forwarder.Name} has fewer active members than minActive)");
            }
        }
        finally
        {
            batch.Return();
        }
    }

    private void TraceDrops(PacketBatch batch, string reason)
    {
        if (Tracer is not { } tracer)
        {
            return;
        }

        for (int i = 0; i < batch.Count; i++)
        {
            tracer.Drop(batch.Frame(i), $"attachment circuit {Name}", reason);
        }
    }

    public void Dispose()
    {
        Port.StopReceiving();
        Port.Dispose();
    }
}
