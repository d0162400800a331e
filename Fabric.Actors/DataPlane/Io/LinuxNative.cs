using Fabric.Actors.DataPlane.Wire;
using System.Runtime.InteropServices;

namespace Fabric.Actors.DataPlane.Io;

/// <summary>
/// The few libc calls the TAP and underlay ports need (Linux, x86-64 / arm64 layouts). Every
/// call sets errno, read back with <see cref="Marshal.GetLastPInvokeError"/>.
/// </summary>
internal static unsafe partial class LinuxNative
{
    private const string Libc = "libc";

    // fcntl.h
    public const int O_RDWR = 0x2;
    public const int O_NONBLOCK = 0x800;
    public const int O_CLOEXEC = 0x80000;

    // errno.h
    public const int EINTR = 4;
    public const int EIO = 5;
    public const int EBADF = 9;
    public const int EAGAIN = 11;
    public const int EFAULT = 14;
    public const int ENODEV = 19;
    public const int EINVAL = 22;
    public const int EMSGSIZE = 90;
    public const int ENOPROTOOPT = 92;
    public const int ENETDOWN = 100;
    public const int ENOBUFS = 105;
    public const int ECONNREFUSED = 111;
    public const int EBADFD = 77;

    // poll.h
    public const short POLLIN = 0x001;
    public const short POLLOUT = 0x004;
    public const short POLLERR = 0x008;
    public const short POLLHUP = 0x010;
    public const short POLLNVAL = 0x020;

    // sys/socket.h
    public const int MSG_TRUNC = 0x20;
    public const int MSG_DONTWAIT = 0x40;
    public const ushort AF_INET = 2;

    // asm-generic/socket.h
    public const int SOL_SOCKET = 1;
    public const int SO_REUSEPORT = 15;
    public const int SO_ATTACH_REUSEPORT_CBPF = 51;
    public const int SO_TIMESTAMPNS = 35; // SCM_TIMESTAMPNS: struct timespec, CLOCK_REALTIME

    // sys/resource.h
    public const int PRIO_PROCESS = 0;

    // netinet/udp.h (UDP GSO, Linux 4.18)
    public const int SOL_UDP = 17;
    public const int UDP_SEGMENT = 103;
    public const int UDP_GRO = 104;

    // sys/eventfd.h
    public const int EFD_NONBLOCK = 0x800;
    public const int EFD_CLOEXEC = 0x80000;

    // linux/if_tun.h
    public const uint TUNSETIFF = 0x400454ca;
    public const short IFF_TUN = 0x0001;
    public const short IFF_TAP = 0x0002;
    public const short IFF_NO_PI = 0x1000;
    public const short IFF_VNET_HDR = 0x4000;
    public const uint TUNSETOFFLOAD = 0x400454d0;
    public const uint TUN_F_CSUM = 0x01;
    public const uint TUN_F_TSO4 = 0x02;
    public const short IFF_PERSIST = 0x0800;
    public const uint TUNSETPERSIST = 0x400454cb;
    public const uint TUNGETIFF = 0x800454d2;

    // sched.h
    public const int CLONE_NEWNET = 0x40000000;
    public const int O_RDONLY = 0x0;
    public const int ENOENT = 2;

