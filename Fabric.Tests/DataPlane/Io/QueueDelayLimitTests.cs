using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using Fabric.Actors.DataPlane.Io;

namespace Fabric.Tests.DataPlane.Io;

/// <summary>
/// The receive queue's delay limit: the CoDel control law (RFC 8289) on its own, then a real
/// socket whose kernel timestamps show how long each datagram waited.
/// </summary>
public sealed class QueueDelayLimitTests
{
    private const long Ms = 1_000_000;
    private static readonly IPEndPoint AnyLoopbackPort = new(IPAddress.Loopback, 0);

    [Fact]
    public void Codel_drops_only_after_the_delay_stayed_above_target_for_an_interval_then_ever_faster_and_stops_below_target()
    {
        var codel = new CoDel(new CoDelSettings(TimeSpan.FromMilliseconds(5), TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1)));
        long now = 1_000 * Ms;

        // Above target, but not yet for a whole interval: nothing is dropped.
        for (int i = 0; i < 99; i++, now += Ms)
        {
            Assert.False(codel.ShouldDrop(20 * Ms, now));
        }

        // A frame below target in between restarts the interval.
        Assert.False(codel.ShouldDrop(1 * Ms, now));
        long rise = now;
        var drops = new List<long>();
        for (int i = 0; i < 1_000; i++, now += Ms)
        {
            if (codel.ShouldDrop(20 * Ms, now)) drops.Add(now);
        }

        Assert.True(codel.Dropping);
        Assert.Equal(rise + 100 * Ms, drops[0]); // an interval after the delay rose again

        // Drops come at interval / sqrt(count): the gaps shrink.
        var gaps = drops.Zip(drops.Skip(1), (a, b) => (b - a) / Ms).ToList();
        Assert.True(gaps.Count >= 10, $"{drops.Count} drops in 1 s of standing queue");
        Assert.Equal(100, gaps[0]);        // 100 / sqrt(1)
        Assert.InRange(gaps[1], 70, 71);   // 100 / sqrt(2)
        Assert.InRange(gaps[2], 57, 58);   // 100 / sqrt(3)
        Assert.True(gaps[^1] < gaps[0]);

        // The delay falls below target: the dropping state ends at once.
        Assert.False(codel.ShouldDrop(1 * Ms, now));
        Assert.False(codel.Dropping);
        long total = codel.Drops;
        for (int i = 0; i < 50; i++, now += Ms)
        {
            Assert.False(codel.ShouldDrop(20 * Ms, now)); // above again, for less than an interval
        }

        // A queue read dry also ends it; the interval starts over.
        codel.QueueEmpty();
        Assert.False(codel.ShouldDrop(20 * Ms, now));
        Assert.Equal(total, codel.Drops);

