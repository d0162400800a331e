using System.Text;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.DataPlane.Io;

/// <summary>
/// A Linux TAP device (<c>/dev/net/tun</c>, <c>IFF_TAP | IFF_NO_PI</c>): every read returns one
/// Ethernet frame the host sent into the device, every write injects one frame into the host.
/// </summary>
/// <remarks>
/// <para>Opening by a name that does not exist creates a non-persistent device that lives as
/// long as this port; opening the name of a persistent device (<c>ip tuntap add dev X mode tap</c>)
/// attaches to it. The device may be moved to another network namespace afterwards
/// (<c>ip link set X netns NS</c>): the file descriptor keeps working.</para>
/// <para>The descriptor is non-blocking; <see cref="ReceiveBatch"/> waits with poll() on it and
/// on an eventfd used to wake the wait when stopping, then reads until EAGAIN or the batch is
/// full. Errors: EAGAIN on write = queue full (drop); EIO on write = link down (drop, state
/// <see cref="PortState.LinkDown"/>); EBADFD/ENODEV/POLLERR/POLLHUP = the device was deleted
/// (state <see cref="PortState.Gone"/>, the receive loop ends cleanly).</para>
/// <para>With offloads (the default for a TAP, see <see cref="OffloadsByDefault"/>) the device
/// is opened with IFF_VNET_HDR and TUNSETOFFLOAD CSUM|TSO4: the host may hand over 64 KiB TCP
/// super-frames and partial checksums, which the port cuts and finishes (TapPort.Offload.cs), and
/// it writes runs of one connection's segments back as super-frames. Either way every frame in a
/// batch is a complete frame of at most MTU + 14 bytes; the batch slot (default 2048 B minus
/// headroom) must hold it, else the frame is dropped as <see cref="PortDropReason.RxFrameTooLarge"/>.</para>
/// </remarks>
public sealed unsafe partial class TapPort : Port
{
    private readonly int _fd;
    private readonly int _wakeFd;
    private int _closed;

    private TapPort(string name, ushort id, int fd, int wakeFd, string interfaceName, bool offloads)
        : base(name, id)
    {
        _fd = fd;
        _wakeFd = wakeFd;
        InterfaceName = interfaceName;
        _offloads = offloads;
        if (offloads)
        {
            _rxHeader = GC.AllocateArray<byte>(VirtioNetLayout.Length, pinned: true);
            _superFrame = GC.AllocateUninitializedArray<byte>(SuperFrameRoom, pinned: true);
            _txHeaders = GC.AllocateArray<byte>(TxHeaderSlot * IoUringBatch.Capacity, pinned: true);
            _txIov = AllocateIov();
        }
    }

    /// <summary>
    /// Whether <see cref="Open"/> enables offloads when not told (default true); a node sets it
    /// once from <c>fabric.tap.offloads</c>.
    /// </summary>
    public static bool OffloadsByDefault { get; set; } = true;

    /// <summary>
    /// Whether ports hand a batch's writes to the kernel in one io_uring submit (default true; a
    /// node sets it once from <c>fabric.tap.io-uring</c>). See <see cref="IoUringBatch"/>.
    /// </summary>
    public static bool IoUring
    {
        get => IoUringBatch.Enabled;
        set => IoUringBatch.Enabled = value;
    }

    /// <summary>The kernel's name for the device (as given, or as assigned for a pattern like "tap%d").</summary>
    public string InterfaceName { get; }

