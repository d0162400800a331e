using System.Runtime.InteropServices;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.DataPlane.Io;

/// <summary>
/// The <see cref="UdpIoMode.Batched"/> path: sendmmsg/recvmmsg on the raw descriptor, one system
/// call per batch. Each mmsghdr points at its frame inside the pinned batch buffer, so nothing is
/// copied on the way to the kernel.
/// </summary>
public sealed unsafe partial class UdpUnderlayPort
{
    /// <summary>Most segments in one GSO send (UDP_MAX_SEGMENTS is 64 on older kernels, 128 on newer).</summary>
    private const int MaxGsoSegments = 64;

    /// <summary>Most payload bytes in one GSO send: an IPv4 datagram's limit less headers, with margin.</summary>
    private const int MaxGsoPayload = 65000;

    /// <summary>
    /// Sends the batch with one sendmmsg. With <see cref="UdpUnderlayOptions.SegmentationOffload"/>,
    /// consecutive frames to the same peer with the same length (the last may be shorter) become
    /// one message carrying a UDP_SEGMENT control message (UDP GSO, Linux 4.18+): the kernel builds
    /// one large datagram and cuts it into the frames once, at the device or the receiving socket,
    /// instead of running its whole send path per frame. Each frame stays in its batch slot: a
    /// message's iovecs point at the slots. With <paramref name="all"/> false only the frames
    /// listed in <paramref name="selected"/> are sent, in that order.
    /// </summary>
    private int SendMMsg(PacketBatch batch, ReadOnlySpan<ushort> selected, bool all)
    {
        int count = all ? batch.Count : selected.Length;
        _txVectors.Ensure(count);
        bool gso = Options.SegmentationOffload && Volatile.Read(ref _gsoMaxSegment) > 0;
        int maxSegment = Volatile.Read(ref _gsoMaxSegment);
        int messages = 0;
        int frames = 0;
        fixed (byte* basePtr = batch.Buffer)
        {
            int i = 0;
            while (i < count)
            {
                ref Packet p = ref batch[all ? i : selected[i]];
                i++;
                if (p.Peer.IsEmpty)
                {
                    Counters.AddDrop(PortDropReason.TxNoPeer);
                    continue;
                }

                int first = frames;
                int segment = p.Length;
                UnderlayEndpoint peer = p.Peer;
                int runBytes = segment;
                _txVectors.SetIov(frames++, basePtr + p.Offset, segment);
                if (gso && segment > 0 && segment <= maxSegment)
                {
                    while (i < count && frames - first < MaxGsoSegments)
                    {
                        ref Packet q = ref batch[all ? i : selected[i]];
                        if (q.Peer != peer || q.Length == 0 || q.Length > segment || runBytes + q.Length > MaxGsoPayload)
                        {
                            break;
                        }

                        _txVectors.SetIov(frames++, basePtr + q.Offset, q.Length);
                        runBytes += q.Length;
                        i++;
                        if (q.Length < segment)
                        {
                            break; // only the last segment may be shorter
                        }
                    }
                }

                _txVectors.SetMessage(messages++, first, frames - first, peer, segment);
            }

            int done = 0;
            int failed = 0;
            int gsoFrames = 0;
            long bytes = 0;
            while (done < messages)
            {
                int r = LinuxNative.SendMMsg(_fd, _txVectors.Messages + done, (uint)(messages - done), 0);
                if (r < 0)
                {
                    int errno = LinuxNative.LastError;
                    if (errno == LinuxNative.EINTR)
                    {
                        continue;
                    }

                    LinuxNative.MsgHdr* h = &_txVectors.Messages[done].Header;
                    int inMessage = (int)h->IovLength;
                    if (errno == LinuxNative.EBADF)
                    {
                        int rest = frames - (int)(h->Iov - _txVectors.Iov);
                        Counters.AddDrop(PortDropReason.TxPortGone, rest);
                        failed += rest;
                        break;
                    }

                    if (inMessage > 1)
                    {
                        // sendmmsg reports only the first failing message: a GSO run the path
                        // refused (segment over the path MTU: EINVAL; device without checksum
                        // offload: EIO). Send its frames one by one and learn not to try again.
                        LearnGsoLimit(errno, (int)h->Iov[0].Length);
                        (int sentFrames, long sentBytes) = SendEachOf(h);
                        failed += inMessage - sentFrames;
                        bytes += sentBytes;
                    }
                    else
                    {
                        CountSendError(errno);
                        failed++;
                    }

                    done++;
                    continue;
                }

                for (int k = 0; k < r; k++)
                {
                    LinuxNative.MMsgHdr* sent = _txVectors.Messages + done + k;
                    bytes += sent->Length; // msg_len: bytes of all its segments
                    if (sent->Header.IovLength > 1)
                    {
                        gsoFrames += (int)sent->Header.IovLength;
                    }
                }

                done += r;
            }

            int delivered = frames - failed;
            Counters.AddTx(delivered, bytes);
            if (gsoFrames > 0)
            {
                Interlocked.Add(ref _gsoFrames, gsoFrames);
            }

            return delivered;
        }
    }

