using System.Buffers.Binary;
using System.Net;
using Fabric.Actors.DataPlane.Io;

namespace Fabric.Tests.DataPlane.Io;

public class UdpUnderlayPortTests
{
    private static readonly IPEndPoint AnyLoopbackPort = new(IPAddress.Loopback, 0);

    public static TheoryData<UdpIoMode, bool, UdpIoMode> ModePairs => new()
    {
        { UdpIoMode.Socket, false, UdpIoMode.Socket },
        { UdpIoMode.Batched, false, UdpIoMode.Batched },
        { UdpIoMode.Batched, true, UdpIoMode.Batched },
        { UdpIoMode.Socket, false, UdpIoMode.Batched },
        { UdpIoMode.Batched, true, UdpIoMode.Socket },
    };

    [Theory]
    [MemberData(nameof(ModePairs))]
    public void Batches_cross_between_two_loopback_ports_with_matching_counts(UdpIoMode senderMode, bool gso, UdpIoMode receiverMode)
    {
        using var sender = new UdpUnderlayPort("a", 1, AnyLoopbackPort, new UdpUnderlayOptions { Mode = senderMode, SegmentationOffload = gso });
        using var receiver = new UdpUnderlayPort("b", 2, AnyLoopbackPort, new UdpUnderlayOptions { Mode = receiverMode });
        const int Batches = 10;
        const int PerBatch = 64;
        var pool = new PacketBatchPool(maxRetained: 4, batchCapacity: 256);

        for (int b = 0; b < Batches; b++)
        {
            PacketBatch batch = pool.Rent();
            for (int i = 0; i < PerBatch; i++)
            {
                Span<byte> room = batch.NextFrameRoom();
                room[..64].Clear();
                BinaryPrimitives.WriteInt32BigEndian(room, b * PerBatch + i);
                batch.Commit(64);
            }

            Assert.Equal(PerBatch, sender.SendBatch(batch, receiver.Local));
            batch.Return();
        }

        var seen = new bool[Batches * PerBatch];
        int received = 0;
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (received < seen.Length && DateTime.UtcNow < deadline)
        {
            PacketBatch batch = pool.Rent();
            receiver.ReceiveBatch(batch, 100);
            for (int i = 0; i < batch.Count; i++)
            {
                Assert.Equal(64, batch[i].Length);
                Assert.Equal(sender.Local, batch[i].Peer);
                Assert.Equal((ushort)2, batch[i].IngressPort);
                seen[BinaryPrimitives.ReadInt32BigEndian(batch.Frame(i))] = true;
            }

            received += batch.Count;
            batch.Return();
        }

        Assert.Equal(Batches * PerBatch, received);
        Assert.All(seen, Assert.True);
        Assert.Equal(gso ? Batches * PerBatch : 0, sender.GsoFramesSent);
        Assert.Equal(0, sender.GsoFallbacks);
        Assert.Equal(Batches * PerBatch, sender.Counters.TxFrames);
        Assert.Equal(Batches * PerBatch * 64, sender.Counters.TxBytes);
        Assert.Equal(Batches * PerBatch, receiver.Counters.RxFrames);
        Assert.Equal(0, receiver.Counters.TotalDrops);
        Assert.Equal(pool.Rents, pool.Returns);
    }

