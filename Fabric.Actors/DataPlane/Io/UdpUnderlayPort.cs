using System.Net;
using System.Net.Sockets;

namespace Fabric.Actors.DataPlane.Io;

/// <summary>How a <see cref="UdpUnderlayPort"/> moves datagrams.</summary>
public enum UdpIoMode
{
    /// <summary>
    /// sendmmsg/recvmmsg on the raw socket: one system call per batch, and UDP GSO for runs of
    /// equal-size frames to one peer (<see cref="UdpUnderlayOptions.SegmentationOffload"/>). The
    /// default: measured faster and cheaper per frame than <see cref="Socket"/> for 64-byte
    /// payloads on loopback (see <c>UnderlayScenario</c>).
    /// </summary>
    Batched,

    /// <summary>Socket.SendTo / ReceiveFrom: one system call per datagram.</summary>
    Socket,
}

/// <summary>Settings of a <see cref="UdpUnderlayPort"/>.</summary>
public sealed record UdpUnderlayOptions
{
    public UdpIoMode Mode { get; init; } = UdpIoMode.Batched;

    /// <summary>SO_RCVBUF in bytes (forced past rmem_max when running as root). Default 4 MiB.</summary>
    public int ReceiveBufferBytes { get; init; } = 4 << 20;

    /// <summary>SO_SNDBUF in bytes (forced past wmem_max when running as root). Default 4 MiB.</summary>
    public int SendBufferBytes { get; init; } = 4 << 20;

    /// <summary>
    /// Batched mode only: send runs of equal-size frames to the same peer as one UDP GSO message
    /// (UDP_SEGMENT). The receiver sees ordinary datagrams. Falls back per run if the path refuses.
    /// Default on.
    /// </summary>
    public bool SegmentationOffload { get; init; } = true;

    /// <summary>
    /// Batched mode only: UDP_GRO on the socket (Linux 5.0). The kernel then hands over a run of
    /// datagrams of one flow (one UDP GSO send over loopback, or what the NIC coalesced) as one
    /// buffer with its segment size, instead of queuing and copying each datagram on its own; the
    /// port cuts it back into frames. The caller sees ordinary frames. Default off.
    /// </summary>
    public bool ReceiveOffload { get; init; }

    /// <summary>
    /// SO_REUSEPORT before bind: lets a second socket of this process share the address and port,
    /// with a steering program (<see cref="UdpUnderlayPort.AttachReusePortProgram"/>) choosing the
    /// socket per datagram. Default off.
    /// </summary>
    public bool ReusePort { get; init; }

    /// <summary>
    /// Never fragment (IP_MTU_DISCOVER = IP_PMTUDISC_DO: DF on every datagram): a datagram over
    /// the path MTU is refused with EMSGSIZE and counted as <see cref="PortDropReason.TxFrameTooLarge"/>
    /// instead of leaving as IP fragments. Default false (the kernel's default: fragment locally).
    /// </summary>
    public bool DontFragment { get; init; }

    /// <summary>
    /// Batched mode only: a delay limit on the receive queue (CoDel). The socket timestamps each
    /// datagram as the kernel queues it (SO_TIMESTAMPNS); once frames have waited longer than
    /// the target for an interval, the port drops frames as it reads them, counted as
    /// <see cref="PortDropReason.RxQueueDelay"/>, so an overload costs loss rather than seconds
    /// of delay. Null (default): the queue is as deep as the receive buffer.
    /// </summary>
    public CoDelSettings? QueueDelayLimit { get; init; }
}

/// <summary>
/// The node's one UDP socket on the underlay. A frame's bytes are the datagram payload (an
/// encapsulated frame: MPLS-in-UDP, VXLAN, Geneve); <see cref="Packet.Peer"/> is the remote
/// socket: the source on receive, the destination on send.
/// </summary>
/// <remarks>
/// The capture tee gets each datagram wrapped in synthesised Ethernet/IPv4/UDP headers with the
/// real addresses and ports, so Wireshark decodes the encapsulation by its well-known port.
/// </remarks>
public sealed unsafe partial class UdpUnderlayPort : Port
{
    private const int SO_RCVBUFFORCE = 33;
    private const int SO_SNDBUFFORCE = 32;

    private readonly Socket _socket;
    private readonly int _fd;
    private readonly int _wakeFd;
    private readonly SocketAddress _sendAddress = new(AddressFamily.InterNetwork);
    private readonly SocketAddress _receiveAddress = new(AddressFamily.InterNetwork);
    private MmsgVectors _rxVectors;
    private MmsgVectors _txVectors;
    private int _gsoMaxSegment = ushort.MaxValue; // largest segment GSO is still tried with; 0 = never
    private long _gsoFallbacks;
    private long _gsoFrames;
    private int _closed;
    private bool _gro;
    private readonly CoDel? _codel;
    private bool _readDry; // with _codel: the last read found fewer datagrams than it asked for (the queue is empty)

