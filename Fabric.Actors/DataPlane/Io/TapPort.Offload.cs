using System.Runtime.InteropServices;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.DataPlane.Io;

// Checksum and TCP segmentation offload (IFF_VNET_HDR + TUNSETOFFLOAD CSUM|TSO4), the way a
// virtio NIC and OVS's netdev-linux do it: the host's kernel hands the port 64 KiB TCP
// super-frames with partial checksums instead of MTU frames with full ones, and takes 64 KiB
// super-frames back. Inside the fabric a frame is a complete MTU frame (the batch slot size, the
// trunk's per-frame work are unchanged), except where a consumer keeps super-frames whole
// (KeepsSuperFrames: the gateway, which forwards them TAP to TAP with SendSuperFrame):
//  - receive: a frame that fits its batch slot is read straight into it (readv: header, slot,
//    rest of a super-frame); a partial checksum is finished; a super-frame is cut into MSS segments with full
//    checksums (Wire/TcpOffload.cs), resuming in the next batch when this one is full;
//  - send: consecutive segments of one TCP connection become one super-frame (gather write:
//    one header, the segments' payloads in place), which the receiving kernel takes whole.
public sealed unsafe partial class TapPort
{
    /// <summary>Most segments gathered into one super-frame write.</summary>
    private const int MaxCoalescedSegments = 64;

    /// <summary>Reads one read-ahead submit makes (each into a staging buffer of its own).</summary>
    private const int RxReadAhead = 8;

    /// <summary>The fewest reads a read-ahead submit queues: a frame, and a read that says EAGAIN (the turn ends in one submit).</summary>
    private const int MinReadAhead = 2;

    /// <summary>A staging buffer: virtio-net header, then room for the largest super-frame (whole pages).</summary>
    private const int RxStageSize = (VirtioNetLayout.Length + SuperFrameRoom + 4095) & ~4095;

    private const nuint RxStagingBytes = (nuint)(RxReadAhead * RxStageSize);

    /// <summary>A run's virtio-net header and the headers of the super-frame it makes.</summary>
    private const int TxHeaderSlot = VirtioNetLayout.Length + 256;

    /// <summary>iovecs the runs of one submit may use (each run: one header, then its frames).</summary>
    private const int TxIovCapacity = 4 * (MaxCoalescedSegments + 1);

    /// <summary>Room for the largest super-frame the kernel hands over (64 KiB IPv4 + link headers).</summary>
    public const int SuperFrameRoom = 65536 + 256;

    private readonly bool _offloads;
    private readonly byte[]? _rxHeader;   // pinned: the virtio-net header of the frame being read
    private readonly byte[]? _superFrame; // pinned: a super-frame being segmented, contiguous; its bytes beyond the batch slot are read straight here
    private readonly byte[]? _txHeaders;  // pinned: TxHeaderSlot bytes per run of one submit (virtio-net header + a super-frame's headers)
    private readonly IntPtr _txIov;       // TxIovCapacity iovecs: the runs of one submit
    private readonly TxRun[] _txRuns = new TxRun[IoUringBatch.Capacity]; // the writes of one submit, in order
    private int _pendingLength;           // bytes of _superFrame still to segment (0 = none)
    private int _pendingMss;
    private int _pendingDone;             // segments of it already delivered
    private long _rxSuperFrames;
    private long _rxSegments;
    private long _txSuperFrames;
    private long _txCoalesced;
    private long _rxSuperFramesKept;
    private long _txSuperFramesPassed;
    private long _rxReadSubmits;
    private long _rxReadsQueued;
    private long _txWriteCalls;
    private byte* _rxStaging;             // RxReadAhead staging buffers of RxStageSize (anonymous mmap), made on first read-ahead
    private readonly int[] _stagedResult = new int[RxReadAhead];
    private int _stagedNext;              // read-ahead results not yet handed over: [_stagedNext, _stagedCount)
    private int _stagedCount;
    private bool _rxBulk;                 // after a super-frame: one read at a time, straight into the batch
    private int _smallRun;                // small frames read one at a time since the last super-frame
    private int _readAheadDepth = MinReadAhead; // reads per read-ahead submit (LearnDepth)
    private bool _stagedDrained;          // the staged reads' last said EAGAIN: after handing them over, nothing to read until the device polls readable
    private bool _readBackFound;          // the last read behind a write found a frame: the next goes as deep as a read-ahead
    private long _rxReadsAfterWrite;
    private long _rxFramesAfterWrite;
    private bool _noStaging;              // the staging mmap failed: no read-ahead