    [Fact]
    public void A_gro_receiver_cuts_coalesced_runs_back_into_the_same_frames_in_order()
    {
        using var sender = new UdpUnderlayPort("a", 1, AnyLoopbackPort, new UdpUnderlayOptions { SegmentationOffload = true });
        using var receiver = new UdpUnderlayPort("b", 2, AnyLoopbackPort, new UdpUnderlayOptions { ReceiveOffload = true });
        var pool = new PacketBatchPool(maxRetained: 4, batchCapacity: 256);
        // Runs of equal lengths (one GSO send each, one GRO buffer each), a shorter last frame, a lone 1400-byte one.
        int[] lengths = [.. Enumerable.Repeat(100, 50), 60, .. Enumerable.Repeat(1400, 3), 80];
        PacketBatch send = pool.Rent();
        for (int i = 0; i < lengths.Length; i++)
        {
            Span<byte> room = send.NextFrameRoom();
            room[..lengths[i]].Fill((byte)i);
            BinaryPrimitives.WriteInt32BigEndian(room, i);
            send.Commit(lengths[i]);
        }

        Assert.Equal(lengths.Length, sender.SendBatch(send, receiver.Local));
        send.Return();
        var got = new List<byte[]>();
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (got.Count < lengths.Length && DateTime.UtcNow < deadline)
        {
            PacketBatch batch = pool.Rent();
            receiver.ReceiveBatch(batch, 100);
            for (int i = 0; i < batch.Count; i++)
            {
                Assert.Equal(sender.Local, batch[i].Peer);
                got.Add(batch.Frame(i).ToArray());
            }

            batch.Return();
        }

        Assert.Equal(lengths.Length, got.Count);
        for (int i = 0; i < lengths.Length; i++)
        {
            Assert.Equal(lengths[i], got[i].Length);
            Assert.Equal(i, BinaryPrimitives.ReadInt32BigEndian(got[i]));
            Assert.Equal((byte)i, got[i][^1]);
        }

        Assert.Equal(lengths.Length, receiver.Counters.RxFrames);
        Assert.True(receiver.GroFramesReceived >= 50, $"{receiver.GroFramesReceived} frames arrived coalesced");
    }

    [Fact]
    public void Gso_cuts_runs_by_peer_and_length_and_every_frame_arrives_intact_in_order()
    {
        using var sender = new UdpUnderlayPort("a", 1, AnyLoopbackPort);
        using var left = new UdpUnderlayPort("l", 2, AnyLoopbackPort);
        using var right = new UdpUnderlayPort("r", 3, AnyLoopbackPort);
        // Runs: 3 x 100 + 60 to left (one GSO message), 1 x 100 to right, 2 x 200 to left,
        // then 70 x 64 to right (two GSO messages: 64 segments at most), then a lone 1400 to left.
        var plan = new List<(UdpUnderlayPort To, int Length)>
        {
            (left, 100), (left, 100), (left, 100), (left, 60), (right, 100), (left, 200), (left, 200),
        };
        plan.AddRange(Enumerable.Repeat((right, 64), 70));
        plan.Add((left, 1400));
        var batch = new PacketBatch(capacity: 128);
        for (int i = 0; i < plan.Count; i++)
        {
            Span<byte> room = batch.NextFrameRoom()[..plan[i].Length];
            room.Fill((byte)i);
            BinaryPrimitives.WriteInt32BigEndian(room, i);
            batch.Commit(plan[i].Length).Peer = plan[i].To.Local;
        }

        Assert.Equal(plan.Count, sender.SendBatch(batch));
        Assert.Equal(plan.Sum(p => p.Length), sender.Counters.TxBytes);
        Assert.Equal(4 + 2 + 70, sender.GsoFramesSent);

        foreach (UdpUnderlayPort receiver in new[] { left, right })
        {
            int[] expected = Enumerable.Range(0, plan.Count).Where(i => plan[i].To == receiver).ToArray();
            var got = new List<int>();
            var incoming = new PacketBatch(capacity: 128);
            var deadline = DateTime.UtcNow.AddSeconds(5);
            while (got.Count < expected.Length && DateTime.UtcNow < deadline)
            {
                incoming.Clear();
                receiver.ReceiveBatch(incoming, 100);
                for (int k = 0; k < incoming.Count; k++)
                {
                    Span<byte> frame = incoming.Frame(k);
                    int index = BinaryPrimitives.ReadInt32BigEndian(frame);
                    Assert.Equal(plan[index].Length, frame.Length);
                    Assert.True(frame[4..].IndexOfAnyExcept((byte)index) < 0, $"frame {index} corrupted");
                    got.Add(index);
                }
            }

            Assert.Equal(expected, got);
        }
    }

