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
    public void Closing_ports_while_holding_the_data_path_releases_a_receive_thread_waiting_for_it()
    {
        // A TAP port's receive thread waits up to ingress-wait for the data path; the actor closes
        // ports (joining those threads) while holding it. With a long wait that join stalled for
        // the whole wait (and without limit, a ghost gateway's stop deadlocked: nodes never
        // terminated). Now the waiting thread gives its batch up as soon as closing starts.
        var pool = new PacketBatchPool(maxRetained: 2, batchCapacity: 8, preallocate: 2);
        var gate = new DatapathGate(TimeSpan.FromMinutes(10));
        using var holding = new ManualResetEventSlim();
        var ran = false;
        var receiver = new Thread(() =>
        {
            holding.Wait();
            var batch = pool.Rent();
            batch.TryAppend(new byte[64], 1);
            gate.TryRun(batch, b =>
            {
                ran = true;
                b.Return();
            });
        });
        var control = new Thread(() =>
        {
            using (gate.Hold())
            {
                receiver.Start();
                holding.Set();
                Thread.Sleep(100); // the receive thread is now waiting for the data path
                gate.ClosingPorts(() => receiver.Join());
            }
        });
        control.Start();
        Assert.True(control.Join(TimeSpan.FromSeconds(30)), "closing a port while holding the data path waited for the receive thread's whole ingress wait");

        Assert.False(ran, "the waiting batch was dropped, not run after its port closed");
        Assert.Equal(1, gate.IngressBusyDrops);
        Assert.Equal(0, pool.Outstanding);
        Assert.Throws<InvalidOperationException>(() => gate.ClosingPorts(() => { }));
    }
}