    /// <summary>True when the device passes the virtio-net header with checksum and TSO offload.</summary>
    public bool Offloads => _offloads;

    /// <summary>
    /// Hand TCPv4 super-frames over whole (<see cref="PacketBatch.CommitSuperFrame"/>) instead of
    /// cutting them, when the receive batch has a super-frame room; set before receiving starts,
    /// by a consumer that handles <see cref="Packet.GsoSize"/> (a gateway). A super-frame that
    /// finds no room (or carries the ECN GSO flag) is cut as before.
    /// </summary>
    public bool KeepsSuperFrames { get; set; }

    /// <summary>Super-frames handed over whole (see <see cref="KeepsSuperFrames"/>), part of <see cref="RxSuperFrames"/>.</summary>
    public long RxSuperFramesKept => Interlocked.Read(ref _rxSuperFramesKept);

    /// <summary>Super-frames written as they came (<see cref="SendSuperFrame"/>).</summary>
    public long TxSuperFramesPassed => Interlocked.Read(ref _txSuperFramesPassed);

    /// <summary>
    /// Whether this port batches its reads and writes through the thread's io_uring (default
    /// <see cref="IoUring"/> when the port opened); false = one system call per frame.
    /// </summary>
    public bool UsesIoUring { get; set; } = IoUring;

    private IoUringBatch? Ring => UsesIoUring ? IoUringBatch.ForThisThread() : null;

    /// <summary>Whether this kernel gives the calling thread an io_uring (false also when <see cref="IoUring"/> is off).</summary>
    public static bool IoUringAvailable => IoUringBatch.ForThisThread() is not null;

    /// <summary>Read-ahead submits (<see cref="RxReadAhead"/> reads in one system call each).</summary>
    public long RxReadAheadSubmits => Interlocked.Read(ref _rxReadSubmits);

    /// <summary>Reads those submits queued (found a frame or said EAGAIN): a read-ahead's depth follows the traffic (<see cref="LearnDepth"/>).</summary>
    public long RxReadsQueued => Interlocked.Read(ref _rxReadsQueued);

    /// <summary>Reads queued behind writes, in their system call (<see cref="ReadBackDepth"/>).</summary>
    public long RxReadsAfterWrite => Interlocked.Read(ref _rxReadsAfterWrite);

    /// <summary>Frames those reads found: what a write to the device provoked at once (an echo reply, a SYN-ACK, an ACK).</summary>
    public long RxFramesAfterWrite => Interlocked.Read(ref _rxFramesAfterWrite);

    /// <summary>System calls the writes took (one io_uring submit for up to 64 runs, else one writev per run).</summary>
    public long TxWriteCalls => Interlocked.Read(ref _txWriteCalls);

    /// <summary>Super-frames the host handed over (cut into <see cref="RxSegments"/>, or kept whole: <see cref="RxSuperFramesKept"/>).</summary>
    public long RxSuperFrames => Interlocked.Read(ref _rxSuperFrames);

    /// <summary>Segments cut from received super-frames.</summary>
    public long RxSegments => Interlocked.Read(ref _rxSegments);

    /// <summary>Super-frames written to the host (each made of several segments: coalesced here, or passed on whole).</summary>
    public long TxSuperFrames => Interlocked.Read(ref _txSuperFrames);

    /// <summary>Segments that left inside a super-frame.</summary>
    public long TxCoalescedSegments => Interlocked.Read(ref _txCoalesced);

    private static IntPtr AllocateIov() =>
        (IntPtr)NativeMemory.AllocZeroed((nuint)(TxIovCapacity * sizeof(LinuxNative.IoVec)));

