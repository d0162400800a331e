using System.Collections.Concurrent;
using System.Diagnostics;
using Fabric.Actors.DataPlane.Io;
using Fabric.Tests.Support;

namespace Fabric.Tests.DataPlane.Io;

/// <summary>Ports receive on a fixed set of I/O loops: no thread per port, bounded memory, a clean stop.</summary>
public class IoLoopTests
{
    [Fact]
    public async Task Five_hundred_receiving_ports_add_no_thread_and_each_rate_limited_one_still_delivers()
    {
        int threadsBefore = Process.GetCurrentProcess().Threads.Count;
        var received = new long[500];
        var ports = Enumerable.Range(0, 500).Select(i => new SimulatedPort($"sim{i}", (ushort)i,
            new TrafficProfile { FramesPerSecond = 200, TotalFrames = 20, Seed = i })).ToList();
        try
        {
            for (int i = 0; i < ports.Count; i++)
            {
                int index = i;
                ports[i].StartReceiving(batch =>
                {
                    Interlocked.Add(ref received[index], batch.Count);
                    batch.Return();
                });
            }

            // One thread per port would be +500; the loops are one per core and shared.
            int added = Process.GetCurrentProcess().Threads.Count - threadsBefore;
            Assert.True(added < 40, $"{added} threads added for 500 receiving ports");
            Assert.All(ports, p => Assert.NotNull(p.Loop));
            await Eventually.Holds(() => received.All(r => Interlocked.Read(ref r) == 20), TimeSpan.FromSeconds(20), "every port's 20 frames");
        }
        finally
        {
            ports.ForEach(p => p.Dispose());
        }
    }

    [Fact]
    public async Task When_the_pool_is_out_a_port_drops_at_ingress_and_counts_instead_of_allocating()
    {
        using var port = new GhostPort("ghost", 1, "g", tracer: null, answersArp: false);
        var pool = new PacketBatchPool(maxRetained: 2, batchCapacity: 4, maxLive: 1);
        var held = new ConcurrentQueue<PacketBatch>();
        port.StartReceiving(pool, held.Enqueue); // the callback keeps every batch: the pool runs dry
        var frame = SimulatedPort.BuildUdpFrame(new TrafficProfile(), 0, 64);
        port.Inject(frame);
        await Eventually.Holds(() => held.Count == 1, TimeSpan.FromSeconds(5), "the first frame delivered");

        for (int i = 0; i < 10; i++)
        {
            port.Inject(frame);
        }

        await Eventually.Holds(() => port.Counters.Drops(PortDropReason.RxNoBuffer) == 10, TimeSpan.FromSeconds(5), "10 frames dropped at ingress");
        Assert.Single(held);
        // Nothing allocated beyond the cap: one batch ever made, and it is the one held. (Rents
        // may be 2: the loop's first look at a new port can rent and return a batch before the
        // first frame is queued.)
        Assert.Equal(1, pool.Misses);
        Assert.Equal(1, pool.Outstanding);
        Assert.True(pool.Refusals >= 1);
        port.StopReceiving();
        while (held.TryDequeue(out var b)) b.Return();
    }

    [Fact]
    public async Task Stop_receiving_returns_only_after_a_running_callback_finished()
    {
        using var port = new GhostPort("ghost", 1, "g", tracer: null, answersArp: false);
        using var inCallback = new ManualResetEventSlim();
        int finished = 0;
        port.StartReceiving(batch =>
        {
            inCallback.Set();
            Thread.Sleep(300);
            batch.Return();
            Volatile.Write(ref finished, 1);
        });
        port.Inject(SimulatedPort.BuildUdpFrame(new TrafficProfile(), 0, 64));
        Assert.True(inCallback.Wait(TimeSpan.FromSeconds(5)));
        await Task.Run(port.StopReceiving);
        Assert.Equal(1, Volatile.Read(ref finished));
    }

