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

    /// <summary>Room for the largest super-frame the kernel hands over (64 KiB IPv4 + link headers).</summary>
    public const int SuperFrameRoom = 65536 + 256;

    private readonly bool _offloads;
    private readonly byte[]? _rxHeader;   // pinned: the virtio-net header of the frame being read
    private readonly byte[]? _superFrame; // pinned: a super-frame being segmented, contiguous; its bytes beyond the batch slot are read straight here
    private readonly byte[]? _txHeaders;  // pinned: virtio-net header + a super-frame's headers
    private readonly IntPtr _txIov;       // MaxCoalescedSegments + 1 iovecs
    private int _pendingLength;           // bytes of _superFrame still to segment (0 = none)
    private int _pendingMss;
    private int _pendingDone;             // segments of it already delivered
    private long _rxSuperFrames;
    private long _rxSegments;
    private long _txSuperFrames;
    private long _txCoalesced;
    private long _rxSuperFramesKept;
    private long _txSuperFramesPassed;

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

    /// <summary>Super-frames the host handed over (cut into <see cref="RxSegments"/>, or kept whole: <see cref="RxSuperFramesKept"/>).</summary>
    public long RxSuperFrames => Interlocked.Read(ref _rxSuperFrames);

    /// <summary>Segments cut from received super-frames.</summary>
    public long RxSegments => Interlocked.Read(ref _rxSegments);

    /// <summary>Super-frames written to the host (each made of several segments: coalesced here, or passed on whole).</summary>
    public long TxSuperFrames => Interlocked.Read(ref _txSuperFrames);

    /// <summary>Segments that left inside a super-frame.</summary>
    public long TxCoalescedSegments => Interlocked.Read(ref _txCoalesced);

    private static IntPtr AllocateIov() =>
        (IntPtr)NativeMemory.AllocZeroed((nuint)((MaxCoalescedSegments + 1) * sizeof(LinuxNative.IoVec)));

    /// <summary>Reads frames with their virtio-net header until EAGAIN or the batch is full.</summary>
    private int ReceiveOffloaded(PacketBatch batch, ref long bytes)
    {
        // Reading on after the pending segments costs one EAGAIN when nothing else arrived.
        int added = DrainSuperFrame(batch, ref bytes);
        fixed (byte* basePtr = batch.Buffer)
        fixed (byte* header = _rxHeader)
        fixed (byte* superFrame = _superFrame)
        {
            LinuxNative.IoVec* iov = stackalloc LinuxNative.IoVec[3];
            while (!batch.IsFull && _pendingLength == 0)
            {
                int room = batch.MaxFrameLength;
                // A super-frame kept whole lands in the batch's super-frame room, else in the one it is cut from.
                bool keep = KeepsSuperFrames && batch.SuperFrameRoomLength >= SuperFrameRoom && batch.CanTakeSuperFrame;
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
                if (length <= 0 || !VirtioNetHeader.TryParse(_rxHeader, out var vnet, out _))
                {
                    Counters.AddDrop(PortDropReason.RxError);
                    continue;
                }

                if (length >= SuperFrameRoom)
                {
                    Counters.AddDrop(PortDropReason.RxFrameTooLarge); // filled every byte: may be cut
                    continue;
                }

                if (vnet.BaseGsoType == VirtioNetGsoType.None && length <= room)
                {
                    Span<byte> frame = batch.NextFrameRoom()[..length];
                    if (vnet.NeedsChecksum && !ChecksumOffload.TryComplete(frame, vnet.ChecksumStart, vnet.ChecksumOffset))
                    {
                        Counters.AddDrop(PortDropReason.RxBadOffload);
                        continue;
                    }

                    // Finished here, or checked by the host: the checksums are right.
                    batch.Commit(length, Id).ChecksumsValid = vnet.NeedsChecksum || (vnet.Flags & VirtioNetFlags.DataValid) != 0;
                    added++;
                    bytes += length;
                    continue;
                }

                if (vnet.BaseGsoType != VirtioNetGsoType.TcpV4 || vnet.GsoSize == 0)
                {
                    // Not enabled (UDP, TCPv6), or a frame over the slot without segmentation.
                    Counters.AddDrop(vnet.BaseGsoType == VirtioNetGsoType.None ? PortDropReason.RxFrameTooLarge : PortDropReason.RxBadOffload);
                    continue;
                }

                // A super-frame: its start (in the slot) joins the rest (already in place), then it is kept whole or cut.
                new ReadOnlySpan<byte>(basePtr + batch.FrameRoomOffset(batch.Count), Math.Min(length, room)).CopyTo(new Span<byte>(whole, length));
                if (keep)
                {
                    if (vnet.GsoType == VirtioNetGsoType.TcpV4 && TcpSuperFrame.TryLocate(new ReadOnlySpan<byte>(whole, length), vnet.GsoSize, out _, out int segments))
                    {
                        batch.CommitSuperFrame(length, vnet.GsoSize, Id);
                        Interlocked.Increment(ref _rxSuperFrames);
                        Interlocked.Increment(ref _rxSuperFramesKept);
                        Counters.AddRx(segments - 1, 0); // frames as on the wire: its segments, as when it is cut (the call counts one, and the bytes)
                        added++;
                        bytes += length;
                        continue; // the batch is full now
                    }

                    new ReadOnlySpan<byte>(whole, length).CopyTo(_superFrame); // ECN flag, or not cut-able as it is: cut it
                }

                if (!TcpSegmenter.TryCreate(_superFrame.AsSpan(0, length), vnet.GsoSize, out _))
                {
                    Counters.AddDrop(PortDropReason.RxBadOffload);
                    continue;
                }

                _pendingLength = length;
                _pendingMss = vnet.GsoSize;
                _pendingDone = 0;
                Interlocked.Increment(ref _rxSuperFrames);
                added += DrainSuperFrame(batch, ref bytes);
            }
        }

        return added;
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
    /// super-frame each. Returns frames sent; counts drops as <see cref="SendPlain"/> does.
    /// </summary>
    private int SendOffloaded(PacketBatch batch, byte* basePtr, ref long bytes)
    {
        var iov = (LinuxNative.IoVec*)_txIov;
        var coalescer = new TcpCoalescer();
        int sent = 0;
        fixed (byte* headers = _txHeaders)
        {
            int i = 0;
            while (i < batch.Count)
            {
                ref Packet first = ref batch[i];
                if (first.IsGhost)
                {
                    Counters.AddDrop(PortDropReason.PlaneMismatch);
                    i++;
                    continue;
                }

                int run = 1;
                long runBytes = first.Length;
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

                int iovCount;
                if (run > 1)
                {
                    int h = coalescer.HeadersLength;
                    var headerSpan = new Span<byte>(headers, VirtioNetLayout.Length + h);
                    coalescer.VirtioHeader().Emit(headerSpan);
                    firstFrame[..h].CopyTo(headerSpan[VirtioNetLayout.Length..]);
                    bool push = (batch.Frame(i + run - 1)[coalescer.TcpOffset + TcpLayout.DataOffsetAndFlags + 1] & (byte)TcpFlags.Psh) != 0;
                    coalescer.WriteSuperFrameHeaders(headerSpan[VirtioNetLayout.Length..], push);
                    iov[0] = new LinuxNative.IoVec { Base = headers, Length = (nuint)headerSpan.Length };
                    for (int k = 0; k < run; k++)
                    {
                        ref Packet p = ref batch[i + k];
                        iov[k + 1] = new LinuxNative.IoVec { Base = basePtr + p.Offset + h, Length = (nuint)(p.Length - h) };
                    }

                    iovCount = run + 1;
                }
                else
                {
                    VirtioNetHeader.Plain.Emit(new Span<byte>(headers, VirtioNetLayout.Length));
                    iov[0] = new LinuxNative.IoVec { Base = headers, Length = VirtioNetLayout.Length };
                    iov[1] = new LinuxNative.IoVec { Base = basePtr + first.Offset, Length = (nuint)first.Length };
                    iovCount = 2;
                }

                nint n;
                do
                {
                    n = LinuxNative.WriteV(_fd, iov, iovCount);
                }
                while (n < 0 && LinuxNative.LastError == LinuxNative.EINTR);

                if (n >= 0)
                {
                    sent += run;
                    bytes += runBytes;
                    if (run > 1)
                    {
                        Interlocked.Increment(ref _txSuperFrames);
                        Interlocked.Add(ref _txCoalesced, run);
                    }
                }
                else if (!WriteFailed(LinuxNative.LastError, run, batch.Count - i))
                {
                    break;
                }

                i += run;
            }
        }

        return sent;
    }
}
