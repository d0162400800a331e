using System.Runtime.InteropServices;

namespace Fabric.Actors.DataPlane.Io;

/// <summary>
/// An io_uring used as a batch of system calls: a port queues the reads or writes of one batch,
/// <see cref="Submit"/> hands them all to the kernel with one <c>io_uring_enter</c>, and each
/// result is read back in queue order (<see cref="Result"/>: bytes, or -errno). Every operation
/// carries RWF_NOWAIT, so it runs inline during the submit or fails with EAGAIN, as a
/// non-blocking readv/writev would: nothing stays in flight, nothing runs on a kernel worker, and
/// the operations on one descriptor run in the order queued.
/// </summary>
/// <remarks>
/// <para>Why: a TAP moves one frame per read or write, and a system call is the expensive part of
/// a small frame (on this project's test machines, a paravirtualised VM, ~1-2 µs each; a batch of
/// 8 writes in one submit costs about a third of 8 writev calls). One ring per thread
/// (<see cref="ForThisThread"/>, IORING_SETUP_SINGLE_ISSUER): a port's batch is submitted on the
/// thread that sends it, and the ring lives as long as that thread.</para>
/// <para>Where io_uring is missing or refused (an old kernel, <c>kernel.io_uring_disabled</c>, a
/// seccomp profile), <see cref="ForThisThread"/> returns null once and for all and callers make
/// one system call per frame, as before. <see cref="Enabled"/> (<c>fabric.tap.io-uring</c>) turns
/// it off.</para>
/// </remarks>
internal sealed unsafe class IoUringBatch
{
    /// <summary>Operations one submit takes (the submission queue's size).</summary>
    public const int Capacity = 64;

    private const int SysIoUringSetup = 425; // the same on x86-64 and arm64 (unified numbers since 5.1)
    private const int SysIoUringEnter = 426;
    private const uint SetupSubmitAll = 1u << 7;
    private const uint SetupCoopTaskrun = 1u << 8;
    private const uint SetupSingleIssuer = 1u << 12;
    private const uint FeatSingleMmap = 1;
    private const uint EnterGetEvents = 1;
    private const byte OpWriteV = 2;
    private const byte OpRead = 22;
    private const byte OpWrite = 23;
    private const uint RwfNoWait = 0x8;
    private const int SqeSize = 64;
    private const int CqeSize = 16;
    private const long OffSqRing = 0;
    private const long OffCqRing = 0x8000000;
    private const long OffSqes = 0x10000000;

    [ThreadStatic]
    private static IoUringBatch? t_ring;

    private static volatile bool s_unavailable;

    private readonly int _fd;
    private readonly byte* _sqRing;
    private readonly nuint _sqRingSize;
    private readonly byte* _cqRing; // == _sqRing with a single mapping
    private readonly nuint _cqRingSize;
    private readonly byte* _sqes;
    private readonly nuint _sqesSize;
    private readonly uint* _sqTail;
    private readonly uint* _sqArray;
    private readonly uint _sqMask;
    private readonly uint* _cqHead;
    private readonly uint* _cqTail;
    private readonly uint _cqMask;
    private readonly byte* _cqes;
    private readonly int[] _results = new int[Capacity];
    private uint _tail;
    private int _queued;

    private IoUringBatch(int fd, byte* sqRing, nuint sqRingSize, byte* cqRing, nuint cqRingSize, byte* sqes, nuint sqesSize, byte* p)
    {
        _fd = fd;
        _sqRing = sqRing;
        _sqRingSize = sqRingSize;
        _cqRing = cqRing;
        _cqRingSize = cqRingSize;
        _sqes = sqes;
        _sqesSize = sqesSize;
        // struct io_uring_params: sq_off at 40 (head, tail, ring_mask, ring_entries, flags, dropped, array),
        // cq_off at 80 (head, tail, ring_mask, ring_entries, overflow, cqes).
        _sqTail = (uint*)(sqRing + *(uint*)(p + 44));
        _sqMask = *(uint*)(sqRing + *(uint*)(p + 48));
        _sqArray = (uint*)(sqRing + *(uint*)(p + 64));
        _cqHead = (uint*)(cqRing + *(uint*)(p + 80));
        _cqTail = (uint*)(cqRing + *(uint*)(p + 84));
        _cqMask = *(uint*)(cqRing + *(uint*)(p + 88));
        _cqes = cqRing + *(uint*)(p + 100);
        _tail = *_sqTail;
    }