    /// <summary>
    /// Reads frames with their virtio-net header until EAGAIN or the batch is full. With an
    /// io_uring on this thread the reads go ahead <see cref="RxReadAhead"/> at a time in one system
    /// call, each into a staging buffer of its own, and are copied into the batch from there
    /// (<see cref="DeliverStaged"/>); after a super-frame the port reads one frame per call again,
    /// straight into the batch (a super-frame's tail lands in place: no 64 KiB copy), until
    /// <see cref="RxReadAhead"/> small frames came in a row. A staging buffer's pages stay once a
    /// super-frame touched them (at most RxReadAhead x 68 KiB per port): handing them back costs
    /// page faults on every next read, far more than the memory is worth.
    /// </summary>
    private int ReceiveOffloaded(PacketBatch batch, ref long bytes)
    {
        // Reading on after the pending segments costs one EAGAIN when nothing else arrived.
        int added = DrainSuperFrame(batch, ref bytes);
        bool staged = _stagedNext < _stagedCount;
        added += DeliverStaged(batch, ref bytes);
        if (staged && _stagedDrained && !HasPendingFrames)
        {
            return added; // what was read ahead ended in EAGAIN: the device polls readable when more comes
        }

        fixed (byte* basePtr = batch.Buffer)
        fixed (byte* header = _rxHeader)
        fixed (byte* superFrame = _superFrame)
        {
            LinuxNative.IoVec* iov = stackalloc LinuxNative.IoVec[3];
            while (!batch.IsFull && !HasPendingFrames)
            {
                IoUringBatch? ring;
                if (!_rxBulk && !_noStaging && batch.Capacity - batch.Count > 1 && (ring = Ring) is not null)
                {
                    bool more = ReadAhead(ring, Math.Min(batch.Capacity - batch.Count, _readAheadDepth));
                    added += DeliverStaged(batch, ref bytes);
                    if (!more)
                    {
                        break; // drained: the last read said EAGAIN (or the device is gone)
                    }

                    continue;
                }

                int room = batch.MaxFrameLength;
                // A super-frame kept whole lands in the batch's super-frame room, else in the one it is cut from.
                bool keep = CanKeepWhole(batch);
                byte* whole = keep ? basePtr + batch.SuperFrameRoomOffset : superFrame;
                iov[0] = new LinuxNative.IoVec { Base = header, Length = VirtioNetLayout.Length };
                iov[1] = new LinuxNative.IoVec { Base = basePtr + batch.FrameRoomOffset(batch.Count), Length = (nuint)room };
                // Beyond the slot: where it goes in the contiguous super-frame (nothing is pending there while reading).
                iov[2] = new LinuxNative.IoVec { Base = whole + room, Length = (nuint)(SuperFrameRoom - room) };
                nint n = LinuxNative.ReadV(_fd, iov, 3);
                if (n < 0)
                {
                    if (RetryRead(LinuxNative.LastError))
                    {
                        continue;
                    }

                    break;
                }

                int length = (int)n - VirtioNetLayout.Length;
                if (!TryHeader(_rxHeader, length, out var vnet))
                {
                    continue;
                }

                if (vnet.BaseGsoType == VirtioNetGsoType.None && length <= room)
                {
                    // Reading ahead again only after a run of small frames: a stream's odd short segment does not make the next super-frames pay a copy.
                    if (_rxBulk && ++_smallRun >= RxReadAhead)
                    {
                        _rxBulk = false;
                    }

                    added += CommitFrame(batch, vnet, length, ref bytes);
                    continue;
                }

                _smallRun = 0;

                if (!IsTcpSuperFrame(vnet))
                {
                    continue;
                }

                // A super-frame: its start (in the slot) joins the rest (already in place), then it is kept whole or cut.
                new ReadOnlySpan<byte>(basePtr + batch.FrameRoomOffset(batch.Count), Math.Min(length, room)).CopyTo(new Span<byte>(whole, length));
                added += TakeSuperFrame(batch, vnet, length, keptInRoom: keep, ref bytes);
            }
        }

        return added;
    }

