using System.Net;
using Fabric.Actors.DataPlane.Host;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Tests.DataPlane.Io;

/// <summary>The hot paths move frames without allocating per frame (or per batch, once warm).</summary>
public class AllocationTests
{
    private static long AllocatedBy(Action action)
    {
        action(); // warm up: JIT, lazy native buffers, first pool misses
        long before = GC.GetAllocatedBytesForCurrentThread();
        action();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    [Fact]
    public void Generating_and_sinking_batches_allocates_nothing()
    {
        using var generator = new SimulatedPort("gen", 1, new TrafficProfile { Flows = 64, FrameLengths = [60, 512, 1514] });
        using var sink = new SimulatedPort("sink", 2);
        var pool = new PacketBatchPool(maxRetained: 4, batchCapacity: 256);

        long bytes = AllocatedBy(() =>
        {
            for (int i = 0; i < 100; i++)
            {
                PacketBatch batch = pool.Rent();
                generator.ReceiveBatch(batch, 0);
                sink.SendBatch(batch);
                batch.Return();
            }
        });

        Assert.Equal(0, bytes);
    }

    [Theory]
    [InlineData(UdpIoMode.Batched)]
    [InlineData(UdpIoMode.Socket)]
    public void Sending_and_receiving_underlay_batches_allocates_nothing_per_frame(UdpIoMode mode)
    {
        var options = new UdpUnderlayOptions { Mode = mode };
        using var a = new UdpUnderlayPort("a", 1, new IPEndPoint(IPAddress.Loopback, 0), options);
        using var b = new UdpUnderlayPort("b", 2, new IPEndPoint(IPAddress.Loopback, 0), options);
        var outgoing = new PacketBatch(capacity: 64);
        while (outgoing.TryAppend(new byte[64]))
        {
        }

        var incoming = new PacketBatch(capacity: 64);
        long bytes = AllocatedBy(() =>
        {
            for (int i = 0; i < 20; i++)
            {
                a.SendBatch(outgoing, b.Local);
                int got = 0;
                while (got < outgoing.Count)
                {
                    incoming.Clear();
                    int n = b.ReceiveBatch(incoming, 1000);
                    got += n;
                    if (n == 0)
                    {
                        break; // lost datagrams show up in the counters below
                    }
                }
            }
        });

        // 20 x 64 frames each way; anything per frame would show as tens of kilobytes.
        Assert.True(bytes < 1024, $"{bytes} bytes allocated for 1,280 frames");
        Assert.Equal(b.Counters.RxFrames, a.Counters.TxFrames);
    }

    [Fact]
    public void Answering_pings_allocates_nothing()
    {
        var host = new L3Host(MacAddress.Parse("02:fa:b0:00:00:02"), Ipv4Address.Parse("10.213.0.2"));
        var profile = new TrafficProfile { Flows = 1 };
        var icmp = Icmpv4Repr.EchoRequest(1, 1, 56);
        var ip = new Ipv4Repr(profile.SourceAddress, host.Address, IpProtocol.Icmp, icmp.BufferLength);
        var eth = new EthernetRepr(profile.SourceMac, host.Mac, EtherType.Ipv4);
        var received = new PacketBatch(capacity: 64);
        while (received.NextFrameRoom().Length > 0)
        {
            Span<byte> room = received.NextFrameRoom();
            icmp.Emit(room[(eth.BufferLength + ip.HeaderLength)..]);
            ip.Emit(room[eth.BufferLength..]);
            eth.Emit(room);
            received.Commit(eth.BufferLength + ip.BufferLength);
        }

        var replies = new PacketBatch(capacity: 64);
        int answered = 0;
        long bytes = AllocatedBy(() =>
        {
            for (int i = 0; i < 100; i++)
            {
                replies.Clear();
                answered += host.Process(received, replies);
            }
        });

        Assert.Equal(2 * 100 * 64, answered);
        Assert.Equal(0, bytes);
    }
}
