using Fabric.Actors.DataPlane.Io;

namespace Fabric.Actors.Switching;

/// <summary>
/// One MFE's data path: the current <see cref="MfeTable"/> (swapped by the MFE actor, read once
/// per batch by the VNIC and underlay receive threads), the batch pool and the underlay it sends
/// to. The per-batch work itself is <see cref="MfeForwarder"/>, one per receiving thread.
/// </summary>
public sealed class MfeDatapath(string host, PacketBatchPool pool, bool ghost, IHopTracer? tracer = null)
{
    private MfeTable _table = MfeTable.Empty;
    private GeneveUnderlay? _underlay;

    public string Host => host;

    public PacketBatchPool Pool => pool;

    /// <summary>True for a ghost copy: every frame it handles is a ghost frame, never sent to a main port or underlay.</summary>
    public bool Ghost => ghost;

    /// <summary>Ghost plane only: where probes' hops are reported.</summary>
    public IHopTracer? Tracer => tracer;

    public MfeTable Table
    {
        get => Volatile.Read(ref _table);
        set => Volatile.Write(ref _table, value);
    }

    /// <summary>Where frames for containers on other hosts leave (null: not open, they are dropped as no-underlay).</summary>
    public GeneveUnderlay? Underlay
    {
        get => Volatile.Read(ref _underlay);
        set => Volatile.Write(ref _underlay, value);
    }
}
