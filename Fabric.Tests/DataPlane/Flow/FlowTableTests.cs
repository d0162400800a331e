using Fabric.Actors.DataPlane.Flow;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Tests.DataPlane.Flow;

public class FlowTableTests
{
    private const uint Gen = 1;

    private static FlowKey Key(int n) => new()
    {
        Tenant = 1,
        EtherType = EtherType.Ipv4,
        SourceAddress = new Ipv4Address(0x0A000000u + (uint)(n >> 16)),
        DestinationAddress = new Ipv4Address(0x0A010001),
        IpProtocol = IpProtocol.Udp,
        SourcePort = (ushort)n,
        DestinationPort = 53,
        Flags = FlowKeyFlags.Ipv4 | FlowKeyFlags.Transport,
    };

    private static ulong Hash(int n) => FlowHash.Compute(Key(n));

    [Fact]
    public void Counts_a_miss_an_insertion_then_a_hit()
    {
        var table = new FlowTable<int>(100);
        Assert.False(table.TryGetValue(Key(1), Hash(1), Gen, now: 0, out _));
        Assert.Equal(FlowInsertResult.Added, table.Insert(Key(1), Hash(1), 11, Gen, now: 0));
        Assert.True(table.TryGetValue(Key(1), Hash(1), Gen, now: 1, out var value));
        Assert.Equal(11, value);
        Assert.Equal(new FlowTableCounters(Hits: 1, Misses: 1, Insertions: 1, Collisions: 0, 0, 0, 0, Active: 1), table.Counters);
    }

    [Fact]
    public void Replaces_the_value_of_a_key_already_present()
    {
        var table = new FlowTable<int>(100);
        table.Insert(Key(1), Hash(1), 11, Gen, 0);
        Assert.Equal(FlowInsertResult.Replaced, table.Insert(Key(1), Hash(1), 12, Gen, 0));
        Assert.True(table.TryGetValue(Key(1), Hash(1), Gen, 0, out var value));
        Assert.Equal(12, value);
        Assert.Equal(1, table.Count);
    }

    [Fact]
    public void A_newer_generation_turns_older_entries_into_misses_and_evicts_them()
    {
        var table = new FlowTable<int>(100);
        table.Insert(Key(1), Hash(1), 11, generation: 5, now: 0);
        Assert.True(table.TryGetValue(Key(1), Hash(1), generation: 5, now: 0, out _));
        Assert.False(table.TryGetValue(Key(1), Hash(1), generation: 6, now: 0, out _));
        Assert.Equal(1, table.Counters.EvictedStale);
        Assert.Equal(0, table.Count);
        table.Insert(Key(1), Hash(1), 12, generation: 6, now: 0);
        Assert.True(table.TryGetValue(Key(1), Hash(1), generation: 6, now: 0, out var value));
        Assert.Equal(12, value);
    }

    [Fact]
    public void An_entry_idle_for_the_idle_timeout_expires_and_a_hit_resets_the_timer()
    {
        var table = new FlowTable<int>(100, idleTimeout: 10);
        table.Insert(Key(1), Hash(1), 11, Gen, now: 0);
        Assert.True(table.TryGetValue(Key(1), Hash(1), Gen, now: 9, out _));
        Assert.True(table.TryGetValue(Key(1), Hash(1), Gen, now: 18, out _));
        Assert.False(table.TryGetValue(Key(1), Hash(1), Gen, now: 28, out _));
        Assert.Equal(1, table.Counters.EvictedExpired);
    }

    [Fact]
    public void An_entry_expires_at_the_hard_timeout_however_busy()
    {
        var table = new FlowTable<int>(100, hardTimeout: 10);
        table.Insert(Key(1), Hash(1), 11, Gen, now: 0);
        for (var now = 0; now < 10; now++)
        {
            Assert.True(table.TryGetValue(Key(1), Hash(1), Gen, now, out _));
        }
        Assert.False(table.TryGetValue(Key(1), Hash(1), Gen, now: 10, out _));
        Assert.Equal(1, table.Counters.Evictions);
    }

    [Fact]
    public void When_full_evicts_the_least_recently_used_flow_near_the_new_one()
    {
        var table = new FlowTable<int>(8);
        for (var n = 0; n < 8; n++)
        {
            table.Insert(Key(n), Hash(n), n, Gen, now: n);
        }
        Assert.Equal(FlowInsertResult.AddedAfterEviction, table.Insert(Key(100), Hash(100), 100, Gen, now: 50));
        Assert.Equal(8, table.Count);
        Assert.Equal(1, table.Counters.EvictedForSpace);
        Assert.True(table.TryGetValue(Key(100), Hash(100), Gen, 51, out _));
    }

    [Fact]
    public void Collisions_count_probes_past_other_keys()
    {
        var table = new FlowTable<int>(4); // 16 slots
        const ulong sameHome = 0x1234_0000_0000_0000;
        table.Insert(Key(1), sameHome | 1, 1, Gen, 0);
        table.Insert(Key(2), sameHome | 2, 2, Gen, 0);
        Assert.Equal(1, table.Counters.Collisions);
        Assert.True(table.TryGetValue(Key(2), sameHome | 2, Gen, 0, out var value));
        Assert.Equal(2, value);
        Assert.Equal(2, table.Counters.Collisions);
    }