    /// <summary>After a refused GSO send: EIO means never again on this socket; EINVAL caps the segment size.</summary>
    private void LearnGsoLimit(int errno, int segment)
    {
        Interlocked.Increment(ref _gsoFallbacks);
        if (errno == LinuxNative.EIO || errno == LinuxNative.ENOPROTOOPT)
        {
            Volatile.Write(ref _gsoMaxSegment, 0);
        }
        else if (errno == LinuxNative.EINVAL || errno == LinuxNative.EMSGSIZE)
        {
            Volatile.Write(ref _gsoMaxSegment, Math.Min(Volatile.Read(ref _gsoMaxSegment), segment - 1));
        }
    }

    /// <summary>Sends each iovec of a refused GSO message as its own datagram.</summary>
    private (int Frames, long Bytes) SendEachOf(LinuxNative.MsgHdr* gsoMessage)
    {
        LinuxNative.MsgHdr single = *gsoMessage;
        single.Control = null;
        single.ControlLength = 0;
        single.IovLength = 1;
        int sent = 0;
        long bytes = 0;
        for (int k = 0; k < (int)gsoMessage->IovLength; k++)
        {
            single.Iov = gsoMessage->Iov + k;
            LinuxNative.MMsgHdr m = new() { Header = single };
            int r;
            do
            {
                r = LinuxNative.SendMMsg(_fd, &m, 1, 0);
            }
            while (r < 0 && LinuxNative.LastError == LinuxNative.EINTR);

            if (r == 1)
            {
                sent++;
                bytes += m.Length;
            }
            else
            {
                CountSendError(LinuxNative.LastError);
            }
        }

        return (sent, bytes);
    }

    private int ReceiveMMsg(PacketBatch batch)
    {
        if (_codel is null)
        {
            return _gro ? ReceiveGro(batch) : ReceiveEach(batch);
        }

        // Frames dropped for their delay took no slot: read on while the queue still holds some,
        // so one call drops a whole standing backlog (each costs only its read) and hands over
        // the fresh frames behind it.
        int added = 0;
        while (!batch.IsFull)
        {
            long dropsBefore = _codel.Drops;
            _readDry = false;
            added += _gro ? ReceiveGro(batch) : ReceiveEach(batch);
            if (_codel.Drops == dropsBefore || _readDry)
            {
                break;
            }
        }

        return added;
    }

    private int ReceiveEach(PacketBatch batch)
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
                _rxVectors.SetReceive(k, basePtr + batch.FrameRoomOffset(slot), batch.MaxFrameLength, withControl: _codel is not null);
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
        long now = _codel is null ? 0 : RealtimeNanos();
        for (int k = 0; k < received; k++)
        {
            LinuxNative.MMsgHdr* m = _rxVectors.Messages + k;
            if ((m->Header.Flags & LinuxNative.MSG_TRUNC) != 0)
            {
                Counters.AddDrop(PortDropReason.RxFrameTooLarge);
                continue;
            }

            if (_codel is not null && _codel.ShouldDrop(Sojourn(&m->Header, now), now))
            {
                Counters.AddDrop(PortDropReason.RxQueueDelay);
                continue;
            }

            // Frames land in consecutive slots only when none was skipped; move a later one down.
            int slot = first + k;
            int target = batch.Count;
            if (slot != target)
            {
                batch.Buffer.AsSpan(batch.FrameRoomOffset(slot), (int)m->Length)
                    .CopyTo(batch.NextFrameRoom());
            }

            batch.Commit((int)m->Length, Id).Peer = _rxVectors.Addresses[k].ToEndpoint();
            added++;
        }

