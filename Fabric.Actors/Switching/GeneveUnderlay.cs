using System.Net;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.Switching;

/// <summary>
/// The node's Geneve overlay socket (RFC 8926, UDP port 6081 by default): frames between
/// containers of one tenant on different hosts travel as Ethernet in Geneve (VNI = the tenant's
/// VNI, protocol type 0x6558, no options) in UDP datagrams between the nodes' underlay
/// addresses. One socket per address, shared by the MFEs that use it; its receive thread runs
/// every datagram to completion (<see cref="MfeForwarder.FromUnderlay"/>). The kernel writes the
/// outer IPv4/UDP headers and checksum.
/// </summary>
/// <remarks>A ghost underlay (its own port, main + 1 by default) marks every datagram it receives
/// <see cref="Packet.IsGhost"/>; ghost and main overlays never share a socket.</remarks>
public sealed class GeneveUnderlay : IDisposable
{
    private readonly Lock _sendLock = new();
    private readonly Lock _attachLock = new();
    private readonly MfeForwarder _forwarder;
    private MfeDatapath[] _datapaths = [];

    private GeneveUnderlay(UdpUnderlayPort port, PacketBatchPool pool, bool ghost, IHopTracer? tracer)
    {
        Port = port;
        Ghost = ghost;
        _forwarder = new MfeForwarder(pool, ghost) { Tracer = tracer };
    }

    public UdpUnderlayPort Port { get; }

    public bool Ghost { get; }

    /// <summary>Where other hosts send to.</summary>
    public UnderlayEndpoint Local => Port.Local;

    /// <summary>rx/tx = inner frames delivered from / sent to other hosts; drops of datagrams no container took.</summary>
    public MfeCounters Counters { get; } = new();

    /// <summary>Captures every datagram sent or received (wrapped in synthesised Ethernet/IPv4/UDP headers; tshark decodes Geneve on 6081).</summary>
    public PcapWriter? Tee
    {
        get => Port.Tee;
        set => Port.Tee = value;
    }

    /// <summary>Opens the socket on <paramref name="address"/>:<paramref name="port"/> and starts receiving.</summary>
    public static GeneveUnderlay Open(Ipv4Address address, ushort port, PacketBatchPool pool, bool ghost, IHopTracer? tracer = null)
    {
        ArgumentNullException.ThrowIfNull(pool);
        var socket = new UdpUnderlayPort(
            ghost ? "geneve-ghost" : "geneve", 0, new IPEndPoint(address.ToIPAddress(), port),
            new UdpUnderlayOptions { ReceiveOffload = true });
        var underlay = new GeneveUnderlay(socket, pool, ghost, tracer);
        socket.StartReceiving(pool, underlay.OnBatch);
        return underlay;
    }

    /// <summary>Makes <paramref name="datapath"/> receive the datagrams for its containers.</summary>
    public void Attach(MfeDatapath datapath)
    {
        lock (_attachLock)
        {
            if (!_datapaths.Contains(datapath))
            {
                Volatile.Write(ref _datapaths, [.. _datapaths, datapath]);
            }
        }

        datapath.Underlay = this;
    }

    public void Detach(MfeDatapath datapath)
    {
        lock (_attachLock)
        {
            Volatile.Write(ref _datapaths, [.. _datapaths.Where(d => d != datapath)]);
        }
    }

    /// <summary>Sends encapsulated frames (each with its <see cref="Packet.Peer"/>); any thread, the batch is borrowed.</summary>
    public int Send(PacketBatch batch)
    {
        lock (_sendLock)
        {
            return Port.SendBatch(batch);
        }
    }

    private void OnBatch(PacketBatch batch)
    {
        if (Ghost)
        {
            for (int i = 0; i < batch.Count; i++)
            {
                batch[i].IsGhost = true;
            }
        }

        _forwarder.FromUnderlay(this, Volatile.Read(ref _datapaths), batch);
    }

    public void Dispose()
    {
        Port.StopReceiving();
        lock (_sendLock)
        {
            Port.Dispose();
        }
    }
}
