using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Gateway;
using Fabric.Actors.Gateway.Pipeline;

namespace Fabric.Tests.Gateways;

/// <summary>
/// Connection churn without garbage: a host opening thousands of short connections a second must
/// not make the gateway allocate an object per connection that lives for its closed hold and dies
/// in the GC's older generations (each young collection then copies them: ~20 ms pauses under a
/// crr load). The connection table reuses the objects of removed connections, the timer wheel
/// reuses its chunks, and a reference kept past a connection's end (a cache entry) is told by the
/// connection's generation that it no longer holds.
/// </summary>
public class ConntrackChurnTests
{
    private static readonly Ipv4Address Host = Ipv4Address.Parse("10.0.0.10");
    private static readonly Ipv4Address Server = Ipv4Address.Parse("203.0.113.80");

    private static ConnectionKey Key(int i) => new(1001, IpProtocol.Tcp, Host, (ushort)(10_000 + i % 50_000), Server, 80);

    /// <summary>One tick's worth of churn: <paramref name="perTick"/> connections opened and closed at once, then the wheel swept.</summary>
    private static void Churn(ConnectionTable table, ref int next, int perTick, long now, List<Connection> removed, List<Connection> confirm)
    {
        for (var i = 0; i < perTick; i++)
        {
            var c = table.Add(Key(next++), fromInside: true, pickedUp: false, now);
            var before = c.State;
            c.State = ConnectionState.Closed;
            table.Transitioned(c, before, now);
        }
        removed.Clear();
        confirm.Clear();
        table.Expire(now, removed, confirm);
    }

    [Fact]
    public void Under_steady_churn_the_table_reuses_its_connections_and_the_wheel_its_chunks()
    {
        var settings = ConntrackSettings.Default with { TcpClosedHold = TimeSpan.FromSeconds(2) };
        var table = new ConnectionTable(settings, tickMs: 100);
        var removed = new List<Connection>();
        var confirm = new List<Connection>();
        var next = 0;
        long now = 1_000;
        // Warm-up: past the new-state timeout (30 s), whose filings each connection leaves behind
        // stale, so the pool and the wheel's chunks reach their steady size.
        for (; now < 35_000; now += 100) Churn(table, ref next, 200, now, removed, confirm);
        Assert.InRange(table.Count, 2 * 20 * 200 / 2, 3 * 20 * 200); // ~2 s of connections held closed

        var created = table.Created;
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        for (; now < 40_000; now += 100) Churn(table, ref next, 200, now, removed, confirm);
        allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
        var opened = table.Created - created;

        Assert.Equal(50 * 200, opened);
        // A connection object alone is ~200 bytes: none may be made per connection.
        Assert.True(allocated < opened * 8, $"{allocated} bytes allocated for {opened} connections ({(double)allocated / opened:0.0} per connection)");
        Assert.True(table.Expired > 0);
    }

    [Fact]
    public void A_reused_connection_has_a_new_generation_and_a_cache_entry_made_for_its_old_life_sees_it_gone()
    {
        var table = new ConnectionTable(ConntrackSettings.Default with { TcpClosedHold = TimeSpan.FromMilliseconds(200) }, tickMs: 100);
        var first = table.Add(Key(1), fromInside: true, pickedUp: false, now: 1_000);
        var entry = CacheEntry.Synthesize(new PipelineOutcome { Verdict = StageVerdict.Forward, Connection = first }, default, default, isReply: false);
        Assert.False(entry.ConnectionGone);

        var before = first.State;
        first.State = ConnectionState.Closed;
        table.Transitioned(first, before, 1_000);
        var removed = new List<Connection>();
        table.Expire(1_400, removed, []);
        Assert.Same(first, Assert.Single(removed));
        Assert.True(first.Removed);
        Assert.False(entry.ConnectionGone); // removed, not yet reused: nothing else refers to it from the table

        // The next sweep makes it a spare; the next connection takes the object over.
        table.Expire(1_500, removed, []);
        var second = table.Add(Key(2), fromInside: false, pickedUp: true, now: 1_600);
        Assert.Same(first, second);
        Assert.Equal(entry.ConnectionGeneration + 1, second.Generation);
        Assert.True(entry.ConnectionGone);
        // The new life starts clean: nothing of the old one's state, binding or cache keys.
        Assert.Equal(Key(2), second.Key);
        Assert.False(second.FromInside);
        Assert.True(second.PickedUp);
        Assert.Equal(ConnectionState.Established, second.State);
        Assert.False(second.Removed);
        Assert.Null(second.Binding);
        Assert.Equal(0, second.ClosedAt);
        Assert.Equal(0ul, second.ForwardHash);
        Assert.Same(second, table.Find(Key(2)));
        Assert.Null(table.Find(Key(1)));
    }