    /// <summary>Segments or read-ahead frames still to hand over (before anything new is read).</summary>
    private bool HasPendingFrames => _pendingLength > 0 || _stagedNext < _stagedCount;

    /// <summary>
    /// Queues <paramref name="count"/> reads, each into its staging buffer, and runs them in one
    /// submit. Returns false when the last one found nothing (the device is drained) or failed.
    /// </summary>
    private bool ReadAhead(IoUringBatch ring, int count)
    {
        if (!HasStaging())
        {
            return true; // no memory for staging: read one at a time from now on
        }

        QueueStagedReads(ring, count);
        ring.Submit();
        Interlocked.Increment(ref _rxReadSubmits);
        LearnDepth(count, TakeStaged(ring, 0, count));
        return !_stagedDrained;
    }

    /// <summary>The staging buffers, mapped on first use; false (and no read-ahead from now on) when there is no memory for them.</summary>
    private bool HasStaging()
    {
        if (_rxStaging == null && !_noStaging)
        {
            // Anonymous memory: a staging buffer costs resident pages only as far as frames fill it.
            _rxStaging = (byte*)LinuxNative.Mmap(null, RxStagingBytes, LinuxNative.PROT_READ | LinuxNative.PROT_WRITE, LinuxNative.MAP_PRIVATE | LinuxNative.MAP_ANONYMOUS, -1, 0);
            if (_rxStaging == LinuxNative.MapFailed)
            {
                _rxStaging = null;
                _noStaging = true;
            }
        }

        return _rxStaging != null;
    }

    /// <summary>Queues <paramref name="count"/> reads of the device, each into its staging buffer.</summary>
    private void QueueStagedReads(IoUringBatch ring, int count)
    {
        for (int j = 0; j < count; j++)
        {
            ring.QueueRead(_fd, _rxStaging + j * RxStageSize, RxStageSize);
        }

        Interlocked.Add(ref _rxReadsQueued, count);
    }

    /// <summary>Takes the results of the <paramref name="count"/> staged reads queued at <paramref name="first"/> of the last submit; returns how many found a frame.</summary>
    private int TakeStaged(IoUringBatch ring, int first, int count)
    {
        int got = 0;
        for (int j = 0; j < count; j++)
        {
            _stagedResult[j] = ring.Result(first + j);
            if (_stagedResult[j] >= 0) got++;
        }

        _stagedNext = 0;
        _stagedCount = count;
        _stagedDrained = _stagedResult[count - 1] < 0;
        return got;
    }

    /// <summary>
    /// Reads to queue behind this submit's writes, in the same system call: a write to a TAP runs
    /// the receiving stack inside it, so whatever that answers at once (an echo reply, a SYN-ACK,
    /// an ACK) is already queued towards this port when the write returns. Read there and then,
    /// it costs no epoll_wait and no read submit of its own (<see cref="Port.ReadAheadOnLoop"/>).
    /// Only on the loop this port receives on, between its turns (nothing staged or pending), not
    /// while reading one frame at a time after a super-frame. One read when the last such read
    /// found nothing, else as deep as a read-ahead. 0 = none.
    /// </summary>
    private int ReadBackDepth(int queued)
    {
        if (!OnReceiveLoop || _rxBulk || HasPendingFrames || !HasStaging())
        {
            return 0;
        }

        return Math.Min(_readBackFound ? _readAheadDepth : 1, IoUringBatch.Capacity - queued);
    }

    /// <summary>Takes what the reads behind the writes found (<see cref="ReadBackDepth"/>) and has the loop hand it over before it next waits.</summary>
    private void TakeReadBack(IoUringBatch ring, int first, int count)
    {
        int got = TakeStaged(ring, first, count);
        Interlocked.Add(ref _rxReadsAfterWrite, count);
        _readBackFound = got > 0;
        if (got == 0)
        {
            for (int j = 0; j < count; j++)
            {
                RetryRead(-_stagedResult[j]); // EAGAIN: nothing there; a device gone says so now
            }

            _stagedCount = 0;
            return;
        }

        Interlocked.Add(ref _rxFramesAfterWrite, got);
        ReadAheadOnLoop();
    }

