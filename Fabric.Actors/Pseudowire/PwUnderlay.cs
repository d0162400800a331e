using System.Net;
using System.Net.Sockets;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.Pseudowire;

/// <summary>
/// The node's MPLS-in-UDP underlay (RFC 7510), shared by every PE the node hosts: one socket
/// receiving on the node's address, port 6635, and a small pool of sending sockets bound to
/// source ports in the ephemeral range 49152-65535, so the UDP source port carries the flow's
/// entropy as RFC 7510 §3 asks (a kernel UDP socket cannot vary its source port per datagram).
/// </summary>
/// <remarks>
/// <para>Sending: a frame leaves from data socket <c>flowHash mod EntropyPorts</c>, so one flow
/// always has one source port and ECMP in the underlay can spread flows. A batch is grouped by
/// socket (a counting sort of frame indices, no copy) and each group leaves with one sendmmsg
/// (UDP GSO for runs to one peer) under that socket's own lock; the trunk assigns control-word
/// sequence numbers in that same order, so the PW sequence stays increasing on the wire.</para>
/// <para>Hellos have a path of their own (<see cref="PwLivenessClock"/>): they leave from their
/// own socket with its own lock, so a trunk thread busy sending a batch never delays them, and
/// arrive on a second socket bound to the same address and 6635 (SO_REUSEPORT) to which a
/// kernel steering program sends every associated-channel datagram, so they never wait in
/// (or get dropped from) a receive queue full of data. Data is received on the first socket's
/// thread (recvmmsg), demultiplexed by top label and run to completion, then the attachment
/// circuits it fed are flushed; should a hello still arrive there (steering refused by the
/// kernel) it is processed before the batch's data.</para>
/// </remarks>
public sealed partial class PwUnderlay : IDisposable
{
    /// <summary>Data sending sockets (source ports); a power of two.</summary>
    public const int EntropyPorts = 16;

    /// <summary>First port tried for the sending sockets (RFC 7510: 49152-65535).</summary>
    public const ushort FirstEntropyPort = 49152;

    private const int EntropyMask = EntropyPorts - 1;

    private readonly Lock _registryLock = new();
    private readonly UdpUnderlayPort[] _senders;
    private readonly Lock[] _senderLocks;
    private readonly UdpUnderlayPort _helloSender;
    private readonly Lock _helloLock = new();
    private readonly List<AttachmentCircuit> _touched = new(8);
    private PwLink?[] _rxPw = new PwLink?[PacketBatch.DefaultCapacity]; // receive thread only
    private Dictionary<uint, PwLink> _byLabel = new();
    private long _unknownLabel;
    private long _malformed;

    private readonly UdpUnderlayPort? _helloReceiver;

    private PwUnderlay(UdpUnderlayPort receiver, UdpUnderlayPort? helloReceiver, UdpUnderlayPort helloSender, UdpUnderlayPort[] senders, LivenessSettings? liveness, bool ghost)
    {
        Port = receiver;
        _helloReceiver = helloReceiver;
        _helloSender = helloSender;
        _senders = senders;
        _senderLocks = senders.Select(_ => new Lock()).ToArray();
        Liveness = new PwLivenessClock(this, helloReceiver, liveness, ghost);
    }

    /// <summary>Runs every PW session of the node: hellos in and out, evaluation, transitions.</summary>
    public PwLivenessClock Liveness { get; }

    /// <summary>The receiving socket (the node's address, port 6635).</summary>
    public UdpUnderlayPort Port { get; }

    /// <summary>Where remote PEs send to.</summary>
    public UnderlayEndpoint Local => Port.Local;

    /// <summary>The data sending sockets, index = flow hash mod <see cref="EntropyPorts"/>.</summary>
    public IReadOnlyList<UdpUnderlayPort> Senders => _senders;

    /// <summary>The socket hellos leave from.</summary>
    public UdpUnderlayPort HelloSender => _helloSender;

    public long UnknownLabelDrops => Interlocked.Read(ref _unknownLabel);

    /// <summary>Ghost underlay only: reports each received probe's PW (null on main: no cost).</summary>
    public IHopTracer? Tracer { get; init; }
    public long MalformedDrops => Interlocked.Read(ref _malformed);

    /// <summary>Captures every datagram sent or received on any of the underlay's sockets (null stops).</summary>
    public PcapWriter? Tee
    {
        get => Port.Tee;
        set
        {
            Port.Tee = value;
            _helloSender.Tee = value;
            if (_helloReceiver is not null)
            {
                _helloReceiver.Tee = value;
            }

            foreach (var s in _senders)
            {
                s.Tee = value;
            }
        }
    }

