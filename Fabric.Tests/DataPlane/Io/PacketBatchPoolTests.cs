using Fabric.Actors.DataPlane.Io;

namespace Fabric.Tests.DataPlane.Io;

public class PacketBatchPoolTests
{
    [Fact]
    public void A_returned_batch_is_rented_again_without_a_miss()
    {
        var pool = new PacketBatchPool(maxRetained: 4, batchCapacity: 8);
        PacketBatch first = pool.Rent();
        first.Return();
        PacketBatch second = pool.Rent();

        Assert.Same(first, second);
        Assert.Equal(2, pool.Rents);
        Assert.Equal(1, pool.Returns);
        Assert.Equal(1, pool.Misses);
        Assert.Equal(1, pool.Outstanding);
    }

    [Fact]
    public void Preallocated_batches_are_rented_without_misses()
    {
        var pool = new PacketBatchPool(maxRetained: 4, batchCapacity: 8, preallocate: 2);
        pool.Rent();
        pool.Rent();
        Assert.Equal(0, pool.Misses);
        pool.Rent();
        Assert.Equal(1, pool.Misses);
    }

    [Fact]
    public void A_full_pool_discards_extra_returns_and_keeps_at_most_its_bound()
    {
        var pool = new PacketBatchPool(maxRetained: 2, batchCapacity: 4);
        PacketBatch[] batches = [pool.Rent(), pool.Rent(), pool.Rent()];
        foreach (PacketBatch b in batches)
        {
            b.Return();
        }

        Assert.Equal(2, pool.Idle);
        Assert.Equal(1, pool.Discards);
        Assert.Equal(3, pool.Returns);
    }

    [Fact]
    public void Returning_a_batch_twice_throws()
    {
        var pool = new PacketBatchPool(maxRetained: 2, batchCapacity: 4);
        PacketBatch batch = pool.Rent();
        batch.Return();

        Assert.Throws<InvalidOperationException>(batch.Return);
        Assert.Equal(1, pool.Returns);
        Assert.Equal(1, pool.Idle);
    }

    [Fact]
    public void A_stale_holder_is_told_its_lease_ended_when_the_batch_was_rented_again()
    {
        var pool = new PacketBatchPool(maxRetained: 2, batchCapacity: 4);
        PacketBatch batch = pool.Rent();
        int lease = batch.Generation;
        batch.CheckLease(lease);
        batch.Return();
        Assert.Throws<InvalidOperationException>(() => batch.CheckLease(lease));

        PacketBatch again = pool.Rent();
        Assert.Same(batch, again);
        Assert.Throws<InvalidOperationException>(() => batch.CheckLease(lease));
        again.CheckLease(again.Generation);
    }

#if DEBUG
    [Fact]
    public void Touching_a_returned_batch_throws_in_debug_builds()
    {
        var pool = new PacketBatchPool(maxRetained: 2, batchCapacity: 4);
        PacketBatch batch = pool.Rent();
        batch.TryAppend(new byte[60]);
        batch.Return();

        Assert.Throws<InvalidOperationException>(() => batch.NextFrameRoom().Length);
        Assert.Throws<InvalidOperationException>(batch.Clear);
    }
#endif

    [Fact]
    public void A_returned_batch_comes_back_empty()
    {
        var pool = new PacketBatchPool(maxRetained: 2, batchCapacity: 4);
        PacketBatch batch = pool.Rent();
        batch.TryAppend(new byte[60]);
        batch.Return();

        Assert.Equal(0, pool.Rent().Count);
    }

    [Fact]
    public void Concurrent_renters_never_share_a_batch_and_the_counts_balance()
    {
        var pool = new PacketBatchPool(maxRetained: 8, batchCapacity: 2, slotSize: 128, headroom: 0);
        const int PerThread = 20_000;
        int conflicts = 0;
        var threads = Enumerable.Range(0, 4).Select(t => new Thread(() =>
        {
            byte[] mark = new byte[64];
            for (int i = 0; i < PerThread; i++)
            {
                PacketBatch b = pool.Rent();
                mark[0] = (byte)t;
                b.TryAppend(mark);
                if (b.Count != 1 || b.Frame(0)[0] != (byte)t)
                {
                    Interlocked.Increment(ref conflicts);
                }

                b.Return();
            }
        })).ToArray();
        foreach (Thread th in threads)
        {
            th.Start();
        }

        foreach (Thread th in threads)
        {
            th.Join();
        }

        Assert.Equal(0, conflicts);
        Assert.Equal(4 * PerThread, pool.Rents);
        Assert.Equal(pool.Rents, pool.Returns);
        Assert.True(pool.Misses <= 4, $"misses {pool.Misses}");
    }
}