    /// <summary>
    /// The next read-ahead's depth follows what this one found: every read found a frame, twice as
    /// many next time (up to <see cref="RxReadAhead"/>); fewer, one more than were found (at least
    /// <see cref="MinReadAhead"/>). A read that finds the device empty is not free (each is set up,
    /// tried and completed in the kernel): a ping, one frame per wake-up, costs one such read per
    /// hop instead of seven, while a burst reaches the full depth after two submits.
    /// </summary>
    private void LearnDepth(int queued, int got) =>
        _readAheadDepth = got >= queued ? Math.Min(RxReadAhead, Math.Max(MinReadAhead, queued * 2)) : Math.Max(MinReadAhead, got + 1);

    /// <summary>Copies read-ahead frames into the batch, in the order they were read, while it has room.</summary>
    private int DeliverStaged(PacketBatch batch, ref long bytes)
    {
        int added = 0;
        while (_stagedNext < _stagedCount && !batch.IsFull && _pendingLength == 0)
        {
            int j = _stagedNext++;
            int result = _stagedResult[j];
            if (result < 0)
            {
                RetryRead(-result); // EAGAIN: nothing was there; gone or failed: as a direct read says it
                continue;
            }

            byte* stage = _rxStaging + j * RxStageSize;
            int length = result - VirtioNetLayout.Length;
            if (!TryHeader(new ReadOnlySpan<byte>(stage, VirtioNetLayout.Length), length, out var vnet))
            {
                continue;
            }

            var frame = new ReadOnlySpan<byte>(stage + VirtioNetLayout.Length, length);
            if (vnet.BaseGsoType == VirtioNetGsoType.None && length <= batch.MaxFrameLength)
            {
                frame.CopyTo(batch.NextFrameRoom());
                added += CommitFrame(batch, vnet, length, ref bytes);
                continue;
            }

            if (!IsTcpSuperFrame(vnet))
            {
                continue;
            }

            // A super-frame among small frames: one copy, then one read at a time while they last.
            _rxBulk = true;
            _smallRun = 0;
            bool keep = CanKeepWhole(batch);
            frame.CopyTo(keep ? batch.Buffer.AsSpan(batch.SuperFrameRoomOffset, length) : _superFrame);
            added += TakeSuperFrame(batch, vnet, length, keptInRoom: keep, ref bytes);
        }

        return added;
    }

    /// <summary>Whether a super-frame read now may be handed over whole, in the batch's super-frame room (<see cref="KeepsSuperFrames"/>).</summary>
    private bool CanKeepWhole(PacketBatch batch) =>
        KeepsSuperFrames && batch.SuperFrameRoomLength >= SuperFrameRoom && batch.CanTakeSuperFrame;

    /// <summary>The header of a frame read with <paramref name="length"/> bytes after it; false (counted) when it cannot be used.</summary>
    private bool TryHeader(ReadOnlySpan<byte> header, int length, out VirtioNetHeader vnet)
    {
        if (length <= 0 || !VirtioNetHeader.TryParse(header, out vnet, out _))
        {
            vnet = default;
            Counters.AddDrop(PortDropReason.RxError);
            return false;
        }

        if (length >= SuperFrameRoom)
        {
            Counters.AddDrop(PortDropReason.RxFrameTooLarge); // filled every byte: may be cut
            return false;
        }

        return true;
    }

    /// <summary>Commits the frame in the batch's next slot: its partial checksum finished, or dropped (counted) when that fails.</summary>
    private int CommitFrame(PacketBatch batch, in VirtioNetHeader vnet, int length, ref long bytes)
    {
        Span<byte> frame = batch.NextFrameRoom()[..length];
        if (vnet.NeedsChecksum && !ChecksumOffload.TryComplete(frame, vnet.ChecksumStart, vnet.ChecksumOffset))
        {
            Counters.AddDrop(PortDropReason.RxBadOffload);
            return 0;
        }

        // Finished here, or checked by the host: the checksums are right.
        batch.Commit(length, Id).ChecksumsValid = vnet.NeedsChecksum || (vnet.Flags & VirtioNetFlags.DataValid) != 0;
        bytes += length;
        return 1;
    }

