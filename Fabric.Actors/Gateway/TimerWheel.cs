namespace Fabric.Actors.Gateway;

/// <summary>
/// A hashed timer wheel (Varghese and Lauck): <see cref="SlotCount"/> slots of
/// <see cref="TickMs"/> each; an item is filed in the slot of its deadline and comes out of
/// <see cref="Advance"/> once that deadline has passed. Deadlines further away than one turn
/// wait their turn (an item seen early is filed again). Scheduling is O(1), a sweep touches only
/// the slots of the elapsed ticks, nothing scans the whole set; cancelling is the caller's
/// business (it ignores items whose deadline it has since changed). A slot's filings are kept in
/// chunks of <see cref="ChunkSize"/> taken from the wheel's own spares and given back when the
/// slot is swept, so the wheel holds memory for the filings it has, not for the most each of its
/// slots ever had (a slot is used once per turn: growing a list per slot would keep every slot's
/// peak), and under steady churn it allocates nothing. Single-threaded, except
/// <see cref="NextDue"/>, which any thread may read. Its owner need not tick it:
/// <see cref="NextDue"/> says when the next <see cref="Advance"/> can yield anything, so an idle
/// owner sleeps until then (or for good while it is empty) instead of waking every tick.
/// </summary>
public sealed class TimerWheel<T> where T : class
{
    public const int SlotCount = 1024;

    /// <summary>Filings per chunk.</summary>
    public const int ChunkSize = 32;

    /// <summary>Spare chunks kept however few are in use.</summary>
    private const int SpareFloor = 64;

    /// <summary>Each slot's chunks, the one being filled first (null: nothing filed there).</summary>
    private readonly Chunk?[] _slots = new Chunk?[SlotCount];
    private Chunk? _spares;
    private int _spareCount;
    private int _chunksInUse;
    private long _tick = long.MinValue;
    private long _nextDue = long.MaxValue;
    private readonly DueFloor? _floor;

    /// <param name="floor">Lowered whenever a filing brings <see cref="NextDue"/> forward (shared by several wheels: see <see cref="DueFloor"/>).</param>
    public TimerWheel(long tickMs, DueFloor? floor = null)
    {
        if (tickMs <= 0) throw new ArgumentOutOfRangeException(nameof(tickMs), tickMs, "> 0");
        TickMs = tickMs;
        _floor = floor;
    }

    public long TickMs { get; }

    /// <summary>Items filed, counting stale ones not yet swept.</summary>
    public int Count { get; private set; }

    /// <summary>Chunks holding filings now (each <see cref="ChunkSize"/> filings at most).</summary>
    public int ChunksInUse => _chunksInUse;

    /// <summary>
    /// The earliest time (ms, the clock of <see cref="Advance"/>) at which an advance can yield an
    /// item: the end of the first tick with a filing in it; <see cref="long.MaxValue"/> when
    /// nothing is filed. Never later than the first deadline (an advance then may find only
    /// stale or later-turn filings, and the value moves on). Readable from any thread.
    /// </summary>
    public long NextDue => Volatile.Read(ref _nextDue);

    /// <summary>Files <paramref name="item"/> to come out of the first <see cref="Advance"/> at or after <paramref name="due"/>.</summary>
    public void Schedule(T item, long due, long now)
    {
        if (_tick == long.MinValue) _tick = now / TickMs - 1;
        File(SlotOf(due, _tick + 1), item, due);
        Count++;
        // Out by the end of its tick (or of the next one to be swept, for a deadline already past).
        long end = (Math.Max(due / TickMs, _tick + 1) + 1) * TickMs;
        if (end < _nextDue)
        {
            Volatile.Write(ref _nextDue, end);
            _floor?.Lower(end);
        }
    }