    /// <summary>
    /// Opens (creating if needed) the TAP device <paramref name="interfaceName"/> (at most 15
    /// bytes). Needs CAP_NET_ADMIN. The port takes <paramref name="name"/> (default: the interface name).
    /// With <paramref name="rawIp"/> the device is a TUN (<c>IFF_TUN</c>): every frame is a bare IP
    /// packet with no link header, as a wwan modem's raw-IP net device carries them (never offloaded).
    /// <paramref name="offloads"/> (default <see cref="OffloadsByDefault"/>) asks for the virtio-net
    /// header with checksum and TCPv4 segmentation offload.
    /// <paramref name="netns"/> names the network namespace (<c>/run/netns/NAME</c>) the device lives
    /// in: it is opened (or created, then brought up) there, see TapPort.Namespace.cs. With
    /// <paramref name="devices"/> a device the port creates is made persistent and recorded there, so
    /// it outlives the process; without, it lives as long as the port (tests, benchmarks).
    /// <paramref name="txQueueLength"/> (default <see cref="TxQueueLength"/>; 0 = the kernel's) is
    /// given to a device this node created.
    /// </summary>
    public static TapPort Open(string interfaceName, ushort id = 0, string? name = null, bool rawIp = false, bool? offloads = null,
        string? netns = null, AttachmentDevices? devices = null, int? txQueueLength = null)
    {
        bool vnet = !rawIp && (offloads ?? OffloadsByDefault);
        ArgumentException.ThrowIfNullOrEmpty(interfaceName);
        byte[] nameBytes = Encoding.ASCII.GetBytes(interfaceName);
        if (nameBytes.Length >= LinuxNative.IfNameSize)
        {
            throw new ArgumentException($"Interface name '{interfaceName}' is longer than 15 bytes.", nameof(interfaceName));
        }

        short flags = (short)((rawIp ? LinuxNative.IFF_TUN : LinuxNative.IFF_TAP) | LinuxNative.IFF_NO_PI | (vnet ? LinuxNative.IFF_VNET_HDR : 0));
        var opened = netns is null
            ? OpenDevice(interfaceName, nameBytes, flags, vnet, "", devices, inNamespace: false)
            : InNamespace(netns, () => OpenDevice(interfaceName, nameBytes, flags, vnet, netns, devices, inNamespace: true));
        int wakeFd = LinuxNative.EventFd(0, LinuxNative.EFD_NONBLOCK | LinuxNative.EFD_CLOEXEC);
        if (wakeFd < 0)
        {
            int errno = LinuxNative.LastError;
            opened.Close();
            throw new IOException($"eventfd failed: {LinuxNative.Describe(errno)}");
        }

        var port = new TapPort(name ?? opened.Assigned, id, opened.Fd, wakeFd, opened.Assigned, vnet)
        {
            Namespace = netns ?? "",
            CreatedByNode = opened.Created || devices?.Created(netns ?? "", opened.Assigned) == true,
            _devices = devices,
            _controlFd = opened.ControlFd,
        };
        int queue = txQueueLength ?? TxQueueLength;
        if (queue > 0 && port.CreatedByNode)
        {
            try
            {
                port.SetTxQueueLength(queue);
            }
            catch
            {
                port.Dispose();
                throw;
            }
        }

        return port;
    }

    /// <summary>
    /// Frames the kernel holds for a device this node creates before it drops them (its
    /// <c>txqueuelen</c>: for a TAP, the ring between the host's stack and our reads); 0 = the
    /// kernel's default (1,000), as outside a node. A node sets it once from
    /// <c>fabric.tap.tx-queue-length</c> (shipped 4096); devices others made are left as they are.
    /// </summary>
    public static int TxQueueLength { get; set; }

