using System.Runtime.InteropServices;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.DataPlane.Io;

/// <summary>
/// The receive side of <see cref="UdpUnderlayOptions.ReceiveOffload"/>: recvmmsg into a few
/// 64 KiB buffers, each possibly a coalesced run of datagrams (UDP_GRO control message = the
/// segment size), cut back into the batch's frames with one copy each.
/// </summary>
public sealed unsafe partial class UdpUnderlayPort
{
    /// <summary>Most segments the kernel coalesces into one GRO buffer (UDP_GRO_CNT_MAX) and the most a GSO send carries here.</summary>
    private const int MaxGroSegments = 64;

    /// <summary>A GRO buffer: an IPv4 datagram's largest payload.</summary>
    private const int GroBufferBytes = 65536;

    private const int GroMessages = 8;

    private GroVectors _groVectors;
    private long _groFrames;

    /// <summary>Frames that arrived inside a coalesced (GRO) buffer of two or more.</summary>
    public long GroFramesReceived => Interlocked.Read(ref _groFrames);

    private int ReceiveGro(PacketBatch batch)
    {
        // Take only as many buffers as surely fit: each may hold up to MaxGroSegments frames.
        int free = batch.Capacity - batch.Count;
        int messages = Math.Clamp(free / MaxGroSegments, 1, GroMessages);
        _groVectors.Ensure(GroMessages);
        for (int k = 0; k < messages; k++)
        {
            _groVectors.Prepare(k);
        }

        int received;
        do
        {
            received = LinuxNative.RecvMMsg(_fd, _groVectors.Messages, (uint)messages, LinuxNative.MSG_DONTWAIT, null);
        }
        while (received < 0 && LinuxNative.LastError == LinuxNative.EINTR);

        if (received < 0)
        {
            int errno = LinuxNative.LastError;
            if (errno == LinuxNative.EBADF)
            {
                SetState(PortState.Gone, "socket closed");
            }
            else if (errno != LinuxNative.EAGAIN)
            {
                Counters.AddDrop(PortDropReason.RxError);
            }

            return 0;
        }

        int added = 0;
        long now = _codel is null ? 0 : RealtimeNanos();
        for (int k = 0; k < received; k++)
        {
            LinuxNative.MMsgHdr* m = _groVectors.Messages + k;
            int length = (int)m->Length;
            if ((m->Header.Flags & LinuxNative.MSG_TRUNC) != 0)
            {
                Counters.AddDrop(PortDropReason.RxFrameTooLarge);
                continue;
            }

            long sojourn = _codel is null ? 0 : Sojourn(&m->Header, now);

            int segment = _groVectors.SegmentSize(k, length);
            var peer = _groVectors.Addresses[k].ToEndpoint();
            var data = new ReadOnlySpan<byte>(_groVectors.Buffer(k), length);
            if (segment < length)
            {
                Interlocked.Add(ref _groFrames, (length + segment - 1) / segment);
            }

            for (int at = 0; at < length; at += segment)
            {
                int n = Math.Min(segment, length - at);
                if (batch.IsFull || n > batch.MaxFrameLength)
                {
                    Counters.AddDrop(batch.IsFull ? PortDropReason.RxError : PortDropReason.RxFrameTooLarge);
                    continue;
                }

                if (_codel is not null && _codel.ShouldDrop(sojourn, now))
                {
                    Counters.AddDrop(PortDropReason.RxQueueDelay);
                    continue;
                }

                data.Slice(at, n).CopyTo(batch.NextFrameRoom());
                batch.Commit(n, Id).Peer = peer;
                added++;
            }
        }

        if (_codel is not null && received < messages)
        {
            _codel.QueueEmpty(); // read it dry
            _readDry = true;
        }

        return added;
    }

    /// <summary>Native buffers for GRO receive: per message one 64 KiB buffer, iovec, sockaddr_in and control space.</summary>
    private struct GroVectors
    {
        /// <summary>CMSG_SPACE(sizeof(int)) = 24 for UDP_GRO, plus CMSG_SPACE(sizeof(struct timespec)) = 32 for a receive timestamp.</summary>
        private const int ControlSpace = 56;

        public LinuxNative.MMsgHdr* Messages;
        public LinuxNative.SockAddrIn* Addresses;
        private LinuxNative.IoVec* _iov;
        private byte* _buffers;
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
            Addresses = (LinuxNative.SockAddrIn*)NativeMemory.AllocZeroed((nuint)count, (nuint)sizeof(LinuxNative.SockAddrIn));
            _iov = (LinuxNative.IoVec*)NativeMemory.AllocZeroed((nuint)count, (nuint)sizeof(LinuxNative.IoVec));
            _buffers = (byte*)NativeMemory.Alloc((nuint)count, GroBufferBytes);
            _control = (byte*)NativeMemory.AllocZeroed((nuint)count, ControlSpace);
            _capacity = count;
        }

        public readonly byte* Buffer(int k) => _buffers + (long)k * GroBufferBytes;

        public readonly void Prepare(int k)
        {
            _iov[k].Base = Buffer(k);
            _iov[k].Length = GroBufferBytes;
            LinuxNative.SetMessage(Messages + k, Addresses + k, _iov + k, 1, _control + k * ControlSpace, ControlSpace);
        }

        /// <summary>The UDP_GRO segment size of message <paramref name="k"/>, or its whole length when it is one datagram.</summary>
        public readonly int SegmentSize(int k, int length)
        {
            byte* c = LinuxNative.FindControl(&Messages[k].Header, LinuxNative.SOL_UDP, LinuxNative.UDP_GRO);
            if (c != null && *(int*)c > 0)
            {
                return *(int*)c;
            }

            return Math.Max(length, 1);
        }

        public void Free()
        {
            NativeMemory.Free(Messages);
            NativeMemory.Free(Addresses);
            NativeMemory.Free(_iov);
            NativeMemory.Free(_buffers);
            NativeMemory.Free(_control);
            Messages = null;
            Addresses = null;
            _iov = null;
            _buffers = null;
            _control = null;
            _capacity = 0;
        }
    }
}
