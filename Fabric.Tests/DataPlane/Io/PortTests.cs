using Fabric.Actors.DataPlane.Io;

namespace Fabric.Tests.DataPlane.Io;

public class PortTests
{
    [Fact]
    public void A_receive_callback_that_throws_ends_the_loop_and_the_port_reports_gone_with_the_reason()
    {
        using var port = new SimulatedPort("sim", 1);
        var pool = new PacketBatchPool(maxRetained: 2, batchCapacity: 8);
        port.StartReceiving(pool, batch =>
        {
            batch.Return();
            throw new InvalidOperationException("stage exploded");
        });

        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (port.State != PortState.Gone && DateTime.UtcNow < deadline)
        {
            Thread.Sleep(10);
        }

        Assert.Equal(PortState.Gone, port.State);
        Assert.Contains("stage exploded", port.StateDetail);
        port.StopReceiving();
        Assert.Equal(pool.Rents, pool.Returns);
    }

    [Fact]
    public void Starting_a_second_receive_loop_on_one_port_throws()
    {
        using var port = new SimulatedPort("sim", 1, new TrafficProfile { FramesPerSecond = 10 });
        var pool = new PacketBatchPool(maxRetained: 2, batchCapacity: 8);
        port.StartReceiving(pool, b => b.Return());

        Assert.Throws<InvalidOperationException>(() => port.StartReceiving(pool, b => b.Return()));
    }

    [Fact]
    public void A_disposed_port_drops_what_it_is_asked_to_send_as_port_gone()
    {
        var port = new SimulatedPort("sim", 1);
        port.Dispose();
        var batch = new PacketBatch(capacity: 2);
        batch.TryAppend(new byte[60]);

        Assert.Equal(0, port.SendBatch(batch));
        Assert.Equal(PortState.Closed, port.State);
        Assert.Equal(1, port.Counters.Drops(PortDropReason.TxPortGone));
        Assert.Throws<ObjectDisposedException>(() => port.StartReceiving(new PacketBatchPool(), b => b.Return()));
    }

    [Fact]
    public void Counter_snapshots_list_only_the_drop_reasons_that_happened()
    {
        var counters = new PortCounters();
        counters.AddRx(3, 180);
        counters.AddDrop(PortDropReason.TxQueueFull, 2);

        PortCountersSnapshot snapshot = counters.Snapshot();
        Assert.Equal(3, snapshot.RxFrames);
        Assert.Equal(180, snapshot.RxBytes);
        Assert.Equal(new Dictionary<PortDropReason, long> { [PortDropReason.TxQueueFull] = 2 }, snapshot.Drops);
        Assert.Equal(2, counters.TotalDrops);
    }
}