    /// <summary>
    /// Open /dev/net/tun, TUNSETIFF (create or attach), offloads, then persistence: a device that
    /// was not persistent before is one this open created; with a record it is written down and made
    /// persistent. In a named namespace also keeps a control socket there (MTU, flags) and brings a
    /// created device up. Runs on the namespace's thread when there is one; throws <see cref="IOException"/>.
    /// </summary>
    private static OpenedDevice OpenDevice(string interfaceName, byte[] nameBytes, short flags, bool vnet, string netns, AttachmentDevices? devices, bool inNamespace)
    {
        int fd = LinuxNative.Open("/dev/net/tun", LinuxNative.O_RDWR | LinuxNative.O_NONBLOCK | LinuxNative.O_CLOEXEC);
        if (fd < 0)
        {
            throw new IOException($"open /dev/net/tun failed: {LinuxNative.Describe(LinuxNative.LastError)}");
        }

        var opened = new OpenedDevice { Fd = fd, ControlFd = -1, Assigned = interfaceName };
        try
        {
            // struct ifreq: char ifr_name[16]; union { short ifr_flags; ... } padded to 40 bytes.
            byte* ifreq = stackalloc byte[LinuxNative.IfReqSize];
            new Span<byte>(ifreq, LinuxNative.IfReqSize).Clear();
            nameBytes.CopyTo(new Span<byte>(ifreq, LinuxNative.IfNameSize));
            *(short*)(ifreq + LinuxNative.IfNameSize) = flags;
            Check(LinuxNative.Ioctl(fd, LinuxNative.TUNSETIFF, ifreq), $"TUNSETIFF {interfaceName}");

            // What the host may hand us: partial checksums and TCPv4 super-frames. Without it the
            // header stays (all zero on receive): frames are then complete, as without offloads.
            if (vnet)
            {
                Check(LinuxNative.IoctlValue(fd, LinuxNative.TUNSETOFFLOAD, LinuxNative.TUN_F_CSUM | LinuxNative.TUN_F_TSO4), $"TUNSETOFFLOAD {interfaceName}");
            }

            opened.Assigned = Encoding.ASCII.GetString(new ReadOnlySpan<byte>(ifreq, LinuxNative.IfNameSize)).TrimEnd('\0');
            Check(LinuxNative.Ioctl(fd, LinuxNative.TUNGETIFF, ifreq), $"TUNGETIFF {interfaceName}");
            opened.Created = (*(short*)(ifreq + LinuxNative.IfNameSize) & LinuxNative.IFF_PERSIST) == 0;
            if (devices is not null)
            {
                devices.Keep(netns, opened.Assigned);
                if (opened.Created)
                {
                    // Written down first: a crash before TUNSETPERSIST leaves a stale line, never an unknown device.
                    devices.Record(netns, opened.Assigned);
                    Check(LinuxNative.IoctlValue(fd, LinuxNative.TUNSETPERSIST, 1), $"TUNSETPERSIST {interfaceName}");
                }
            }

            if (inNamespace)
            {
                opened.ControlFd = LinuxNative.Socket(LinuxNative.AF_INET, LinuxNative.SOCK_DGRAM, 0);
                Check(opened.ControlFd, $"socket in namespace {netns}");
                if (opened.Created)
                {
                    SetUp(opened.ControlFd, opened.Assigned);
                }
            }

            return opened;
        }
        catch
        {
            opened.Close();
            throw;
        }
    }

    private static void Check(int result, string what)
    {
        if (result < 0)
        {
            throw new IOException($"{what} failed: {LinuxNative.Describe(LinuxNative.LastError)}");
        }
    }

    /// <summary>What <see cref="OpenDevice"/> hands back: the device's fd, the control socket (-1 = none), its name, and whether this open created it.</summary>
    private sealed class OpenedDevice
    {
        public int Fd;
        public int ControlFd;
        public required string Assigned;
        public bool Created;

        public void Close()
        {
            LinuxNative.Close(Fd);
            if (ControlFd >= 0)
            {
                LinuxNative.Close(ControlFd);
            }
        }
    }

