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
                _rxVectors.SetReceive(k, basePtr + batch.FrameRoomOffset(slot), batch.MaxFrameLength);
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
                batch.Buffer.AsSpan(batch.FrameRoomOffset(slot), (int)m->Length)
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