    /// <summary>Whether a frame over the slot is a TCPv4 super-frame; otherwise it is dropped (counted).</summary>
    private bool IsTcpSuperFrame(in VirtioNetHeader vnet)
    {
        if (vnet.BaseGsoType == VirtioNetGsoType.TcpV4 && vnet.GsoSize != 0)
        {
            return true;
        }

        // Not enabled (UDP, TCPv6), or a frame over the slot without segmentation.
        Counters.AddDrop(vnet.BaseGsoType == VirtioNetGsoType.None ? PortDropReason.RxFrameTooLarge : PortDropReason.RxBadOffload);
        return false;
    }

    /// <summary>
    /// A whole super-frame, in the batch's super-frame room (<paramref name="keptInRoom"/>) or in
    /// the port's cutting buffer: committed whole when it may be, else cut into the batch's slots
    /// (the rest waits for the next batch).
    /// </summary>
    private int TakeSuperFrame(PacketBatch batch, in VirtioNetHeader vnet, int length, bool keptInRoom, ref long bytes)
    {
        if (keptInRoom)
        {
            var whole = batch.Buffer.AsSpan(batch.SuperFrameRoomOffset, length);
            if (vnet.GsoType == VirtioNetGsoType.TcpV4 && TcpSuperFrame.TryLocate(whole, vnet.GsoSize, out _, out int segments))
            {
                batch.CommitSuperFrame(length, vnet.GsoSize, Id);
                Interlocked.Increment(ref _rxSuperFrames);
                Interlocked.Increment(ref _rxSuperFramesKept);
                Counters.AddRx(segments - 1, 0); // frames as on the wire: its segments, as when it is cut (the call counts one, and the bytes)
                bytes += length;
                return 1; // the batch is full now
            }

            whole.CopyTo(_superFrame); // ECN flag, or not cut-able as it is: cut it
        }

        if (!TcpSegmenter.TryCreate(_superFrame.AsSpan(0, length), vnet.GsoSize, out _))
        {
            Counters.AddDrop(PortDropReason.RxBadOffload);
            return 0;
        }

        _pendingLength = length;
        _pendingMss = vnet.GsoSize;
        _pendingDone = 0;
        Interlocked.Increment(ref _rxSuperFrames);
        return DrainSuperFrame(batch, ref bytes);
    }

    /// <summary>Cuts the pending super-frame into the batch's free slots; keeps the rest for the next batch.</summary>
    private int DrainSuperFrame(PacketBatch batch, ref long bytes)
    {
        if (_pendingLength == 0)
        {
            return 0;
        }

        TcpSegmenter.TryCreate(_superFrame.AsSpan(0, _pendingLength), _pendingMss, out var segmenter, _pendingDone);
        int added = 0;
        while (!batch.IsFull && segmenter.Remaining > 0)
        {
            if (!segmenter.TryNext(batch.NextFrameRoom(), out int length))
            {
                // A segment larger than a slot (MSS over the slot size): the rest cannot be delivered.
                Counters.AddDrop(PortDropReason.RxFrameTooLarge, segmenter.Remaining);
                _pendingLength = 0;
                return added;
            }

            batch.Commit(length, Id).ChecksumsValid = true; // computed by the segmenter
            added++;
            bytes += length;
        }

        Interlocked.Add(ref _rxSegments, added);
        _pendingDone = segmenter.Produced;
        if (segmenter.Remaining == 0)
        {
            _pendingLength = 0;
        }

        return added;
    }