    /// <summary>Moves every item due by <paramref name="now"/> into <paramref name="due"/> (with the deadline it was filed under).</summary>
    public void Advance(long now, List<(T Item, long Due)> due)
    {
        var to = now / TickMs;
        if (_tick == long.MinValue) _tick = to - 1;
        if (to <= _tick) return;
        var from = Math.Max(_tick + 1, to - SlotCount + 1);
        for (var tick = from; tick <= to; tick++)
        {
            var slot = (int)(tick & (SlotCount - 1));
            var chunk = _slots[slot];
            if (chunk is null) continue;
            _slots[slot] = null; // filings for a later turn go back in on a chain of their own
            while (chunk is not null)
            {
                for (var i = 0; i < chunk.Count; i++)
                {
                    var entry = chunk.Entries[i];
                    if (entry.Due <= now)
                    {
                        due.Add(entry);
                        Count--;
                    }
                    else
                    {
                        File(SlotOf(entry.Due, to + 1), entry.Item, entry.Due); // later this tick, or a later turn
                    }
                }
                var next = chunk.Next;
                Return(chunk);
                chunk = next;
            }
        }
        _tick = Math.Max(_tick, to);
        Volatile.Write(ref _nextDue, FirstFiledTickEnd());
    }

    public void Clear()
    {
        for (var i = 0; i < SlotCount; i++)
        {
            for (var chunk = _slots[i]; chunk is not null;)
            {
                var next = chunk.Next;
                Return(chunk);
                chunk = next;
            }
            _slots[i] = null;
        }
        Count = 0;
        Volatile.Write(ref _nextDue, long.MaxValue);
    }

    private void File(int slot, T item, long due)
    {
        var head = _slots[slot];
        if (head is null || head.Count == ChunkSize)
        {
            var chunk = Rent();
            chunk.Next = head;
            _slots[slot] = head = chunk;
        }
        head.Entries[head.Count++] = (item, due);
    }

    private Chunk Rent()
    {
        _chunksInUse++;
        if (_spares is not { } chunk) return new Chunk();
        _spares = chunk.Next;
        _spareCount--;
        chunk.Next = null;
        return chunk;
    }

    /// <summary>Gives a swept chunk back (emptied, so it keeps no item alive); beyond the chunks in use (and a floor) it goes to the GC.</summary>
    private void Return(Chunk chunk)
    {
        _chunksInUse--;
        Array.Clear(chunk.Entries, 0, chunk.Count);
        chunk.Count = 0;
        if (_spareCount >= Math.Max(SpareFloor, _chunksInUse))
        {
            chunk.Next = null;
            return;
        }
        chunk.Next = _spares;
        _spares = chunk;
        _spareCount++;
    }

    /// <summary>The end of the first tick after the last swept one whose slot holds a filing (one look at each slot at most).</summary>
    private long FirstFiledTickEnd()
    {
        if (Count == 0) return long.MaxValue;
        for (long tick = _tick + 1; tick <= _tick + SlotCount; tick++)
        {
            if (_slots[(int)(tick & (SlotCount - 1))] is not null) return (tick + 1) * TickMs;
        }
        return long.MaxValue; // unreachable: Count > 0 means some slot holds a filing
    }

    /// <summary>The slot of <paramref name="due"/>'s tick, or of <paramref name="earliest"/> for a deadline in a tick already swept.</summary>
    private int SlotOf(long due, long earliest) => (int)(Math.Max(due / TickMs, earliest) & (SlotCount - 1));

    private sealed class Chunk
    {
        public readonly (T Item, long Due)[] Entries = new (T, long)[ChunkSize];
        public int Count;
        public Chunk? Next;
    }
}

/// <summary>
/// A lower bound of several <see cref="TimerWheel{T}.NextDue"/>s that costs one read: each wheel
/// lowers it when a filing brings its own next due forward, and its owner raises it back
/// (<see cref="Reset"/>) to the true minimum when it has walked the wheels. A caller on a hot path
/// that only needs "can anything be due before T?" reads <see cref="Value"/> instead of walking
/// every wheel; after a sweep it may answer yes once too often, never no wrongly. Written by the
/// wheels' owner (one thread at a time); read from any thread.
/// </summary>
public sealed class DueFloor
{
    private long _value = long.MaxValue;

    public long Value => Volatile.Read(ref _value);

    public void Lower(long due)
    {
        if (due < _value) Volatile.Write(ref _value, due);
    }

    /// <summary>Sets the floor to <paramref name="minimum"/>, the wheels' true minimum just computed by the owner.</summary>
    public void Reset(long minimum) => Volatile.Write(ref _value, minimum);
}
