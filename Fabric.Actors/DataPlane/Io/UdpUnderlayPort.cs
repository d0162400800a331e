using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.DataPlane.Io;

/// <summary>How a <see cref="UdpUnderlayPort"/> moves datagrams.</summary>
public enum UdpIoMode
{
    /// <summary>
    /// sendmmsg/recvmmsg on the raw socket: one system call per batch. The default: measured
    /// faster for 64-byte payloads on loopback (see <c>UnderlayScenario</c>).
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
    private int _closed;

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
            _socket.Bind(localEndPoint);
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

    public override int SendBatch(PacketBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (IsFinished)
        {
            Counters.AddDrop(PortDropReason.TxPortGone, batch.Count);
            return 0;
        }

        int sent = Options.Mode == UdpIoMode.Batched ? SendMMsg(batch) : SendSocket(batch);
        if (Tee is { } tee && sent > 0)
        {
            for (int i = 0; i < batch.Count; i++)
            {
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
        if (IsFinished || batch.IsFull || !WaitReadable(timeoutMs))
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
        LinuxNative.PollFd* fds = stackalloc LinuxNative.PollFd[2];
        fds[0] = new LinuxNative.PollFd { Fd = _fd, Events = LinuxNative.POLLIN };
        fds[1] = new LinuxNative.PollFd { Fd = _wakeFd, Events = LinuxNative.POLLIN };
        int r;
        do
        {
            r = LinuxNative.Poll(fds, 2, timeoutMs);
        }
        while (r < 0 && LinuxNative.LastError == LinuxNative.EINTR);

        if (r < 0)
        {
            SetState(PortState.Gone, $"poll: {LinuxNative.Describe(LinuxNative.LastError)}");
            return false;
        }

        if (fds[1].Revents != 0)
        {
            LinuxNative.Drain(_wakeFd);
        }

        if ((fds[0].Revents & LinuxNative.POLLNVAL) != 0)
        {
            SetState(PortState.Gone, "socket closed");
            return false;
        }

        // POLLERR alone (a queued ICMP error) is read and cleared by the next receive call.
        return (fds[0].Revents & (LinuxNative.POLLIN | LinuxNative.POLLERR)) != 0;
    }

    private static void WriteSockAddr(SocketAddress address, UnderlayEndpoint endpoint)
    {
        Span<byte> b = address.Buffer.Span;
        b[2] = (byte)(endpoint.Port >> 8);
        b[3] = (byte)endpoint.Port;
        endpoint.Address.WriteTo(b[4..]);
    }

    private static UnderlayEndpoint ReadSockAddr(SocketAddress address)
    {
        ReadOnlySpan<byte> b = address.Buffer.Span;
        return new UnderlayEndpoint(Ipv4Address.Read(b[4..]), (ushort)(b[2] << 8 | b[3]));
    }

    private int SendSocket(PacketBatch batch)
    {
        int sent = 0;
        long bytes = 0;
        UnderlayEndpoint current = default;
        for (int i = 0; i < batch.Count; i++)
        {
            ref Packet p = ref batch[i];
            if (p.Peer.IsEmpty)
            {
                Counters.AddDrop(PortDropReason.TxNoPeer);
                continue;
            }

            if (p.Peer != current || sent == 0)
            {
                WriteSockAddr(_sendAddress, p.Peer);
                current = p.Peer;
            }

            try
            {
                _socket.SendTo(batch.Frame(i), SocketFlags.None, _sendAddress);
                sent++;
                bytes += p.Length;
            }
            catch (SocketException ex)
            {
                CountSendError(ex.SocketErrorCode switch
                {
                    SocketError.MessageSize => LinuxNative.EMSGSIZE,
                    SocketError.NoBufferSpaceAvailable => LinuxNative.ENOBUFS,
                    SocketError.WouldBlock => LinuxNative.EAGAIN,
                    SocketError.NetworkDown => LinuxNative.ENETDOWN,
                    SocketError.ConnectionRefused => LinuxNative.ECONNREFUSED,
                    _ => ex.NativeErrorCode,
                });
            }
            catch (ObjectDisposedException)
            {
                Counters.AddDrop(PortDropReason.TxPortGone, batch.Count - i);
                break;
            }
        }

        Counters.AddTx(sent, bytes);
        return sent;
    }

    private int ReceiveSocket(PacketBatch batch)
    {
        int added = 0;
        try
        {
            while (!batch.IsFull)
            {
                if (added > 0 && _socket.Available == 0)
                {
                    break;
                }

                Span<byte> room = batch.NextFrameRoom();
                int n = _socket.ReceiveFrom(room, SocketFlags.None, _receiveAddress);
                if (n >= room.Length)
                {
                    Counters.AddDrop(PortDropReason.RxFrameTooLarge); // may have been truncated
                    continue;
                }

                batch.Commit(n, Id).Peer = ReadSockAddr(_receiveAddress);
                added++;
            }
        }
        catch (SocketException)
        {
            // A queued ICMP error (e.g. port unreachable from an earlier send) surfaces here.
            Counters.AddDrop(PortDropReason.RxError);
        }
        catch (ObjectDisposedException)
        {
            SetState(PortState.Gone, "socket closed");
        }

        return added;
    }

    private int SendMMsg(PacketBatch batch)
    {
        int count = batch.Count;
        _txVectors.Ensure(count);
        LinuxNative.MMsgHdr* msgs = _txVectors.Messages;
        int queued = 0;
        fixed (byte* basePtr = batch.Buffer)
        {
            for (int i = 0; i < count; i++)
            {
                ref Packet p = ref batch[i];
                if (p.Peer.IsEmpty)
                {
                    Counters.AddDrop(PortDropReason.TxNoPeer);
                    continue;
                }

                _txVectors.Set(queued, basePtr + p.Offset, p.Length, p.Peer);
                queued++;
            }

            int done = 0;
            int failed = 0;
            long bytes = 0;
            while (done < queued)
            {
                int r = LinuxNative.SendMMsg(_fd, msgs + done, (uint)(queued - done), 0);
                if (r < 0)
                {
                    int errno = LinuxNative.LastError;
                    if (errno == LinuxNative.EINTR)
                    {
                        continue;
                    }

                    if (errno == LinuxNative.EBADF)
                    {
                        Counters.AddDrop(PortDropReason.TxPortGone, queued - done);
                        failed += queued - done;
                        break;
                    }

                    // sendmmsg fails only on the first message of the call: drop it, go on.
                    CountSendError(errno);
                    failed++;
                    done++;
                    continue;
                }

                for (int k = 0; k < r; k++)
                {
                    bytes += (long)_txVectors.Iov[done + k].Length;
                }

                done += r;
            }

            int delivered = queued - failed;
            Counters.AddTx(delivered, bytes);
            return delivered;
        }
    }

    private int ReceiveMMsg(PacketBatch batch)
    {
        int free = batch.Capacity - batch.Count;
        _rxVectors.Ensure(batch.Capacity);
        int first = batch.Count;
        int received;
        fixed (byte* basePtr = batch.Buffer)
        {
            for (int k = 0; k < free; k++)
            {
                int slot = first + k;
                _rxVectors.SetReceive(k, basePtr + slot * batch.SlotSize + batch.Headroom, batch.MaxFrameLength);
            }

            do
            {
                received = LinuxNative.RecvMMsg(_fd, _rxVectors.Messages, (uint)free, LinuxNative.MSG_DONTWAIT, null);
            }
            while (received < 0 && LinuxNative.LastError == LinuxNative.EINTR);
        }

        if (received < 0)
        {
            int errno = LinuxNative.LastError;
            if (errno == LinuxNative.EBADF)
            {
                SetState(PortState.Gone, "socket closed");
            }
            else if (errno != LinuxNative.EAGAIN)
            {
                Counters.AddDrop(PortDropReason.RxError); // e.g. ECONNREFUSED from a queued ICMP error
            }

            return 0;
        }

        int added = 0;
        for (int k = 0; k < received; k++)
        {
            LinuxNative.MMsgHdr* m = _rxVectors.Messages + k;
            if ((m->Header.Flags & LinuxNative.MSG_TRUNC) != 0)
            {
                Counters.AddDrop(PortDropReason.RxFrameTooLarge);
                continue;
            }

            // Frames land in consecutive slots only when none was skipped; move a later one down.
            int slot = first + k;
            int target = batch.Count;
            if (slot != target)
            {
                batch.Buffer.AsSpan(slot * batch.SlotSize + batch.Headroom, (int)m->Length)
                    .CopyTo(batch.NextFrameRoom());
            }

            LinuxNative.SockAddrIn* sa = _rxVectors.Addresses + k;
            batch.Commit((int)m->Length, Id).Peer = new UnderlayEndpoint(
                new Ipv4Address(LinuxNative.NetworkOrder(sa->AddressBigEndian)),
                LinuxNative.NetworkOrder(sa->PortBigEndian));
            added++;
        }

        return added;
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

    /// <summary>Native arrays of mmsghdr / iovec / sockaddr_in for one direction, grown on demand.</summary>
    private struct MmsgVectors
    {
        public LinuxNative.MMsgHdr* Messages;
        public LinuxNative.IoVec* Iov;
        public LinuxNative.SockAddrIn* Addresses;
        private int _capacity;

        public void Ensure(int count)
        {
            if (count <= _capacity)
            {
                return;
            }

            Free();
            Messages = (LinuxNative.MMsgHdr*)NativeMemory.AllocZeroed((nuint)count, (nuint)sizeof(LinuxNative.MMsgHdr));
            Iov = (LinuxNative.IoVec*)NativeMemory.AllocZeroed((nuint)count, (nuint)sizeof(LinuxNative.IoVec));
            Addresses = (LinuxNative.SockAddrIn*)NativeMemory.AllocZeroed((nuint)count, (nuint)sizeof(LinuxNative.SockAddrIn));
            _capacity = count;
        }

        public void Set(int i, byte* data, int length, UnderlayEndpoint peer)
        {
            Iov[i].Base = data;
            Iov[i].Length = (nuint)length;
            Addresses[i].Family = LinuxNative.AF_INET;
            Addresses[i].PortBigEndian = LinuxNative.NetworkOrder(peer.Port);
            Addresses[i].AddressBigEndian = LinuxNative.NetworkOrder(peer.Address.ToUInt32());
            Addresses[i].Zero = 0;
            ref LinuxNative.MsgHdr h = ref Messages[i].Header;
            h.Name = Addresses + i;
            h.NameLength = (uint)sizeof(LinuxNative.SockAddrIn);
            h.Iov = Iov + i;
            h.IovLength = 1;
            h.Control = null;
            h.ControlLength = 0;
            h.Flags = 0;
            Messages[i].Length = 0;
        }

        public void SetReceive(int i, byte* data, int length)
        {
            Iov[i].Base = data;
            Iov[i].Length = (nuint)length;
            ref LinuxNative.MsgHdr h = ref Messages[i].Header;
            h.Name = Addresses + i;
            h.NameLength = (uint)sizeof(LinuxNative.SockAddrIn);
            h.Iov = Iov + i;
            h.IovLength = 1;
            h.Control = null;
            h.ControlLength = 0;
            h.Flags = 0;
            Messages[i].Length = 0;
        }

        public void Free()
        {
            NativeMemory.Free(Messages);
            NativeMemory.Free(Iov);
            NativeMemory.Free(Addresses);
            Messages = null;
            Iov = null;
            Addresses = null;
            _capacity = 0;
        }
    }
}