    /// <summary>
    /// Writes one TCPv4 super-frame kept whole (<see cref="Packet.GsoSize"/>; its checksum partial)
    /// with the virtio-net header that has the kernel take it as it is. False (counted) when the
    /// port has no offloads, the frame is not a TCPv4 super-frame, or the write failed.
    /// </summary>
    public bool SendSuperFrame(ReadOnlySpan<byte> frame, ushort gsoSize)
    {
        if (IsFinished)
        {
            Counters.AddDrop(PortDropReason.TxPortGone);
            return false;
        }

        if (!_offloads || !TcpSuperFrame.TryLocate(frame, gsoSize, out var layout, out int segments))
        {
            Counters.AddDrop(PortDropReason.TxFrameTooLarge);
            return false;
        }

        nint n;
        fixed (byte* headers = _txHeaders)
        fixed (byte* data = frame)
        {
            TcpSuperFrame.VirtioHeader(layout, gsoSize).Emit(new Span<byte>(headers, VirtioNetLayout.Length));
            LinuxNative.IoVec* iov = stackalloc LinuxNative.IoVec[2];
            iov[0] = new LinuxNative.IoVec { Base = headers, Length = VirtioNetLayout.Length };
            iov[1] = new LinuxNative.IoVec { Base = data, Length = (nuint)frame.Length };
            do
            {
                n = LinuxNative.WriteV(_fd, iov, 2);
            }
            while (n < 0 && LinuxNative.LastError == LinuxNative.EINTR);
        }

        if (n < 0)
        {
            WriteFailed(LinuxNative.LastError, 1, 1);
            return false;
        }

        Counters.AddTx(segments, frame.Length); // the segments it stands for, as a coalesced run counts them
        if (State == PortState.LinkDown)
        {
            SetState(PortState.Up, null);
        }

        Interlocked.Increment(ref _txSuperFrames);
        Interlocked.Increment(ref _txSuperFramesPassed);
        Interlocked.Add(ref _txCoalesced, segments);
        Tee?.WriteFrame(frame);
        return true;
    }

    /// <summary>
    /// Writes the batch with virtio-net headers, runs of one TCP connection's segments as one
    /// super-frame each. With an io_uring on this thread (<see cref="IoUringBatch"/>) the writes of
    /// up to <see cref="IoUringBatch.Capacity"/> runs go to the kernel in one system call, else one
    /// writev each. Returns frames sent; counts drops as <see cref="SendPlain"/> does.
    /// </summary>
    private int SendOffloaded(PacketBatch batch, byte* basePtr, ref long bytes)
    {
        var ring = Ring;
        var iovs = (LinuxNative.IoVec*)_txIov;
        var coalescer = new TcpCoalescer();
        int sent = 0;
        int queued = 0;
        int iovUsed = 0;
        fixed (byte* headers = _txHeaders)
        {
            int i = 0;
            while (i < batch.Count)
            {
                if (batch[i].IsGhost)
                {
                    Counters.AddDrop(PortDropReason.PlaneMismatch);
                    i++;
                    continue;
                }

                if (queued == IoUringBatch.Capacity || iovUsed + MaxCoalescedSegments + 1 > TxIovCapacity)
                {
                    if (!CompleteWrites(ring!, queued, batch.Count, ref sent, ref bytes))
                    {
                        return sent;
                    }

                    queued = 0;
                    iovUsed = 0;
                }

                LinuxNative.IoVec* iov = iovs + iovUsed;
                int iovCount = PrepareRun(batch, basePtr, i, ref coalescer, headers + queued * TxHeaderSlot, iov, out int run, out long runBytes);
                _txRuns[queued] = new TxRun(i, run, runBytes);
                if (ring is null)
                {
                    nint n;
                    do
                    {
                        n = LinuxNative.WriteV(_fd, iov, iovCount);
                    }
                    while (n < 0 && LinuxNative.LastError == LinuxNative.EINTR);

                    Interlocked.Increment(ref _txWriteCalls);
                    if (!Written(_txRuns[0], n < 0 ? -LinuxNative.LastError : (int)n, batch.Count, ref sent, ref bytes))
                    {
                        return sent;
                    }
                }
                else
                {
                    ring.QueueWriteV(_fd, iov, iovCount);
                    queued++;
                    iovUsed += iovCount;
                }

                i += run;
            }

            if (queued > 0)
            {
                int readBack = ReadBackDepth(queued);
                if (readBack > 0)
                {
                    QueueStagedReads(ring!, readBack);
                }

                CompleteWrites(ring!, queued, batch.Count, ref sent, ref bytes);
                if (readBack > 0)
                {
                    TakeReadBack(ring!, queued, readBack);
                }
            }
        }

        return sent;
    }