    /// <summary>
    /// Sets the device's MTU (SIOCSIFMTU), so the host sends nothing larger: through the control
    /// socket opened in the port's namespace, or (no namespace named) while the device is still in
    /// this process's network namespace. Throws <see cref="IOException"/> on failure.
    /// </summary>
    public void SetMtu(int mtu)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(mtu, 68);
        SetInterfaceInt(LinuxNative.SIOCSIFMTU, mtu, "SIOCSIFMTU");
    }

    /// <summary>
    /// Sets the device's transmit queue length (SIOCSIFTXQLEN; for a TAP the size of the ring the
    /// host's frames wait in for our reads), as <see cref="SetMtu"/> reaches the device. Throws
    /// <see cref="IOException"/> on failure.
    /// </summary>
    public void SetTxQueueLength(int frames)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(frames, 1);
        SetInterfaceInt(LinuxNative.SIOCSIFTXQLEN, frames, "SIOCSIFTXQLEN");
    }

    /// <summary>One ioctl on the device that takes an int in struct ifreq's union (ifr_mtu, ifr_qlen).</summary>
    private void SetInterfaceInt(uint request, int value, string what)
    {
        int sock = _controlFd >= 0 ? _controlFd : LinuxNative.Socket(LinuxNative.AF_INET, LinuxNative.SOCK_DGRAM, 0);
        if (sock < 0)
        {
            throw new IOException($"socket failed: {LinuxNative.Describe(LinuxNative.LastError)}");
        }

        try
        {
            // struct ifreq: char ifr_name[16]; then the union (ifr_mtu, ifr_qlen: an int).
            byte* ifreq = stackalloc byte[LinuxNative.IfReqSize];
            new Span<byte>(ifreq, LinuxNative.IfReqSize).Clear();
            Encoding.ASCII.GetBytes(InterfaceName).CopyTo(new Span<byte>(ifreq, LinuxNative.IfNameSize));
            *(int*)(ifreq + LinuxNative.IfNameSize) = value;
            if (LinuxNative.Ioctl(sock, request, ifreq) < 0)
            {
                throw new IOException($"{what} {InterfaceName} {value} failed: {LinuxNative.Describe(LinuxNative.LastError)}");
            }
        }
        finally
        {
            if (sock != _controlFd)
            {
                LinuxNative.Close(sock);
            }
        }
    }

    public override int ReceiveBatch(PacketBatch batch, int timeoutMs)
    {
        ArgumentNullException.ThrowIfNull(batch);
        // Segments of a super-frame still waiting from the last call go first, without waiting.
        // Timeout 0 (a loop that saw the descriptor readable) reads at once: EAGAIN if nothing
        // is there, EBADFD if the device is gone; no poll() first.
        if (IsFinished || batch.IsFull || (!HasPendingFrames && timeoutMs != 0 && !WaitReadable(timeoutMs)))
        {
            return 0;
        }

        long bytes = 0;
        int added = _offloads ? ReceiveOffloaded(batch, ref bytes) : ReceivePlain(batch, ref bytes);
        if (added > 0)
        {
            Counters.AddRx(added, bytes);
            if (State == PortState.LinkDown)
            {
                SetState(PortState.Up, null);
            }

            Tee?.WriteBatch(batch, batch.Count - added, added);
        }

        return added;
    }

    /// <summary>
    /// One read per frame, straight into its batch slot, until EAGAIN or the batch is full; with an
    /// io_uring on this thread up to <see cref="RxReadAhead"/> of them in one system call (as many
    /// as the last submit suggests: <see cref="LearnDepth"/>).
    /// </summary>
    private int ReceivePlain(PacketBatch batch, ref long bytes)
    {
        int added = 0;
        var ring = Ring;
        byte[] buffer = batch.Buffer;
        fixed (byte* basePtr = buffer)
        {
            while (!batch.IsFull)
            {
                int roomLength = batch.MaxFrameLength;
                int free = batch.Capacity - batch.Count;
                if (ring is not null && free > 1)
                {
                    int first = batch.Count;
                    int count = Math.Min(free, _readAheadDepth);
                    for (int j = 0; j < count; j++)
                    {
                        ring.QueueRead(_fd, basePtr + batch.FrameRoomOffset(first + j), roomLength);
                    }

                    ring.Submit();
                    Interlocked.Increment(ref _rxReadSubmits);
                    Interlocked.Add(ref _rxReadsQueued, count);
                    int got = 0;
                    for (int j = 0; j < count; j++)
                    {
                        int n = ring.Result(j);
                        if (n < 0)
                        {
                            RetryRead(-n); // EAGAIN: nothing was there; gone or failed: as a direct read says it
                            continue;
                        }

                        got++;

                        if (TakePlain(batch, n, roomLength, basePtr + batch.FrameRoomOffset(first + j)))
                        {
                            added++;
                            bytes += n;
                        }
                    }

                    LearnDepth(count, got);
                    if (ring.Result(count - 1) < 0)
                    {
                        break; // drained
                    }

                    continue;
                }

                nint read = LinuxNative.Read(_fd, basePtr + batch.FrameRoomOffset(batch.Count), (nuint)roomLength);
                if (read < 0)
                {
                    if (RetryRead(LinuxNative.LastError))
                    {
                        continue;
                    }

                    break;
                }

                if (TakePlain(batch, (int)read, roomLength, basePtr + batch.FrameRoomOffset(batch.Count)))
                {
                    added++;
                    bytes += read;
                }
            }
        }

        return added;
    }

    /// <summary>
    /// Commits a frame of <paramref name="length"/> bytes read at <paramref name="at"/> (a slot at or
    /// after the batch's next one: moved down when a read before it found nothing); false (counted)
    /// when it filled its slot, as a cut frame does.
    /// </summary>
    private bool TakePlain(PacketBatch batch, int length, int roomLength, byte* at)
    {
        if (length >= roomLength)
        {
            // The kernel truncates silently to our buffer; a full read may be a cut frame.
            Counters.AddDrop(PortDropReason.RxFrameTooLarge);
            return false;
        }

        Span<byte> next = batch.NextFrameRoom();
        fixed (byte* nextPtr = next)
        {
            if (nextPtr != at)
            {
                new ReadOnlySpan<byte>(at, length).CopyTo(next);
            }
        }

        batch.Commit(length, Id);
        return true;
    }

    /// <summary>After a failed read: true to try again (EINTR); otherwise the error is handled (EAGAIN: done; gone: state; else counted).</summary>
    private bool RetryRead(int errno)
    {
        switch (errno)
        {
            case LinuxNative.EINTR:
                return true;
            case LinuxNative.EAGAIN:
                return false;
            default:
                if (IsDeviceGone(errno))
                {
                    SetState(PortState.Gone, $"read: {LinuxNative.Describe(errno)}");
                }
                else
                {
                    Counters.AddDrop(PortDropReason.RxError);
                }

                return false;
        }
    }

    public override int SendBatch(PacketBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (IsFinished)
        {
            Counters.AddDrop(PortDropReason.TxPortGone, batch.Count);
            return 0;
        }

        int sent = 0;
        long bytes = 0;
        fixed (byte* basePtr = batch.Buffer)
        {
            sent = _offloads ? SendOffloaded(batch, basePtr, ref bytes) : SendPlain(batch, basePtr, ref bytes);
        }

        if (sent > 0)
        {
            Counters.AddTx(sent, bytes);
            if (State == PortState.LinkDown && sent == batch.Count)
            {
                SetState(PortState.Up, null);
            }

            Tee?.WriteBatch(batch);
        }

        return sent;
    }

    /// <summary>One write per frame; with an io_uring on this thread up to <see cref="IoUringBatch.Capacity"/> of them in one system call.</summary>
    private int SendPlain(PacketBatch batch, byte* basePtr, ref long bytes)
    {
        var ring = Ring;
        int sent = 0;
        int queued = 0;
        for (int i = 0; i < batch.Count; i++)
        {
            ref Packet p = ref batch[i];
            if (p.IsGhost)
            {
                // Ghost frames never reach a live device (ghost routing's one rule).
                Counters.AddDrop(PortDropReason.PlaneMismatch);
                continue;
            }

            var write = new TxRun(i, 1, p.Length);
            if (ring is null)
            {
                nint n;
                do
                {
                    n = LinuxNative.Write(_fd, basePtr + p.Offset, (nuint)p.Length);
                }
                while (n < 0 && LinuxNative.LastError == LinuxNative.EINTR);

                Interlocked.Increment(ref _txWriteCalls);
                if (!Written(write, n < 0 ? -LinuxNative.LastError : (int)n, batch.Count, ref sent, ref bytes))
                {
                    return sent;
                }

                continue;
            }

            _txRuns[queued++] = write;
            ring.QueueWrite(_fd, basePtr + p.Offset, p.Length);
            if (queued == IoUringBatch.Capacity)
            {
                if (!CompleteWrites(ring, queued, batch.Count, ref sent, ref bytes))
                {
                    return sent;
                }

                queued = 0;
            }
        }

        if (queued > 0)
        {
            CompleteWrites(ring!, queued, batch.Count, ref sent, ref bytes);
        }

        return sent;
    }

    /// <summary>
    /// Counts a failed write of <paramref name="frames"/> frames by its errno; false when the
    /// device is gone (then the <paramref name="remaining"/> frames from this one on are dropped).
    /// </summary>
    private bool WriteFailed(int errno, int frames, int remaining)
    {
        switch (errno)
        {
            case LinuxNative.EAGAIN:
            case LinuxNative.ENOBUFS:
                Counters.AddDrop(PortDropReason.TxQueueFull, frames);
                return true;
            case LinuxNative.EIO:
                SetState(PortState.LinkDown, $"write: {LinuxNative.Describe(errno)}");
                Counters.AddDrop(PortDropReason.TxLinkDown, frames);
                return true;
            case LinuxNative.EINVAL:
            case LinuxNative.EMSGSIZE:
                Counters.AddDrop(PortDropReason.TxFrameTooLarge, frames);
                return true;
            default:
                if (IsDeviceGone(errno))
                {
                    SetState(PortState.Gone, $"write: {LinuxNative.Describe(errno)}");
                    Counters.AddDrop(PortDropReason.TxPortGone, remaining);
                    return false;
                }

                Counters.AddDrop(PortDropReason.TxError, frames);
                return true;
        }
    }

    /// <summary>Readable when the host sent a frame; a deleted device reports an error (the next read says EBADFD).</summary>
    protected internal override int ReadinessFd => _fd;

    /// <summary>On a loop: a super-frame cut short by a full batch, or frames read ahead, still to hand over (now).</summary>
    protected internal override long NextReceiveDue(long nowTicks) => HasPendingFrames ? nowTicks : long.MaxValue;

    protected internal override bool HoldsReadFrames => HasPendingFrames;

    protected override void WakeReceiver()
    {
        if (Volatile.Read(ref _closed) == 0)
        {
            LinuxNative.Signal(_wakeFd);
        }
    }

    /// <summary>
    /// The wake eventfd ends the poll, and a device deleted under the port ends it too (tun wakes
    /// its pollers when it detaches, and poll then reports POLLERR): no periodic stop check.
    /// </summary>
    protected override bool WakeEndsReceiveWait => true;

    protected override void DisposeCore()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 0)
        {
            DeleteIfRetired();
            LinuxNative.Close(_fd);
            if (_controlFd >= 0)
            {
                LinuxNative.Close(_controlFd);
            }

            LinuxNative.Close(_wakeFd);
            if (_txIov != IntPtr.Zero)
            {
                System.Runtime.InteropServices.NativeMemory.Free((void*)_txIov);
            }

            if (_rxStaging != null)
            {
                LinuxNative.Munmap(_rxStaging, RxStagingBytes);
                _rxStaging = null;
            }
        }
    }

    private static bool IsDeviceGone(int errno) =>
        errno is LinuxNative.EBADFD or LinuxNative.ENODEV or LinuxNative.EBADF or LinuxNative.EFAULT;

    /// <summary>poll() on the device and the wake eventfd; false on timeout, wake-up or device loss.</summary>
    private bool WaitReadable(int timeoutMs)
    {
        if (!LinuxNative.PollWithWake(_fd, _wakeFd, timeoutMs, out var revents, out var errno))
        {
            SetState(PortState.Gone, $"poll: {LinuxNative.Describe(errno)}");
            return false;
        }

        if ((revents & LinuxNative.POLLIN) != 0)
        {
            return true;
        }

        if ((revents & (LinuxNative.POLLERR | LinuxNative.POLLHUP | LinuxNative.POLLNVAL)) != 0)
        {
            // tun's poll reports POLLERR once the device is detached from the descriptor.
            SetState(PortState.Gone, $"device {InterfaceName} vanished (poll revents 0x{revents:x})");
        }

        return false;
    }
}