    [Fact]
    public void A_reused_connection_is_not_expired_by_a_filing_of_its_old_life()
    {
        // The old life was filed for its closed hold; the object's new life is a fresh, open
        // connection, filed for its own (much later) timeout: the old filing must not end it.
        var table = new ConnectionTable(ConntrackSettings.Default with { TcpClosedHold = TimeSpan.FromMilliseconds(200) }, tickMs: 100);
        var c = table.Add(Key(1), fromInside: true, pickedUp: false, now: 1_000);
        c.State = ConnectionState.Closed;
        table.Transitioned(c, ConnectionState.New, 1_000);
        var removed = new List<Connection>();
        table.Expire(1_400, removed, []);
        table.Expire(1_500, removed, []);
        var reused = table.Add(Key(2), fromInside: true, pickedUp: false, now: 1_500);
        Assert.Same(c, reused);
        // The first life's new-state filing (due at 31,000) comes and goes: the connection stays
        // until its own timeout (31,500), and then it goes.
        for (long now = 1_600; now < 31_500; now += 100)
        {
            removed.Clear();
            table.Expire(now, removed, []);
            Assert.Empty(removed);
        }
        Assert.Same(reused, table.Find(Key(2)));
        removed.Clear();
        table.Expire(31_600, removed, []);
        Assert.Same(reused, Assert.Single(removed));
    }

    [Fact]
    public void A_wheel_swept_turn_after_turn_keeps_only_the_chunks_its_filings_need()
    {
        var wheel = new TimerWheel<string>(tickMs: 10);
        var due = new List<(string, long)>();
        long now = 0;
        // A burst: 5,000 filings over the next second, then all swept.
        for (var i = 0; i < 5_000; i++) wheel.Schedule("x", now + 10 + i % 1_000, now);
        var burstChunks = wheel.ChunksInUse;
        Assert.InRange(burstChunks, 5_000 / TimerWheel<string>.ChunkSize, 5_000 / TimerWheel<string>.ChunkSize + 100);
        for (; now <= 1_100; now += 10) wheel.Advance(now, due);
        Assert.Equal(5_000, due.Count);
        Assert.Equal(0, wheel.Count);
        Assert.Equal(0, wheel.ChunksInUse);
        Assert.Equal(long.MaxValue, wheel.NextDue);

        // Steady: 20 filings per tick, 2 s ahead, over several turns of the wheel (1,024 ticks each): no allocation once warm.
        for (; now < 30_000; now += 10) Steady(wheel, now, due);
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        for (; now < 60_000; now += 10) Steady(wheel, now, due);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - allocated);
        Assert.InRange(wheel.ChunksInUse, 1, 2 * 200 * 20 / TimerWheel<string>.ChunkSize + 200);

        static void Steady(TimerWheel<string> wheel, long now, List<(string, long)> due)
        {
            for (var i = 0; i < 20; i++) wheel.Schedule("y", now + 2_000, now);
            due.Clear();
            wheel.Advance(now, due);
        }
    }
}