    /// <summary>
    /// Lays out the run of frames from <paramref name="i"/> on: its virtio-net header (and, for a
    /// coalesced run, the super-frame's headers) at <paramref name="header"/>, its iovecs at
    /// <paramref name="iov"/>. Returns the iovec count.
    /// </summary>
    private static int PrepareRun(PacketBatch batch, byte* basePtr, int i, ref TcpCoalescer coalescer, byte* header, LinuxNative.IoVec* iov, out int run, out long runBytes)
    {
        ref Packet first = ref batch[i];
        run = 1;
        runBytes = first.Length;
        ReadOnlySpan<byte> firstFrame = batch.Frame(i);
        if (coalescer.TryStart(firstFrame, first.ChecksumsValid))
        {
            while (i + run < batch.Count && run < MaxCoalescedSegments && !batch[i + run].IsGhost
                && coalescer.TryAppend(firstFrame, batch.Frame(i + run), batch[i + run].ChecksumsValid))
            {
                runBytes += batch[i + run].Length;
                run++;
            }
        }

        if (run == 1)
        {
            VirtioNetHeader.Plain.Emit(new Span<byte>(header, VirtioNetLayout.Length));
            iov[0] = new LinuxNative.IoVec { Base = header, Length = VirtioNetLayout.Length };
            iov[1] = new LinuxNative.IoVec { Base = basePtr + first.Offset, Length = (nuint)first.Length };
            return 2;
        }

        int h = coalescer.HeadersLength;
        var headerSpan = new Span<byte>(header, VirtioNetLayout.Length + h);
        coalescer.VirtioHeader().Emit(headerSpan);
        firstFrame[..h].CopyTo(headerSpan[VirtioNetLayout.Length..]);
        bool push = (batch.Frame(i + run - 1)[coalescer.TcpOffset + TcpLayout.DataOffsetAndFlags + 1] & (byte)TcpFlags.Psh) != 0;
        coalescer.WriteSuperFrameHeaders(headerSpan[VirtioNetLayout.Length..], push);
        iov[0] = new LinuxNative.IoVec { Base = header, Length = (nuint)headerSpan.Length };
        for (int k = 0; k < run; k++)
        {
            ref Packet p = ref batch[i + k];
            iov[k + 1] = new LinuxNative.IoVec { Base = basePtr + p.Offset + h, Length = (nuint)(p.Length - h) };
        }

        return run + 1;
    }

    /// <summary>Submits the <paramref name="queued"/> writes (<see cref="_txRuns"/>) and accounts each; false when the device is gone.</summary>
    private bool CompleteWrites(IoUringBatch ring, int queued, int batchCount, ref int sent, ref long bytes)
    {
        ring.Submit();
        Interlocked.Increment(ref _txWriteCalls);
        for (int r = 0; r < queued; r++)
        {
            if (!Written(_txRuns[r], ring.Result(r), batchCount, ref sent, ref bytes))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Accounts one run's write (<paramref name="result"/>: bytes, or -errno); false when the device is gone.</summary>
    private bool Written(TxRun run, int result, int batchCount, ref int sent, ref long bytes)
    {
        if (result < 0)
        {
            return WriteFailed(-result, run.Length, batchCount - run.Start);
        }

        sent += run.Length;
        bytes += run.Bytes;
        if (run.Length > 1)
        {
            Interlocked.Increment(ref _txSuperFrames);
            Interlocked.Add(ref _txCoalesced, run.Length);
        }

        return true;
    }

    /// <summary>One write of a send: its first frame in the batch, how many frames, their bytes.</summary>
    private readonly record struct TxRun(int Start, int Length, long Bytes);
}
