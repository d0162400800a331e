using System.Net;
using System.Net.Sockets;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.DataPlane.Io;

/// <summary>The <see cref="UdpIoMode.Socket"/> path: Socket.SendTo / ReceiveFrom, one system call per datagram.</summary>
public sealed partial class UdpUnderlayPort
{
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

    private int SendSocket(PacketBatch batch, ReadOnlySpan<ushort> selected, bool all)
    {
        int sent = 0;
        long bytes = 0;
        UnderlayEndpoint current = default;
        int count = all ? batch.Count : selected.Length;
        for (int k = 0; k < count; k++)
        {
            int i = all ? k : selected[k];
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
                Counters.AddDrop(PortDropReason.TxPortGone, count - k);
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
}