        if (_codel is not null && received < free)
        {
            _codel.QueueEmpty(); // read it dry
            _readDry = true;
        }

        return added;
    }

    /// <summary>Now as CLOCK_REALTIME nanoseconds since the Unix epoch: the clock of SO_TIMESTAMPNS.</summary>
    private static long RealtimeNanos() => (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) * 100;

    /// <summary>How long a received message waited in the socket's queue (its SCM_TIMESTAMPNS to <paramref name="now"/>); 0 without a timestamp.</summary>
    private static long Sojourn(LinuxNative.MsgHdr* message, long now)
    {
        byte* stamp = LinuxNative.FindControl(message, LinuxNative.SOL_SOCKET, LinuxNative.SO_TIMESTAMPNS);
        if (stamp == null)
        {
            return 0;
        }

        long queued = (*(long*)stamp * 1_000_000_000L) + *(long*)(stamp + 8);
        return Math.Max(0, now - queued);
    }

    /// <summary>
    /// Native arrays for one direction, grown on demand: one iovec per frame; one mmsghdr,
    /// sockaddr_in and UDP_SEGMENT control message per message (a message may span several frames).
    /// </summary>
    private struct MmsgVectors
    {
        /// <summary>
        /// Control space per message: CMSG_SPACE(sizeof(struct timespec)) = 32 for a receive
        /// timestamp; a send's UDP_SEGMENT uses <see cref="SegmentControlLength"/> of it.
        /// </summary>
        private const int ControlSpace = 32;

        /// <summary>CMSG_SPACE(sizeof(uint16_t)) on 64-bit Linux: 16-byte cmsghdr + 2 bytes, aligned to 8.</summary>
        private const int SegmentControlLength = 24;

        public LinuxNative.MMsgHdr* Messages;
        public LinuxNative.IoVec* Iov;
        public LinuxNative.SockAddrIn* Addresses;
        private byte* _control;
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
            _control = (byte*)NativeMemory.AllocZeroed((nuint)count, ControlSpace);
            _capacity = count;
        }

        public void SetIov(int i, byte* data, int length)
        {
            Iov[i].Base = data;
            Iov[i].Length = (nuint)length;
        }

        /// <summary>Message <paramref name="m"/>: iovecs first .. first + count - 1 to <paramref name="peer"/>, GSO-cut at <paramref name="segment"/> when count &gt; 1.</summary>
        public void SetMessage(int m, int first, int count, UnderlayEndpoint peer, int segment)
        {
            Addresses[m] = LinuxNative.SockAddrIn.From(peer);
            byte* c = null;
            if (count > 1)
            {
                c = _control + m * ControlSpace;
                *(nuint*)c = 16 + sizeof(ushort); // cmsg_len = CMSG_LEN(2)
                *(int*)(c + 8) = LinuxNative.SOL_UDP;
                *(int*)(c + 12) = LinuxNative.UDP_SEGMENT;
                *(ushort*)(c + 16) = (ushort)segment;
            }

            LinuxNative.SetMessage(Messages + m, Addresses + m, Iov + first, count, c, c == null ? 0 : SegmentControlLength);
        }

        public void SetReceive(int i, byte* data, int length, bool withControl)
        {
            Iov[i].Base = data;
            Iov[i].Length = (nuint)length;
            byte* c = withControl ? _control + i * ControlSpace : null;
            LinuxNative.SetMessage(Messages + i, Addresses + i, Iov + i, 1, c, withControl ? ControlSpace : 0);
        }

        public void Free()
        {
            NativeMemory.Free(Messages);
            NativeMemory.Free(Iov);
            NativeMemory.Free(Addresses);
            NativeMemory.Free(_control);
            Messages = null;
            Iov = null;
            Addresses = null;
            _control = null;
            _capacity = 0;
        }
    }
}