    public UdpUnderlayPort(string name, ushort id, IPEndPoint localEndPoint, UdpUnderlayOptions? options = null)
        : base(name, id)
    {
        ArgumentNullException.ThrowIfNull(localEndPoint);
        Options = options ?? new UdpUnderlayOptions();
        _socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            SetBuffer(SO_RCVBUFFORCE, SocketOptionName.ReceiveBuffer, Options.ReceiveBufferBytes);
            SetBuffer(SO_SNDBUFFORCE, SocketOptionName.SendBuffer, Options.SendBufferBytes);
            if (Options.ReusePort)
            {
                _socket.SetRawSocketOption(LinuxNative.SOL_SOCKET, LinuxNative.SO_REUSEPORT, BitConverter.GetBytes(1));
            }

            if (Options.DontFragment)
            {
                _socket.DontFragment = true;
            }

            _socket.Bind(localEndPoint);
            if (Options.ReceiveOffload && Options.Mode == UdpIoMode.Batched)
            {
                try
                {
                    _socket.SetRawSocketOption(LinuxNative.SOL_UDP, LinuxNative.UDP_GRO, BitConverter.GetBytes(1));
                    _gro = true;
                }
                catch (SocketException)
                {
                    // kernel without UDP_GRO: datagrams arrive one by one
                }
            }

            if (Options.QueueDelayLimit is { } limit && Options.Mode == UdpIoMode.Batched)
            {
                _socket.SetRawSocketOption(LinuxNative.SOL_SOCKET, LinuxNative.SO_TIMESTAMPNS, BitConverter.GetBytes(1));
                _codel = new CoDel(limit);
            }

            LocalEndPoint = (IPEndPoint)_socket.LocalEndPoint!;
            Local = UnderlayEndpoint.FromIPEndPoint(LocalEndPoint);
            _fd = (int)_socket.SafeHandle.DangerousGetHandle();
            _wakeFd = LinuxNative.EventFd(0, LinuxNative.EFD_NONBLOCK | LinuxNative.EFD_CLOEXEC);
            if (_wakeFd < 0)
            {
                throw new IOException($"eventfd failed: {LinuxNative.Describe(LinuxNative.LastError)}");
            }
        }
        catch
        {
            _socket.Dispose();
            throw;
        }
    }

    public UdpUnderlayOptions Options { get; }

    /// <summary>The bound address (with the real port when bound to port 0).</summary>
    public IPEndPoint LocalEndPoint { get; }

    public UnderlayEndpoint Local { get; }

    /// <summary>Frames that left inside a GSO run of two or more.</summary>
    public long GsoFramesSent => Interlocked.Read(ref _gsoFrames);

    /// <summary>GSO runs the kernel refused and that were resent frame by frame.</summary>
    public long GsoFallbacks => Interlocked.Read(ref _gsoFallbacks);

    /// <summary>
    /// Attaches a classic BPF program to this socket's SO_REUSEPORT group
    /// (SO_ATTACH_REUSEPORT_CBPF, Linux 4.5): it runs on each datagram with the UDP payload at
    /// offset 0 and returns the index, in bind order, of the group's socket that gets it (an index
    /// out of range falls back to the kernel's hash). Each instruction is one struct sock_filter
    /// (code | jt &lt;&lt; 16 | jf &lt;&lt; 24 | k &lt;&lt; 32). False with the errno when the kernel refuses.
    /// </summary>
    public bool AttachReusePortProgram(ReadOnlySpan<ulong> program, out int errno)
    {
        fixed (ulong* filter = program)
        {
            var fprog = new LinuxNative.SockFprog { Length = (ushort)program.Length, Filter = filter };
            int r = LinuxNative.SetSockOpt(_fd, LinuxNative.SOL_SOCKET, LinuxNative.SO_ATTACH_REUSEPORT_CBPF, &fprog, (uint)sizeof(LinuxNative.SockFprog));
            errno = r == 0 ? 0 : LinuxNative.LastError;
            return r == 0;
        }
    }

    /// <summary>Sends every frame to <paramref name="peer"/>, overwriting each frame's <see cref="Packet.Peer"/>.</summary>
    public int SendBatch(PacketBatch batch, UnderlayEndpoint peer)
    {
        ArgumentNullException.ThrowIfNull(batch);
        for (int i = 0; i < batch.Count; i++)
        {
            batch[i].Peer = peer;
        }

        return SendBatch(batch);
    }

    public override int SendBatch(PacketBatch batch) => Send(batch, default, all: true);

    /// <summary>
    /// Sends only the frames of <paramref name="batch"/> whose indices are listed, in that order
    /// (the batch is borrowed). Lets a caller spread one batch over several sockets without
    /// copying frames: e.g. one socket per UDP source port.
    /// </summary>
    public int SendFrames(PacketBatch batch, ReadOnlySpan<ushort> frames) => Send(batch, frames, all: false);

    private int Send(PacketBatch batch, ReadOnlySpan<ushort> selected, bool all)
    {
        ArgumentNullException.ThrowIfNull(batch);
        int count = all ? batch.Count : selected.Length;
        if (IsFinished)
        {
            Counters.AddDrop(PortDropReason.TxPortGone, count);
            return 0;
        }

        int sent = Options.Mode == UdpIoMode.Batched ? SendMMsg(batch, selected, all) : SendSocket(batch, selected, all);
        if (Tee is { } tee && sent > 0)
        {
            for (int k = 0; k < count; k++)
            {
                int i = all ? k : selected[k];
                ref Packet p = ref batch[i];
                if (!p.Peer.IsEmpty)
                {
                    tee.WriteUdpDatagram(batch.Frame(i), Local, p.Peer);
                }
            }
        }

        return sent;
    }

    public override int ReceiveBatch(PacketBatch batch, int timeoutMs)
    {
        ArgumentNullException.ThrowIfNull(batch);
        // Timeout 0 (a loop that saw the socket readable) with recvmmsg reads at once (MSG_DONTWAIT:
        // EAGAIN when nothing is there, EBADF once closed): no poll() first, a system call saved per turn.
        bool readNow = timeoutMs == 0 && Options.Mode == UdpIoMode.Batched;
        if (IsFinished || batch.IsFull || (!readNow && !WaitReadable(timeoutMs)))
        {
            return 0;
        }

        int first = batch.Count;
        int added = Options.Mode == UdpIoMode.Batched ? ReceiveMMsg(batch) : ReceiveSocket(batch);
        if (added > 0)
        {
            long bytes = 0;
            for (int i = first; i < batch.Count; i++)
            {
                bytes += batch[i].Length;
            }

            Counters.AddRx(added, bytes);
            if (Tee is { } tee)
            {
                for (int i = first; i < batch.Count; i++)
                {
                    tee.WriteUdpDatagram(batch.Frame(i), batch[i].Peer, Local);
                }
            }
        }

        return added;
    }

    /// <summary>Receives on an I/O loop: the socket is in the loop's epoll set.</summary>
    protected internal override bool ReceivesOnLoop => true;

    protected internal override int ReadinessFd => Volatile.Read(ref _closed) == 0 ? _fd : -1;

    /// <summary>Ends a <see cref="ReceiveBatch"/> that is waiting, as if its timeout had passed (any thread).</summary>
    internal void Interrupt() => WakeReceiver();

    protected override void WakeReceiver()
    {
        if (Volatile.Read(ref _closed) == 0)
        {
            LinuxNative.Signal(_wakeFd);
        }
    }

    protected override void DisposeCore()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 0)
        {
            _socket.Dispose();
            LinuxNative.Close(_wakeFd);
            _rxVectors.Free();
            _txVectors.Free();
            _groVectors.Free();
        }
    }

    private void SetBuffer(int forceOption, SocketOptionName option, int bytes)
    {
        try
        {
            // SO_*BUFFORCE (CAP_NET_ADMIN) ignores net.core.[rw]mem_max.
            _socket.SetRawSocketOption((int)SocketOptionLevel.Socket, forceOption, BitConverter.GetBytes(bytes));
        }
        catch (SocketException)
        {
            _socket.SetSocketOption(SocketOptionLevel.Socket, option, bytes);
        }
    }

    /// <summary>poll() on the socket and the wake eventfd; false on timeout or wake-up.</summary>
    private bool WaitReadable(int timeoutMs)
    {
        if (!LinuxNative.PollWithWake(_fd, _wakeFd, timeoutMs, out var revents, out var errno))
        {
            SetState(PortState.Gone, $"poll: {LinuxNative.Describe(errno)}");
            return false;
        }

        if ((revents & LinuxNative.POLLNVAL) != 0)
        {
            SetState(PortState.Gone, "socket closed");
            return false;
        }

        // POLLERR alone (a queued ICMP error) is read and cleared by the next receive call.
        return (revents & (LinuxNative.POLLIN | LinuxNative.POLLERR)) != 0;
    }

    private void CountSendError(int errno)
    {
        Counters.AddDrop(errno switch
        {
            LinuxNative.EAGAIN or LinuxNative.ENOBUFS => PortDropReason.TxQueueFull,
            LinuxNative.EMSGSIZE => PortDropReason.TxFrameTooLarge,
            LinuxNative.ENETDOWN => PortDropReason.TxLinkDown,
            LinuxNative.EBADF => PortDropReason.TxPortGone,
            _ => PortDropReason.TxError,
        });
    }
}