    [Fact]
    public async Task A_frame_a_callback_queues_for_a_port_of_its_own_loop_is_delivered_without_another_wake_up()
    {
        // A ghost element's output reaches a peer on a shared segment from the loop thread itself
        // (no eventfd is written). Before: the loop went back to epoll_wait and the frame sat in
        // the peer's queue until some other event woke the loop.
        var ports = Enumerable.Range(0, 2 * IoLoops.Shared.Loops.Count + 1)
            .Select(i => new GhostPort($"peer{i}", (ushort)(i + 1), $"p{i}", tracer: null, answersArp: false)).ToList();
        try
        {
            var delivered = new ConcurrentBag<string>();
            GhostPort? target = null;
            foreach (var port in ports)
            {
                var self = port;
                port.StartReceiving(batch =>
                {
                    var forward = Volatile.Read(ref target);
                    if (forward is not null && !ReferenceEquals(forward, self))
                    {
                        forward.Inject(SimulatedPort.BuildUdpFrame(new TrafficProfile(), 1, 64)); // on the loop thread
                    }
                    else
                    {
                        delivered.Add(self.Name);
                    }

                    batch.Return();
                });
            }

            var pair = ports.SelectMany(a => ports.Where(b => !ReferenceEquals(a, b) && a.Loop == b.Loop).Select(b => (From: a, To: b))).First();
            Volatile.Write(ref target, pair.To);
            pair.From.Inject(SimulatedPort.BuildUdpFrame(new TrafficProfile(), 0, 64));

            await Eventually.Holds(() => delivered.Contains(pair.To.Name), TimeSpan.FromSeconds(5), "the frame queued from the loop thread is received");
        }
        finally
        {
            ports.ForEach(p => p.Dispose());
        }
    }

    /// <summary>
    /// fabric.io.busy-poll: after a turn that received frames the loop keeps looking without
    /// sleeping for the set time, then sleeps again; without it, it sleeps at once. Idle costs
    /// nothing either way.
    /// </summary>
    [Theory]
    [InlineData(0)]
    [InlineData(100)]
    public async Task After_frames_a_loop_busy_polls_for_the_set_time_then_sleeps(int busyPollMs)
    {
        var pool = new PacketBatchPool(maxRetained: 4, batchCapacity: 16);
        using var loop = new IoLoop(0, pool, 4, 8, shared: false, busyPoll: TimeSpan.FromMilliseconds(busyPollMs));
        using var port = new GhostPort("ghost", 1, "g", tracer: null, answersArp: false);
        long atFrame = -1; // the loop's wake-ups when it handed the frame over, read on the loop's thread
        using var delivered = new ManualResetEventSlim();
        port.StartReceiving(pool, batch =>
        {
            Volatile.Write(ref atFrame, loop.Wakeups);
            batch.Return();
            delivered.Set();
        }, loop);
        await Task.Delay(200);
        long idle = loop.Wakeups;
        await Task.Delay(200);
        Assert.True(loop.Wakeups - idle <= 1, $"{loop.Wakeups - idle} wake-ups of an idle loop in 200 ms");

        port.Inject(SimulatedPort.BuildUdpFrame(new TrafficProfile(), 0, 64));
        Assert.True(delivered.Wait(TimeSpan.FromSeconds(5)), "the frame was not received");
        await Task.Delay(busyPollMs + 200); // the window (if any) is over, however late this thread woke
        long looks = loop.Wakeups - Volatile.Read(ref atFrame);
        if (busyPollMs == 0) Assert.True(looks <= 1, $"{looks} looks after the frame with busy-poll off");
        else Assert.True(looks >= 3, $"only {looks} looks in the busy-poll window"); // thousands on a quiet box

        long settled = loop.Wakeups;
        await Task.Delay(200);
        Assert.True(loop.Wakeups - settled <= 1, $"{loop.Wakeups - settled} wake-ups 200 ms after the busy-poll window");
        port.StopReceiving();
    }

