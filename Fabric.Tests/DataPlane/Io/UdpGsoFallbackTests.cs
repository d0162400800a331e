using System.Buffers.Binary;
using System.Net;
using System.Runtime.InteropServices;
using Fabric.Actors.DataPlane.Io;

namespace Fabric.Tests.DataPlane.Io;

/// <summary>
/// UDP GSO refused by the path: inside a test namespace whose loopback has a 1500-byte MTU, a
/// run of 1480-byte segments is over the limit (EINVAL); the port must resend the run frame by
/// frame, learn the limit, and lose nothing.
/// </summary>
public partial class UdpGsoFallbackTests
{
    private const int CLONE_NEWNET = 0x40000000;

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(int fd, int nstype);

    /// <summary>Creates the ports on a thread that has entered <paramref name="ns"/>: their sockets live there.</summary>
    private static (UdpUnderlayPort, UdpUnderlayPort) OpenPortsInside(TestNamespace ns)
    {
        (UdpUnderlayPort, UdpUnderlayPort)? ports = null;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                using var nsFile = File.OpenHandle($"/var/run/netns/{ns.Name}");
                if (SetNs((int)nsFile.DangerousGetHandle(), CLONE_NEWNET) != 0)
                {
                    throw new InvalidOperationException($"setns failed: errno {Marshal.GetLastPInvokeError()}");
                }

                var a = new UdpUnderlayPort("a", 1, new IPEndPoint(IPAddress.Loopback, 0));
                var b = new UdpUnderlayPort("b", 2, new IPEndPoint(IPAddress.Loopback, 0));
                ports = (a, b);
            }
            catch (Exception ex)
            {
                failure = ex;
            }
        });
        thread.Start();
        thread.Join();
        return ports ?? throw new InvalidOperationException("could not open ports in the namespace", failure);
    }

    [Fact]
    public void A_gso_run_over_the_path_mtu_is_resent_frame_by_frame_and_the_limit_is_learned()
    {
        using var ns = new TestNamespace("fgso");
        ns.Ip("link set lo mtu 1500 up");
        (UdpUnderlayPort sender, UdpUnderlayPort receiver) = OpenPortsInside(ns);
        using (sender)
        using (receiver)
        {
            var batch = new PacketBatch(capacity: 8);
            for (int round = 0; round < 2; round++)
            {
                batch.Clear();
                for (int i = 0; i < 4; i++)
                {
                    Span<byte> room = batch.NextFrameRoom()[..1480];
                    room.Clear();
                    BinaryPrimitives.WriteInt32BigEndian(room, round * 4 + i);
                    batch.Commit(1480).Peer = receiver.Local;
                }

                Assert.Equal(4, sender.SendBatch(batch));
            }

            Assert.Equal(1, sender.GsoFallbacks); // the second round did not try GSO at that size again
            Assert.Equal(0, sender.GsoFramesSent);
            Assert.Equal(8, sender.Counters.TxFrames);

            var got = new List<int>();
            var incoming = new PacketBatch(capacity: 16);
            var deadline = DateTime.UtcNow.AddSeconds(5);
            while (got.Count < 8 && DateTime.UtcNow < deadline)
            {
                incoming.Clear();
                receiver.ReceiveBatch(incoming, 100);
                for (int k = 0; k < incoming.Count; k++)
                {
                    Assert.Equal(1480, incoming[k].Length);
                    got.Add(BinaryPrimitives.ReadInt32BigEndian(incoming.Frame(k)));
                }
            }

            Assert.Equal(Enumerable.Range(0, 8), got);
        }
    }
}
