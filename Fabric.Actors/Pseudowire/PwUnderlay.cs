using System.Diagnostics;
using System.Net;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.Pseudowire;

/// <summary>
/// The node's one MPLS-in-UDP socket (RFC 7510, bound to the node's underlay address, port
/// 6635), shared by every PE the node hosts. Sending is serialised with a lock (trunk threads
/// and hello timers share the socket); receiving runs on the port's own thread, which
/// demultiplexes each datagram by its top label (the local label of one of this node's PWs)
/// and runs that PW's receive path to completion, then flushes the attachment circuits it fed.
/// </summary>
/// <remarks>
/// The UDP source port is the socket's own (6635): one kernel socket cannot vary it per
/// datagram. Flow entropy for the underlay is carried by the RFC 6391 flow label instead.
/// </remarks>
public sealed class PwUnderlay : IDisposable
{
    private readonly Lock _sendLock = new();
    private readonly PacketBatchPool _pool;
    private readonly List<AttachmentCircuit> _touched = new(8);
    private Dictionary<uint, PwLink> _byLabel = new();
    private long _unknownLabel;
    private long _malformed;

    public PwUnderlay(UdpUnderlayPort port, PacketBatchPool pool)
    {
        Port = port;
        _pool = pool;
    }

    public UdpUnderlayPort Port { get; }
    public UnderlayEndpoint Local => Port.Local;
    public long UnknownLabelDrops => Interlocked.Read(ref _unknownLabel);
    public long MalformedDrops => Interlocked.Read(ref _malformed);

    /// <summary>Opens the socket on <paramref name="address"/>:<paramref name="port"/> and starts receiving.</summary>
    public static PwUnderlay Open(Ipv4Address address, ushort port, PacketBatchPool pool, PcapWriter? tee = null)
    {
        var udp = new UdpUnderlayPort("underlay", 0, new IPEndPoint(address.ToIPAddress(), port)) { Tee = tee };
        var underlay = new PwUnderlay(udp, pool);
        udp.StartReceiving(pool, underlay.OnBatch);
        return underlay;
    }

    /// <summary>Makes <paramref name="pw"/> receive the datagrams carrying its local label.</summary>
    public void Register(PwLink pw)
    {
        lock (_sendLock)
        {
            var next = new Dictionary<uint, PwLink>(_byLabel) { [pw.Config.LocalLabel.Value] = pw };
            Volatile.Write(ref _byLabel, next);
        }
    }

    public void Unregister(PwLink pw)
    {
        lock (_sendLock)
        {
            if (_byLabel.TryGetValue(pw.Config.LocalLabel.Value, out var current) && ReferenceEquals(current, pw))
            {
                var next = new Dictionary<uint, PwLink>(_byLabel);
                next.Remove(pw.Config.LocalLabel.Value);
                Volatile.Write(ref _byLabel, next);
            }
        }
    }

    /// <summary>Sends a batch whose frames carry their peers (any thread; the batch is borrowed).</summary>
    public int Send(PacketBatch batch)
    {
        lock (_sendLock)
        {
            return Port.SendBatch(batch);
        }
    }

    private void OnBatch(PacketBatch batch)
    {
        try
        {
            Dictionary<uint, PwLink> byLabel = Volatile.Read(ref _byLabel);
            long now = Stopwatch.GetTimestamp();
            for (int i = 0; i < batch.Count; i++)
            {
                ReadOnlySpan<byte> datagram = batch.Frame(i);
                if (datagram.Length < MplsLayout.EntryLength)
                {
                    Interlocked.Increment(ref _malformed);
                    continue;
                }

                uint label = MplsLabel.FromEntry(BigEndian.U32(datagram, 0)).Value;
                if (!byLabel.TryGetValue(label, out PwLink? pw))
                {
                    Interlocked.Increment(ref _unknownLabel);
                    continue;
                }

                pw.Receive(datagram, now);
                if (pw.Delivery is { } ac && !_touched.Contains(ac))
                {
                    _touched.Add(ac);
                }
            }

            foreach (AttachmentCircuit ac in _touched)
            {
                ac.Flush();
            }
        }
        finally
        {
            _touched.Clear();
            batch.Return();
        }
    }

    public void Dispose()
    {
        Port.StopReceiving();
        Port.Dispose();
    }
}