    /// <summary>
    /// Opens the receiving socket on <paramref name="address"/>:<paramref name="port"/> and the
    /// sending pool, and starts receiving on one of the node's I/O loops, with batches from
    /// <paramref name="pool"/> (null = the loop's shared, bounded pool).
    /// </summary>
    public static PwUnderlay Open(Ipv4Address address, ushort port, PacketBatchPool? pool = null, PcapWriter? tee = null, IHopTracer? tracer = null, LivenessSettings? liveness = null, CoDelSettings? queueDelay = null)
    {
        EnsureFree(address, port);
        var receiver = new UdpUnderlayPort("underlay", 0, new IPEndPoint(address.ToIPAddress(), port),
            new UdpUnderlayOptions { ReusePort = true, ReceiveOffload = true, DontFragment = true, QueueDelayLimit = queueDelay });
        var opened = new List<UdpUnderlayPort>(EntropyPorts + 1);
        UdpUnderlayPort? helloReceiver = null;
        try
        {
            helloReceiver = OpenHelloReceiver(receiver);
            // Nothing is sent to these sockets: a small receive buffer.
            // No IP fragments on the underlay (docs/architecture.md, "MTU"): DF on every datagram.
            var options = new UdpUnderlayOptions { ReceiveBufferBytes = 64 << 10, SendBufferBytes = 1 << 20, DontFragment = true };
            for (int p = FirstEntropyPort; p <= ushort.MaxValue && opened.Count < EntropyPorts + 1; p++)
            {
                try
                {
                    opened.Add(new UdpUnderlayPort($"underlay-tx{opened.Count}", 0, new IPEndPoint(address.ToIPAddress(), p), options));
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
                {
                    // taken (another node on this address, or another program): try the next one
                }
            }

            if (opened.Count < EntropyPorts + 1)
            {
                throw new IOException($"underlay {address}: fewer than {EntropyPorts + 1} free UDP ports in {FirstEntropyPort}-65535");
            }
        }
        catch
        {
            receiver.Dispose();
            helloReceiver?.Dispose();
            opened.ForEach(s => s.Dispose());
            throw;
        }

        var underlay = new PwUnderlay(receiver, helloReceiver, opened[0], opened.Skip(1).ToArray(), liveness, ghost: tracer is not null) { Tee = tee, Tracer = tracer };
        receiver.StartReceiving(pool, underlay.OnBatch);
        if (tracer is null)
        {
            underlay.Liveness.RealtimePriority = underlay.Liveness.Settings.RealtimePriority;
        }
        else
        {
            // The ghost underlay: never real-time, never above main's work, but not starved
            // either (a ghost flap under load would reject a good change).
            underlay.Liveness.Niceness = 0;
        }

        underlay.Liveness.Start();
        return underlay;
    }

    /// <summary>
    /// Fails unless nobody holds <paramref name="address"/>:<paramref name="port"/>. The underlay's
    /// sockets join an SO_REUSEPORT group (hellos steered apart); without this check a second
    /// underlay on the same address - a node of an earlier test not yet disposed, another
    /// process - would silently join the group and the kernel would hand it part of our hellos
    /// and data (trunks flapping "for no reason"). A plain bind without SO_REUSEPORT fails on
    /// any bound socket, with or without the option.
    /// </summary>
    private static void EnsureFree(Ipv4Address address, ushort port)
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            probe.Bind(new IPEndPoint(address.ToIPAddress(), port));
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            throw new IOException($"PW underlay {address}:{port} is already in use (another node or process on this address and port); refusing to share it", e);
        }
    }

    /// <summary>The datagram's PW, by its top label.</summary>
    internal bool TryGetPw(ReadOnlySpan<byte> datagram, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out PwLink? pw)
    {
        pw = null;
        return datagram.Length >= MplsLayout.EntryLength
            && Volatile.Read(ref _byLabel).TryGetValue(MplsLabel.FromEntry(BigEndian.U32(datagram, 0)).Value, out pw);
    }

    /// <summary>Makes <paramref name="pw"/> receive the datagrams carrying its local label.</summary>
    public void Register(PwLink pw)
    {
        ArgumentNullException.ThrowIfNull(pw);
        lock (_registryLock)
        {
            var next = new Dictionary<uint, PwLink>(_byLabel) { [pw.Config.LocalLabel.Value] = pw };
            Volatile.Write(ref _byLabel, next);
        }
    }

    public void Unregister(PwLink pw)
    {
        ArgumentNullException.ThrowIfNull(pw);
        lock (_registryLock)
        {
            if (_byLabel.TryGetValue(pw.Config.LocalLabel.Value, out var current) && ReferenceEquals(current, pw))
            {
                var next = new Dictionary<uint, PwLink>(_byLabel);
                next.Remove(pw.Config.LocalLabel.Value);
                Volatile.Write(ref _byLabel, next);
            }
        }
    }

    /// <summary>The data socket (source port) of a flow.</summary>
    public static int EntropyIndex(ulong flowHash) => (int)(flowHash & EntropyMask);

    /// <summary>
    /// Groups the frames of a batch by data socket: <paramref name="order"/> receives the frame
    /// indices, socket 0's first, each group in batch order; <paramref name="starts"/> (length
    /// <see cref="EntropyPorts"/> + 1) where each group starts. <paramref name="socketOf"/> gives each frame's socket.
    /// </summary>
    public static void Group(ReadOnlySpan<byte> socketOf, Span<ushort> order, Span<int> starts)
    {
        starts.Clear();
        for (int i = 0; i < socketOf.Length; i++)
        {
            starts[socketOf[i] + 1]++;
        }

        for (int s = 1; s <= EntropyPorts; s++)
        {
            starts[s] += starts[s - 1];
        }

        Span<int> next = stackalloc int[EntropyPorts];
        starts[..EntropyPorts].CopyTo(next);
        for (int i = 0; i < socketOf.Length; i++)
        {
            order[next[socketOf[i]]++] = (ushort)i;
        }
    }

    /// <summary>Sends the frames of a batch grouped by <see cref="Group"/>, each group from its socket (any thread; the batch is borrowed).</summary>
    public int SendGrouped(PacketBatch batch, ReadOnlySpan<ushort> order, ReadOnlySpan<int> starts)
    {
        int sent = 0;
        for (int s = 0; s < EntropyPorts; s++)
        {
            int from = starts[s], to = starts[s + 1];
            if (to > from)
            {
                lock (_senderLocks[s])
                {
                    sent += _senders[s].SendFrames(batch, order[from..to]);
                }
            }
        }

        return sent;
    }

    /// <summary>Sends hellos (or any control frames) from the hello socket, never queued behind data.</summary>
    public int SendControl(PacketBatch batch)
    {
        lock (_helloLock)
        {
            return _helloSender.SendBatch(batch);
        }
    }

    private void OnBatch(PacketBatch batch)
    {
        try
        {
            Dictionary<uint, PwLink> byLabel = Volatile.Read(ref _byLabel);
            if (_rxPw.Length < batch.Count)
            {
                _rxPw = new PwLink?[batch.Capacity];
            }

            long now = Liveness.AwakeTicks;
            // Pass 1: demultiplex, and run the liveness hellos first, so a batch full of data
            // cannot make a hello look late.
            for (int i = 0; i < batch.Count; i++)
            {
                ReadOnlySpan<byte> datagram = batch.Frame(i);
                _rxPw[i] = null;
                if (datagram.Length < MplsLayout.EntryLength)
                {
                    Interlocked.Increment(ref _malformed);
                    continue;
                }

                uint label = MplsLabel.FromEntry(BigEndian.U32(datagram, 0)).Value;
                if (!byLabel.TryGetValue(label, out PwLink? pw))
                {
                    Interlocked.Increment(ref _unknownLabel);
                    Tracer?.Drop(datagram, $"underlay {Local}", $"unknown-label ({label}: no PW on this node has it as local label)");
                    continue;
                }

                if (pw.IsControl(datagram))
                {
                    pw.Receive(datagram, now);
                }
                else
                {
                    _rxPw[i] = pw;
                }
            }

            // Pass 2: data, in arrival order.
            for (int i = 0; i < batch.Count; i++)
            {
                if (_rxPw[i] is not { } pw)
                {
                    continue;
                }

                _rxPw[i] = null;
                Tracer?.Hop(batch.Frame(i), $"pw {pw.Name}", $"received by {pw.Config.Pe} (local label {pw.Config.LocalLabel.Value}) from {batch[i].Peer}");
                pw.Receive(batch.Frame(i), now);
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
        Liveness.Dispose();
        _helloReceiver?.Dispose();
        Port.StopReceiving();
        Port.Dispose();
        lock (_helloLock)
        {
            _helloSender.Dispose();
        }

        for (int s = 0; s < _senders.Length; s++)
        {
            lock (_senderLocks[s])
            {
                _senders[s].Dispose();
            }
        }
    }
}