    ~IoUringBatch()
    {
        // The thread that owned the ring is gone (nothing else holds it).
        if (_cqRing != _sqRing)
        {
            LinuxNative.Munmap(_cqRing, _cqRingSize);
        }

        LinuxNative.Munmap(_sqRing, _sqRingSize);
        LinuxNative.Munmap(_sqes, _sqesSize);
        LinuxNative.Close(_fd);
    }

    /// <summary>Whether ports batch their system calls through io_uring (<c>fabric.tap.io-uring</c>, default true).</summary>
    public static bool Enabled { get; set; } = true;

    /// <summary>Operations queued since the last <see cref="Submit"/>.</summary>
    public int Queued => _queued;

    /// <summary>Whether <see cref="Queued"/> reached <see cref="Capacity"/>.</summary>
    public bool IsFull => _queued == Capacity;

    /// <summary>
    /// The calling thread's ring, created on first use; null when disabled or when this kernel
    /// refuses io_uring (then never asked again).
    /// </summary>
    public static IoUringBatch? ForThisThread()
    {
        if (!Enabled || s_unavailable)
        {
            return null;
        }

        return t_ring ??= Create();
    }

    private static IoUringBatch? Create()
    {
        byte* p = stackalloc byte[120];
        int fd = -1;
        foreach (uint flags in new[] { SetupSubmitAll | SetupCoopTaskrun | SetupSingleIssuer, 0u })
        {
            new Span<byte>(p, 120).Clear();
            *(uint*)(p + 8) = flags;
            fd = (int)LinuxNative.Syscall(SysIoUringSetup, Capacity, (long)p, 0, 0, 0, 0);
            if (fd >= 0 || LinuxNative.LastError != LinuxNative.EINVAL)
            {
                break;
            }
        }

        if (fd < 0)
        {
            s_unavailable = true;
            return null;
        }

        uint sqEntries = *(uint*)p;
        uint cqEntries = *(uint*)(p + 4);
        bool single = (*(uint*)(p + 20) & FeatSingleMmap) != 0;
        nuint sqSize = *(uint*)(p + 64) + sqEntries * 4;
        nuint cqSize = *(uint*)(p + 100) + cqEntries * CqeSize;
        if (single)
        {
            sqSize = cqSize = Math.Max(sqSize, cqSize);
        }

        nuint sqesSize = sqEntries * SqeSize;
        byte* sq = Mmap(sqSize, fd, OffSqRing);
        byte* cq = single ? sq : Mmap(cqSize, fd, OffCqRing);
        byte* sqes = Mmap(sqesSize, fd, OffSqes);
        if (sq == null || cq == null || sqes == null || sqEntries < Capacity)
        {
            if (sqes != null) LinuxNative.Munmap(sqes, sqesSize);
            if (cq != null && cq != sq) LinuxNative.Munmap(cq, cqSize);
            if (sq != null) LinuxNative.Munmap(sq, sqSize);
            LinuxNative.Close(fd);
            s_unavailable = true;
            return null;
        }

        return new IoUringBatch(fd, sq, sqSize, cq, cqSize, sqes, sqesSize, p);
    }

    /// <summary>Queues a read into <paramref name="buffer"/> (which must stay valid until <see cref="Submit"/>); returns its index.</summary>
    public int QueueRead(int fd, byte* buffer, int length) => Queue(OpRead, fd, (LinuxNative.IoVec*)buffer, length);