    [Theory]
    [InlineData(UdpIoMode.Socket)]
    [InlineData(UdpIoMode.Batched)]
    public void The_receive_thread_hands_over_batches_until_stopped(UdpIoMode mode)
    {
        using var sender = new UdpUnderlayPort("a", 1, AnyLoopbackPort, new UdpUnderlayOptions { Mode = mode });
        using var receiver = new UdpUnderlayPort("b", 2, AnyLoopbackPort, new UdpUnderlayOptions { Mode = mode });
        var pool = new PacketBatchPool(maxRetained: 8, batchCapacity: 32);
        int frames = 0;
        using var done = new ManualResetEventSlim();
        receiver.StartReceiving(pool, batch =>
        {
            if (Interlocked.Add(ref frames, batch.Count) >= 100)
            {
                done.Set();
            }

            batch.Return();
        });

        PacketBatch outgoing = pool.Rent();
        for (int i = 0; i < 100; i++)
        {
            outgoing.TryAppend(new byte[100]);
            if (outgoing.IsFull || i == 99)
            {
                sender.SendBatch(outgoing, receiver.Local);
                outgoing.Clear();
            }
        }

        outgoing.Return();
        Assert.True(done.Wait(TimeSpan.FromSeconds(5)), $"only {frames} frames arrived");
        receiver.StopReceiving();
        Assert.Equal(100, frames);
        Assert.Equal(PortState.Up, receiver.State);
        Assert.Equal(pool.Rents, pool.Returns);
    }

    [Theory]
    [InlineData(UdpIoMode.Socket)]
    [InlineData(UdpIoMode.Batched)]
    public void A_frame_without_a_peer_is_dropped_with_its_reason(UdpIoMode mode)
    {
        using var port = new UdpUnderlayPort("a", 1, AnyLoopbackPort, new UdpUnderlayOptions { Mode = mode });
        var batch = new PacketBatch(capacity: 4);
        batch.TryAppend(new byte[64]);

        Assert.Equal(0, port.SendBatch(batch));
        Assert.Equal(1, port.Counters.Drops(PortDropReason.TxNoPeer));
    }

    [Theory]
    [InlineData(UdpIoMode.Socket)]
    [InlineData(UdpIoMode.Batched)]
    public void A_datagram_larger_than_a_slot_is_dropped_not_truncated(UdpIoMode mode)
    {
        using var sender = new UdpUnderlayPort("a", 1, AnyLoopbackPort);
        using var receiver = new UdpUnderlayPort("b", 2, AnyLoopbackPort, new UdpUnderlayOptions { Mode = mode });
        var big = new PacketBatch(capacity: 2, slotSize: 2048, headroom: 0);
        big.TryAppend(new byte[1500]);
        big.TryAppend(new byte[200]);
        sender.SendBatch(big, receiver.Local);

        var small = new PacketBatch(capacity: 4, slotSize: 512, headroom: 0);
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (small.Count == 0 && DateTime.UtcNow < deadline)
        {
            receiver.ReceiveBatch(small, 100);
        }

        Assert.Equal(1, small.Count);
        Assert.Equal(200, small[0].Length);
        Assert.Equal(1, receiver.Counters.Drops(PortDropReason.RxFrameTooLarge));
    }

    [Fact]
    public void A_disposed_port_stops_its_receive_thread_and_reports_closed()
    {
        var port = new UdpUnderlayPort("a", 1, AnyLoopbackPort);
        var pool = new PacketBatchPool(maxRetained: 2, batchCapacity: 4);
        port.StartReceiving(pool, b => b.Return());
        port.Dispose();

        Assert.Equal(PortState.Closed, port.State);
        Assert.Equal(pool.Rents, pool.Returns);
    }
}
