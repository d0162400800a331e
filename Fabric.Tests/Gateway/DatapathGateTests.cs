using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Gateway;
using Fabric.Tests.Support;
using Xunit;

namespace Fabric.Tests.Gateways;

/// <summary>
/// Backpressure at a gateway port: the port's receive thread runs the real data path to
/// completion through the <see cref="DatapathGate"/>; while the data path is held busy (as a long
/// reconfiguration would) the port, generating frames as fast as a flood, drops and counts its
/// batches at ingress and never needs a batch beyond the one it holds.
/// </summary>
public class DatapathGateTests
{
    private sealed class CountingSink : IFrameSink
    {
        public long Frames;

        public void Send(ushort port, ReadOnlySpan<byte> frame) => Interlocked.Increment(ref Frames);
    }

    [Fact]
    public async Task A_saturated_gateway_port_drops_and_counts_at_ingress_instead_of_allocating_batches()
    {
        var dp = GatewayFixture.Datapath();
        var blue = dp.Plan.Tenants[0];
        var sink = new CountingSink();
        var pool = new PacketBatchPool(maxRetained: 4, batchCapacity: 64, preallocate: 4);
        var gate = new DatapathGate(TimeSpan.FromMilliseconds(1));
        using var port = new SimulatedPort("blue-down", blue.DownlinkPort, new TrafficProfile
        {
            Flows = 64,
            SourceMac = GatewayFixture.HostMac,
            DestinationMac = GatewayFixture.RouterMac,
            SourceAddress = GatewayFixture.Host,
            DestinationAddress = GatewayFixture.Server,
            DestinationPort = 53,
            FramesPerSecond = 2_000_000,
            TotalFrames = 20_000_000, // bounded: 10 s at the most
        });
        Action<PacketBatch> run = batch =>
        {
            try
            {
                dp.Process(batch, Environment.TickCount64, sink);
            }
            finally
            {
                batch.Return();
            }
        };
        port.StartReceiving(pool, b => gate.TryRun(b, run));

        await Eventually.Holds(() => Task.FromResult(Interlocked.Read(ref sink.Frames) > 10_000), TimeSpan.FromSeconds(10), "the data path forwards");
        Assert.Equal(0, gate.IngressBusyDrops);

        long forwardedBefore;
        using (gate.Hold())
        {
            forwardedBefore = Interlocked.Read(ref sink.Frames);
            Thread.Sleep(300); // the data path is busy elsewhere while the port keeps receiving
            Assert.Equal(forwardedBefore, Interlocked.Read(ref sink.Frames));
        }

        long dropped = gate.IngressBusyDrops;
        Assert.True(dropped >= 64, $"dropped at ingress: {dropped}"); // at least one whole batch (how many depends on the machine's wake-up latency)
        await Eventually.Holds(() => Task.FromResult(Interlocked.Read(ref sink.Frames) > forwardedBefore + 10_000), TimeSpan.FromSeconds(10),
            "forwarding resumes once the data path is free");
        port.StopReceiving();

        // Every batch came from the four preallocated ones: none was allocated, all went back.
        Assert.Equal(0, pool.Misses);
        Assert.Equal(0, pool.Outstanding);
        Assert.Equal(4, pool.Idle);
        Assert.True(port.Generated >= sink.Frames + dropped, $"generated {port.Generated}, forwarded {sink.Frames}, dropped {dropped}");
    }

    [Fact]
    public void A_ghost_gateway_closes_a_port_whose_receive_thread_waits_for_the_data_path()
    {
        // A ghost gateway's receive threads wait without limit; the actor closes ports (joining
        // those threads) while holding the data path. Before: PostStop deadlocked and the node
        // never terminated.
        var pool = new PacketBatchPool(maxRetained: 2, batchCapacity: 8, preallocate: 2);
        var gate = new DatapathGate(Timeout.InfiniteTimeSpan);
        var port = new SimulatedPort("ghost-down", 1, new TrafficProfile
        {
            Flows = 1,
            SourceMac = GatewayFixture.HostMac,
            DestinationMac = GatewayFixture.RouterMac,
            SourceAddress = GatewayFixture.Host,
            DestinationAddress = GatewayFixture.Server,
            DestinationPort = 53,
            FramesPerSecond = 10_000,
            TotalFrames = 1_000_000,
        });
        long ran = 0;
        port.StartReceiving(pool, b => gate.TryRun(b, batch =>
        {
            Interlocked.Increment(ref ran);
            batch.Return();
        }));
        SpinWait.SpinUntil(() => Interlocked.Read(ref ran) > 0, TimeSpan.FromSeconds(10));
        Assert.True(Interlocked.Read(ref ran) > 0, "the port delivers batches");

        var control = new Thread(() =>
        {
            using (gate.Hold())
            {
                Thread.Sleep(100); // the receive thread is now waiting for the data path
                gate.ClosingPorts(port.Dispose);
            }
        });
        control.Start();
        Assert.True(control.Join(TimeSpan.FromSeconds(30)), "closing a port while holding the data path deadlocked");

        Assert.True(gate.IngressBusyDrops > 0, "the waiting batch was dropped, not run after its port closed");
        Assert.Equal(0, pool.Outstanding);
        Assert.Throws<InvalidOperationException>(() => gate.ClosingPorts(() => { }));
    }
}
