using Fabric.Actors.DataPlane.Io;

namespace Fabric.Actors.Switching;

/// <summary>Where the forwarder queues frames: a DCN's VNIC or a gateway's router port (each takes one batch at a time, borrowed).</summary>
internal interface IMfeEgress
{
    int Send(PacketBatch batch);
}

/// <summary>
/// The MFE's side of a gateway's router port on a tenant's logical switch (OVN's router-type
/// switch port): owned by the MFE actor while the spec has it. It attaches to the node's patch
/// link, so what the gateway sends on its downlink is forwarded by <see cref="Receive"/> (on the
/// gateway's thread, with a forwarder of its own), and frames the MFE forwards to the gateway's
/// MAC leave through <see cref="Send"/>. Untagged both ways: the tag is a DCN's business.
/// </summary>
public sealed class RouterPort : IMfeEgress, IDisposable
{
    private readonly PatchLink _link;
    private readonly Action<PacketBatch> _receive;

    public RouterPort(RouterPortSpec spec, PatchPanel panel, MfeDatapath datapath)
    {
        Spec = spec;
        Datapath = datapath;
        _link = panel.Link(spec.Link);
        Forwarder = new MfeForwarder(datapath.Pool, datapath.Ghost) { Tracer = datapath.Tracer };
        _receive = Receive;
        _link.AttachSwitch(_receive);
    }

    public RouterPortSpec Spec { get; }

    public MfeDatapath Datapath { get; }

    /// <summary>The router's view: rx = frames the gateway sent onto the switch, tx = frames delivered to the gateway.</summary>
    public MfeCounters Counters { get; } = new();

    /// <summary>True while the gateway's end of the link is open.</summary>
    public bool GatewayAttached => _link.HasPort;

    internal MfeForwarder Forwarder { get; }

    /// <summary>Hands frames to the gateway (borrowed); those it cannot take (not attached) are counted as no-router.</summary>
    public int Send(PacketBatch batch)
    {
        int sent = _link.ToPort(batch);
        if (sent < batch.Count)
        {
            Counters.Drop(MfeDrop.RouterAbsent, batch.Count - sent);
        }

        return sent;
    }

    private void Receive(PacketBatch batch) => Forwarder.FromRouter(this, Datapath.Table, batch);

    public void Dispose() => _link.DetachSwitch(_receive);
}