    [Fact]
    public void Batch_lookup_reports_hits_and_misses_per_key()
    {
        var table = new FlowTable<long>(1000);
        for (var n = 0; n < 500; n++)
        {
            table.Insert(Key(n), Hash(n), n * 10L, Gen, 0);
        }
        var keys = Enumerable.Range(250, 256).Select(Key).ToArray();
        var hashes = keys.Select(k => FlowHash.Compute(k)).ToArray();
        var values = new long[256];
        var found = new bool[256];
        Assert.Equal(250, table.LookupBatch(keys, hashes, Gen, 1, values, found));
        for (var i = 0; i < 256; i++)
        {
            Assert.Equal(250 + i < 500, found[i]);
            Assert.Equal(found[i] ? (250 + i) * 10L : 0, values[i]);
        }
        Assert.Equal((250, 6), (table.Counters.Hits, table.Counters.Misses));
    }

    [Fact]
    public void Values_can_be_updated_in_place_through_a_reference()
    {
        var table = new FlowTable<long>(10);
        table.Insert(Key(1), Hash(1), 0, Gen, 0);
        for (var i = 0; i < 5; i++)
        {
            table.GetValueRefOrNullRef(Key(1), Hash(1), Gen, 0)++;
        }
        Assert.True(table.TryGetValue(Key(1), Hash(1), Gen, 0, out var packets));
        Assert.Equal(5, packets);
        Assert.True(System.Runtime.CompilerServices.Unsafe.IsNullRef(ref table.GetValueRefOrNullRef(Key(2), Hash(2), Gen, 0)));
    }

    [Fact]
    public void Sweep_sheds_expired_and_stale_flows_without_lookups()
    {
        var table = new FlowTable<int>(1000, idleTimeout: 100);
        for (var n = 0; n < 600; n++)
        {
            // 0..99 current but idle since 0; 100..299 from the old generation; 300..599 alive.
            table.Insert(Key(n), Hash(n), n, generation: n is >= 100 and < 300 ? 1u : 2u, now: n < 100 ? 0 : 500);
        }
        var evicted = 0;
        for (var pass = 0; pass < 4; pass++)
        {
            evicted += table.Sweep(generation: 2, now: 550, maxSlots: table.Capacity / 2);
        }
        Assert.Equal(300, evicted);
        Assert.Equal(300, table.Count);
        Assert.Equal((100, 200), (table.Counters.EvictedExpired, table.Counters.EvictedStale));
    }

    [Fact]
    public void Stays_consistent_with_a_dictionary_under_random_inserts_and_removals()
    {
        var random = new Random(42);
        var table = new FlowTable<int>(2000);
        var model = new Dictionary<int, int>();
        for (var step = 0; step < 50_000; step++)
        {
            // A hash with few distinct high bits forces long clusters and exercises the backward shift.
            var n = random.Next(3000);
            var hash = ((ulong)(n % 37) << 58) | (uint)n;
            switch (random.Next(3))
            {
                case 0 when model.Count < 2000 || model.ContainsKey(n):
                    table.Insert(Key(n), hash, step, Gen, 0);
                    model[n] = step;
                    break;
                case 1:
                    Assert.Equal(model.Remove(n), table.Remove(Key(n), hash));
                    break;
                default:
                    Assert.Equal(model.TryGetValue(n, out var expected), table.TryGetValue(Key(n), hash, Gen, 0, out var actual));
                    Assert.Equal(expected, actual);
                    break;
            }
            Assert.Equal(model.Count, table.Count);
        }
        foreach (var (n, value) in model)
        {
            Assert.True(table.TryGetValue(Key(n), ((ulong)(n % 37) << 58) | (uint)n, Gen, 0, out var actual));
            Assert.Equal(value, actual);
        }
    }

    [Fact]
    public void Starts_small_and_doubles_as_flows_arrive_keeping_every_flow_findable_up_to_its_maximum()
    {
        var table = new FlowTable<int>(100_000);
        Assert.Equal((FlowTable<int>.InitialSlots, 262_144), (table.Capacity, table.MaxCapacity));
        var capacities = new SortedSet<int>();
        for (int n = 0; n < 100_000; n++)
        {
            Assert.Equal(FlowInsertResult.Added, table.Insert(Key(n), Hash(n), n, Gen, now: 0));
            Assert.True(table.Count <= table.Capacity / 2, $"{table.Count} flows in {table.Capacity} slots");
            capacities.Add(table.Capacity);
        }

        Assert.Equal(262_144, table.Capacity);
        Assert.Equal(11, capacities.Count); // 256 .. 262,144: ten doublings
        for (int n = 0; n < 100_000; n++)
        {
            Assert.True(table.TryGetValue(Key(n), Hash(n), Gen, now: 1, out var value) && value == n, $"flow {n} lost in a doubling");
        }

        // Full at its maximum: a new flow evicts one instead of growing further.
        Assert.Equal(FlowInsertResult.AddedAfterEviction, table.Insert(Key(100_000), Hash(100_000), 0, Gen, now: 2));
        Assert.Equal((100_000, 262_144), (table.Count, table.Capacity));
    }

    [Fact]
    public void Refuses_nonsense_sizes_and_timeouts()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new FlowTable<int>(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new FlowTable<int>(10, idleTimeout: -1));
        Assert.Equal(32, new FlowTable<int>(10).Capacity);
    }
}