    /// <summary>Queues a write of <paramref name="length"/> bytes at <paramref name="buffer"/> (valid until <see cref="Submit"/>); returns its index.</summary>
    public int QueueWrite(int fd, byte* buffer, int length) => Queue(OpWrite, fd, (LinuxNative.IoVec*)buffer, length);

    /// <summary>Queues a writev of <paramref name="iov"/> (which must stay valid until <see cref="Submit"/>); returns its index.</summary>
    public int QueueWriteV(int fd, LinuxNative.IoVec* iov, int count) => Queue(OpWriteV, fd, iov, count);

    /// <summary>One submission entry: for writev an iovec array and its count, for read and write a buffer and its length.</summary>
    private int Queue(byte opcode, int fd, void* address, int count)
    {
        if (_queued == Capacity)
        {
            throw new InvalidOperationException("The io_uring batch is full; submit it first.");
        }

        uint index = (_tail + (uint)_queued) & _sqMask;
        byte* sqe = _sqes + index * SqeSize;
        new Span<byte>(sqe, SqeSize).Clear();
        sqe[0] = opcode;
        *(int*)(sqe + 4) = fd;
        *(ulong*)(sqe + 16) = (ulong)address;
        *(uint*)(sqe + 24) = (uint)count;
        *(uint*)(sqe + 28) = RwfNoWait;
        *(ulong*)(sqe + 32) = (ulong)_queued;
        _sqArray[index] = index;
        return _queued++;
    }

    /// <summary>
    /// Runs every queued operation (one <c>io_uring_enter</c>, more only if interrupted) and
    /// collects their results for <see cref="Result"/>. When the kernel takes none of them (an
    /// error of io_uring_enter itself), each result is that error.
    /// </summary>
    public void Submit()
    {
        int count = _queued;
        if (count == 0)
        {
            return;
        }

        _tail += (uint)count;
        Volatile.Write(ref *_sqTail, _tail);
        int submitted = 0;
        int completed = 0;
        while (completed < count)
        {
            long r = LinuxNative.Syscall(SysIoUringEnter, _fd, count - submitted, count - completed, EnterGetEvents, 0, 0);
            if (r < 0)
            {
                int errno = LinuxNative.LastError;
                if (errno == LinuxNative.EINTR)
                {
                    continue;
                }

                if (submitted < count)
                {
                    // Not taken: the kernel left them in the queue; take them back and fail them.
                    _tail -= (uint)(count - submitted);
                    Volatile.Write(ref *_sqTail, _tail);
                    for (int i = submitted; i < count; i++)
                    {
                        _results[i] = -errno;
                    }

                    count = submitted;
                }

                if (completed >= count)
                {
                    break;
                }

                continue;
            }

            submitted += (int)r;
            completed += Reap();
        }

        _queued = 0;
    }

    /// <summary>The result of the operation queued at <paramref name="index"/> by the last <see cref="Submit"/>: bytes moved, or -errno.</summary>
    public int Result(int index) => _results[index];

    private int Reap()
    {
        uint head = *_cqHead;
        uint tail = Volatile.Read(ref *_cqTail);
        int reaped = 0;
        while (head != tail)
        {
            byte* cqe = _cqes + (head & _cqMask) * CqeSize;
            _results[(int)*(ulong*)cqe] = *(int*)(cqe + 8);
            head++;
            reaped++;
        }

        Volatile.Write(ref *_cqHead, head);
        return reaped;
    }

    /// <summary>Maps one of the ring's regions (shared with the kernel, populated now); null on failure.</summary>
    private static byte* Mmap(nuint length, int fd, long offset)
    {
        void* at = LinuxNative.Mmap(null, length, LinuxNative.PROT_READ | LinuxNative.PROT_WRITE, LinuxNative.MAP_SHARED | LinuxNative.MAP_POPULATE, fd, offset);
        return at == LinuxNative.MapFailed ? null : (byte*)at;
    }
}