        // Past the hard limit every frame goes, below it the law decides again.
        Assert.True(codel.ShouldDrop(1_001 * Ms, now));
        Assert.False(codel.ShouldDrop(999 * Ms, now));
        Assert.Equal(total + 1, codel.Drops);
    }

    [Fact]
    public void On_a_real_socket_a_backlog_older_than_the_limit_is_dropped_as_it_is_read_and_the_fresh_frames_behind_it_pass()
    {
        var limit = new CoDelSettings(TimeSpan.FromMilliseconds(5), TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(40));
        using var sender = new UdpUnderlayPort("a", 1, AnyLoopbackPort, new UdpUnderlayOptions { SegmentationOffload = false });
        foreach (bool gro in new[] { false, true })
        {
            using var limited = new UdpUnderlayPort("limited", 2, AnyLoopbackPort, new UdpUnderlayOptions { ReceiveOffload = gro, QueueDelayLimit = limit });
            // Without the hard limit: a reader that keeps up is judged by the control law alone,
            // which needs the delay above target across reads for a whole interval (a single
            // scheduling stall on a loaded machine is not that).
            using var keepingUp = new UdpUnderlayPort("keeping-up", 4, AnyLoopbackPort,
                new UdpUnderlayOptions { ReceiveOffload = gro, QueueDelayLimit = limit with { MaxDelay = TimeSpan.FromSeconds(10) } });
            using var unlimited = new UdpUnderlayPort("unlimited", 3, AnyLoopbackPort, new UdpUnderlayOptions { ReceiveOffload = gro });
            var pool = new PacketBatchPool(maxRetained: 4, batchCapacity: 256);

            // A reader that keeps up (one datagram at a time, read at once) loses nothing.
            for (int i = 0; i < 200; i++)
            {
                Send(sender, pool, keepingUp, 1);
                Assert.Single(ReceiveAges(keepingUp, pool, expect: 1));
            }

            Assert.Equal(0, keepingUp.Counters.Drops(PortDropReason.RxQueueDelay));

            // A backlog: 2,000 datagrams wait 300 ms, past the 40 ms limit. Then 50 rounds of 32
            // fresh ones, each read right after it was sent. Every frame carries its send time.
            foreach (var port in new[] { limited, unlimited })
            {
                Send(sender, pool, port, 2_000);
            }

            Thread.Sleep(300);
            var limitedAges = new List<double>();
            var unlimitedAges = new List<double>();
            for (int round = 0; round < 50; round++)
            {
                foreach (var port in new[] { limited, unlimited })
                {
                    Send(sender, pool, port, 32);
                }

                limitedAges.AddRange(ReceiveAges(limited, pool, expect: 32));
                unlimitedAges.AddRange(ReceiveAges(unlimited, pool, expect: 1));
            }

            long dropped = limited.Counters.Drops(PortDropReason.RxQueueDelay);
            Assert.Equal(dropped, limited.Counters.DropsByName()["rx-queue-delay"]); // as /metrics names it
            Assert.True(dropped >= 2_000, $"gro {gro}: {dropped} dropped for their delay");
            Assert.True(limitedAges.Count >= 50 * 32 - 100, $"gro {gro}: {limitedAges.Count} fresh frames delivered");
            // None of the backlog (300 ms old) gets through; the margin over the 40 ms limit is the
            // time between the kernel read and this test's clock, under a loaded machine.
            Assert.True(limitedAges.Max() < 200, $"gro {gro}: a delivered frame was {limitedAges.Max():F1} ms old (limit 40 ms)");
            // Without the limit the same reader hands over the backlog first: frames 300 ms and older.
            Assert.Equal(0, unlimited.Counters.Drops(PortDropReason.RxQueueDelay));
            Assert.True(unlimitedAges.Max() >= 300, $"gro {gro}: the oldest frame without a limit was {unlimitedAges.Max():F1} ms old");
        }
    }

    private static void Send(UdpUnderlayPort sender, PacketBatchPool pool, UdpUnderlayPort to, int count)
    {
        for (int sent = 0; sent < count;)
        {
            PacketBatch batch = pool.Rent();
            long now = Stopwatch.GetTimestamp();
            for (int i = 0; i < Math.Min(64, count - sent); i++)
            {
                Span<byte> room = batch.NextFrameRoom();
                room[..64].Clear();
                BinaryPrimitives.WriteInt64BigEndian(room, now);
                batch.Commit(64);
            }

            sent += sender.SendBatch(batch, to.Local);
            batch.Return();
        }
    }

    /// <summary>Reads until <paramref name="expect"/> frames came (or 1 s passed); their ages in ms, from the send time they carry.</summary>
    private static List<double> ReceiveAges(UdpUnderlayPort port, PacketBatchPool pool, int expect)
    {
        var ages = new List<double>();
        var deadline = Stopwatch.StartNew();
        while (ages.Count < expect && deadline.ElapsedMilliseconds < 1_000)
        {
            PacketBatch batch = pool.Rent();
            port.ReceiveBatch(batch, 100);
            long now = Stopwatch.GetTimestamp();
            for (int i = 0; i < batch.Count; i++)
            {
                ages.Add(Stopwatch.GetElapsedTime(BinaryPrimitives.ReadInt64BigEndian(batch.Frame(i)), now).TotalMilliseconds);
            }

            batch.Return();
        }

        return ages;
    }
}