    // linux/sockios.h
    public const uint SIOCSIFMTU = 0x8922;
    public const uint SIOCSIFTXQLEN = 0x8943;
    public const uint SIOCGIFFLAGS = 0x8913;
    public const uint SIOCSIFFLAGS = 0x8914;
    public const short IFF_UP = 0x1;
    public const int SOCK_DGRAM = 2;
    public const int IfNameSize = 16;
    public const int IfReqSize = 40;

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec
    {
        public void* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct MsgHdr
    {
        public void* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct MMsgHdr
    {
        public MsgHdr Header;
        public uint Length;
    }

    /// <summary>struct sockaddr_in: port and address in network order.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct SockAddrIn
    {
        public ushort Family;
        public ushort PortBigEndian;
        public uint AddressBigEndian;
        public ulong Zero;

        public static SockAddrIn From(UnderlayEndpoint endpoint) => new()
        {
            Family = AF_INET,
            PortBigEndian = NetworkOrder(endpoint.Port),
            AddressBigEndian = NetworkOrder(endpoint.Address.ToUInt32()),
        };

        public readonly UnderlayEndpoint ToEndpoint() =>
            new(new Ipv4Address(NetworkOrder(AddressBigEndian)), NetworkOrder(PortBigEndian));
    }

    /// <summary>
    /// Points message <paramref name="message"/> at one address, <paramref name="iovCount"/> iovecs
    /// and an optional control buffer, and clears what the kernel writes back (flags, length).
    /// </summary>
    public static void SetMessage(MMsgHdr* message, SockAddrIn* name, IoVec* iov, int iovCount, byte* control, int controlLength)
    {
        ref MsgHdr h = ref message->Header;
        h.Name = name;
        h.NameLength = (uint)sizeof(SockAddrIn);
        h.Iov = iov;
        h.IovLength = (nuint)iovCount;
        h.Control = control;
        h.ControlLength = (nuint)controlLength;
        h.Flags = 0;
        message->Length = 0;
    }

    [LibraryImport(Libc, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags);

    /// <summary>setns(2): moves the calling thread into the namespace <paramref name="fd"/> refers to.</summary>
    [LibraryImport(Libc, EntryPoint = "setns", SetLastError = true)]
    public static partial int SetNs(int fd, int nstype);

    [LibraryImport(Libc, EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport(Libc, EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(int fd, nuint request, void* argument);

    [LibraryImport(Libc, EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(int fd, byte* buffer, nuint count);

    [LibraryImport(Libc, EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(int fd, byte* buffer, nuint count);

    [LibraryImport(Libc, EntryPoint = "socket", SetLastError = true)]
    public static partial int Socket(int domain, int type, int protocol);

    [LibraryImport(Libc, EntryPoint = "readv", SetLastError = true)]
    public static partial nint ReadV(int fd, IoVec* iov, int count);

    [LibraryImport(Libc, EntryPoint = "writev", SetLastError = true)]
    public static partial nint WriteV(int fd, IoVec* iov, int count);

    // sys/mman.h
    public const int PROT_READ = 0x1;
    public const int PROT_WRITE = 0x2;
    public const int MAP_SHARED = 0x01;
    public const int MAP_PRIVATE = 0x02;
    public const int MAP_ANONYMOUS = 0x20;
    public const int MAP_POPULATE = 0x8000;

    /// <summary>mmap's failure value (MAP_FAILED).</summary>
    public static readonly void* MapFailed = (void*)-1;

    [LibraryImport(Libc, EntryPoint = "mmap", SetLastError = true)]
    public static partial void* Mmap(void* address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport(Libc, EntryPoint = "munmap", SetLastError = true)]
    public static partial int Munmap(void* address, nuint length);

    /// <summary>syscall(2) with six arguments, for calls libc has no wrapper for (io_uring).</summary>
    [LibraryImport(Libc, EntryPoint = "syscall", SetLastError = true)]
    public static partial long Syscall(long number, long a1, long a2, long a3, long a4, long a5, long a6);

    [LibraryImport(Libc, EntryPoint = "ioctl", SetLastError = true)]
    public static partial int IoctlValue(int fd, nuint request, nuint argument);

    [LibraryImport(Libc, EntryPoint = "poll", SetLastError = true)]
    public static partial int Poll(PollFd* fds, nuint count, int timeoutMs);

    [LibraryImport(Libc, EntryPoint = "eventfd", SetLastError = true)]
    public static partial int EventFd(uint initialValue, int flags);

    [LibraryImport(Libc, EntryPoint = "sendmmsg", SetLastError = true)]
    public static partial int SendMMsg(int fd, MMsgHdr* messages, uint count, int flags);

    [LibraryImport(Libc, EntryPoint = "recvmmsg", SetLastError = true)]
    public static partial int RecvMMsg(int fd, MMsgHdr* messages, uint count, int flags, void* timeout);

    /// <summary>struct sock_fprog: a classic BPF program.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct SockFprog
    {
        public ushort Length;
        public ulong* Filter;
    }

    /// <summary>
    /// The data of control message (<paramref name="level"/>, <paramref name="type"/>) in a
    /// received message's control buffer, or null (CMSG_FIRSTHDR/CMSG_NXTHDR on 64-bit Linux:
    /// 16-byte headers, lengths aligned to 8).
    /// </summary>
    public static byte* FindControl(MsgHdr* message, int level, int type)
    {
        byte* c = (byte*)message->Control;
        long left = (long)message->ControlLength;
        while (left >= 16)
        {
            long length = (long)*(nuint*)c;
            if (length < 16 || length > left)
            {
                return null;
            }

            if (*(int*)(c + 8) == level && *(int*)(c + 12) == type)
            {
                return c + 16;
            }

            long step = (length + 7) & ~7L;
            c += step;
            left -= step;
        }

        return null;
    }

    [LibraryImport(Libc, EntryPoint = "setsockopt", SetLastError = true)]
    public static partial int SetSockOpt(int fd, int level, int name, void* value, uint length);

    [LibraryImport(Libc, EntryPoint = "gettid")]
    public static partial int GetTid();

    [LibraryImport(Libc, EntryPoint = "setpriority", SetLastError = true)]
    public static partial int SetPriority(int which, uint who, int priority);

    // sched.h
    public const int SCHED_OTHER = 0;
    public const int SCHED_FIFO = 1;

    /// <summary>struct sched_param is one int (the static priority, 1-99 for SCHED_FIFO).</summary>
    [LibraryImport(Libc, EntryPoint = "sched_setscheduler", SetLastError = true)]
    public static partial int SchedSetScheduler(int pid, int policy, int* param);

    // sys/epoll.h
    public const int EPOLL_CLOEXEC = 0x80000;
    public const int EPOLL_CTL_ADD = 1;
    public const int EPOLL_CTL_DEL = 2;
    public const uint EPOLLIN = 0x001;
    public const uint EPOLLERR = 0x008;
    public const uint EPOLLHUP = 0x010;

    /// <summary>struct epoll_event: packed on x86-64 (12 bytes), naturally aligned elsewhere (16).</summary>
    public static readonly int EpollEventSize = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;

    [LibraryImport(Libc, EntryPoint = "epoll_create1", SetLastError = true)]
    public static partial int EpollCreate1(int flags);

    [LibraryImport(Libc, EntryPoint = "epoll_ctl", SetLastError = true)]
    public static partial int EpollCtl(int epfd, int op, int fd, byte* ev);

    [LibraryImport(Libc, EntryPoint = "epoll_wait", SetLastError = true)]
    public static partial int EpollWait(int epfd, byte* events, int maxEvents, int timeoutMs);

    /// <summary>Writes one epoll_event (events, then the 64-bit data) at <paramref name="at"/>.</summary>
    public static void WriteEpollEvent(byte* at, uint events, ulong data)
    {
        *(uint*)at = events;
        System.Runtime.CompilerServices.Unsafe.WriteUnaligned(at + EpollEventSize - 8, data);
    }

    /// <summary>Reads the events and the 64-bit data of the epoll_event at <paramref name="at"/>.</summary>
    public static (uint Events, ulong Data) ReadEpollEvent(byte* at) =>
        (*(uint*)at, System.Runtime.CompilerServices.Unsafe.ReadUnaligned<ulong>(at + EpollEventSize - 8));

    /// <summary>Host to network byte order and back (the same swap).</summary>
    public static ushort NetworkOrder(ushort value) =>
        BitConverter.IsLittleEndian ? System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(value) : value;

    /// <summary>Host to network byte order and back (the same swap).</summary>
    public static uint NetworkOrder(uint value) =>
        BitConverter.IsLittleEndian ? System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(value) : value;

    public static int LastError => Marshal.GetLastPInvokeError();

    public static string Describe(int errno) => $"{Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})";

    /// <summary>Wakes a poll() that watches <paramref name="eventFd"/>.</summary>
    public static void Signal(int eventFd)
    {
        ulong one = 1;
        Write(eventFd, (byte*)&one, sizeof(ulong));
    }

    /// <summary>Clears a signalled eventfd (non-blocking).</summary>
    public static void Drain(int eventFd)
    {
        ulong value;
        Read(eventFd, (byte*)&value, sizeof(ulong));
    }

    /// <summary>
    /// poll() on <paramref name="fd"/> and a wake eventfd, retrying EINTR and clearing the wake.
    /// Returns false with <paramref name="errno"/> set when poll itself fails; otherwise true with
    /// the fd's <paramref name="revents"/> (0 on timeout or wake-up).
    /// </summary>
    public static bool PollWithWake(int fd, int wakeFd, int timeoutMs, out short revents, out int errno)
    {
        PollFd* fds = stackalloc PollFd[2];
        fds[0] = new PollFd { Fd = fd, Events = POLLIN };
        fds[1] = new PollFd { Fd = wakeFd, Events = POLLIN };
        int r;
        do
        {
            r = Poll(fds, 2, timeoutMs);
        }
        while (r < 0 && LastError == EINTR);

        revents = 0;
        errno = r < 0 ? LastError : 0;
        if (r < 0) return false;
        if (fds[1].Revents != 0) Drain(wakeFd);
        revents = fds[0].Revents;
        return true;
    }
}