    /// <summary>
    /// fabric.io.realtime-*: an idle loop thread runs at SCHED_FIFO (a frame waking it is forwarded
    /// at once on the core that sent it); kept busy it goes to normal priority (it batches behind
    /// the processes that feed it and never holds a core), and back once idle. Read from the
    /// kernel (/proc/self/task/TID/stat: rt_priority, policy), not from the loop's own flag.
    /// </summary>
    [Fact]
    public async Task A_loop_runs_at_real_time_priority_while_idle_at_normal_priority_while_busy_and_back_when_idle()
    {
        HostTools.RequireRoot(); // CAP_SYS_NICE
        var pool = new PacketBatchPool(maxRetained: 4, batchCapacity: 16);
        using var loop = new IoLoop(0, pool, 4, 8, shared: false, name: "rt-test", realtime: new LoopRealtime(10, 20, TimeSpan.FromMilliseconds(20)));
        using var plain = new IoLoop(1, pool, 4, 8, shared: false, name: "plain-test"); // realtime off (the default of a loop)
        await Eventually.Holds(() => loop.ThreadId != 0 && plain.ThreadId != 0, TimeSpan.FromSeconds(5), "both loop threads started");
        await Eventually.Holds(() => Scheduling(loop.ThreadId) == (10, 1), TimeSpan.FromSeconds(5), "the idle loop at SCHED_FIFO 10");
        Assert.True(loop.IsRealtime);
        Assert.Equal((0, 0), Scheduling(plain.ThreadId));

        using var port = new GhostPort("ghost", 1, "g", tracer: null, answersArp: false);
        port.StartReceiving(pool, batch =>
        {
            var busy = Stopwatch.StartNew();
            while (busy.Elapsed < TimeSpan.FromMilliseconds(2)) { } // a data path at work: 2 ms per batch
            batch.Return();
        }, loop);
        var frame = SimulatedPort.BuildUdpFrame(new TrafficProfile(), 0, 64);
        using var stop = new CancellationTokenSource();
        var feeder = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                port.Inject(frame);
                await Task.Delay(1);
            }
        });
        try
        {
            await Eventually.Holds(() => Scheduling(loop.ThreadId) == (0, 0), TimeSpan.FromSeconds(10), "the busy loop at normal priority");
            Assert.True(loop.RealtimeDemotions >= 1);
            Assert.False(loop.IsRealtime);
        }
        finally
        {
            stop.Cancel();
            await feeder;
        }

        await Eventually.Holds(() => Scheduling(loop.ThreadId) == (10, 1), TimeSpan.FromSeconds(10), "the loop, idle again, back at SCHED_FIFO 10");
        Assert.True(loop.RealtimePromotions >= 2, $"{loop.RealtimePromotions} promotions (at start, after the busy spell)");
        Assert.Null(IoLoop.RealtimeRefused);
        port.StopReceiving();
    }

    /// <summary>(rt_priority, policy) of a thread of this process, from /proc/self/task/TID/stat (fields 40 and 41).</summary>
    private static (int Priority, int Policy) Scheduling(int tid)
    {
        var stat = File.ReadAllText($"/proc/self/task/{tid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' '); // fields[0] is field 3 (state)
        return (int.Parse(fields[40 - 3]), int.Parse(fields[41 - 3]));
    }

    [Fact]
    public async Task Frames_queued_from_many_threads_at_once_are_all_received_no_wake_up_is_lost()
    {
        // Before: a wake-up that landed between the loop clearing its "wake pending" flag and
        // draining its eventfd was swallowed with the flag left set, and from then on the loop
        // slept through every signal (every later test in the process saw its ports go silent).
        var ports = Enumerable.Range(0, 8).Select(i => new GhostPort($"race{i}", (ushort)(i + 1), $"r{i}", tracer: null, answersArp: false)).ToList();
        long received = 0;
        try
        {
            foreach (var port in ports)
            {
                port.StartReceiving(batch =>
                {
                    Interlocked.Add(ref received, batch.Count);
                    batch.Return();
                });
            }

            const int Threads = 4, PerThread = 20_000;
            var frame = SimulatedPort.BuildUdpFrame(new TrafficProfile(), 0, 64);
            var senders = Enumerable.Range(0, Threads).Select(t => Task.Run(() =>
            {
                for (int i = 0; i < PerThread; i++)
                {
                    ports[(t + i) % ports.Count].Inject(frame);
                    if (i % 64 == 0) Thread.Yield(); // let the loops sleep and wake often
                }
            })).ToArray();
            await Task.WhenAll(senders);
            await Eventually.Holds(() => Interlocked.Read(ref received) == Threads * PerThread, TimeSpan.FromSeconds(20),
                $"all {Threads * PerThread} frames received (have {Interlocked.Read(ref received)})");

            // And the loops still wake for a single frame afterwards.
            ports[0].Inject(frame);
            await Eventually.Holds(() => Interlocked.Read(ref received) == Threads * PerThread + 1, TimeSpan.FromSeconds(5), "one more frame received");
        }
        finally
        {
            ports.ForEach(p => p.Dispose());
        }
    }
}
