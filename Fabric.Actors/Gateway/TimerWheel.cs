namespace Fabric.Actors.Gateway;

/// <summary>
/// A hashed timer wheel (Varghese and Lauck): <see cref="SlotCount"/> slots of
/// <see cref="TickMs"/> each; an item is filed in the slot of its deadline and comes out of
/// <see cref="Advance"/> once that deadline has passed. Deadlines further away than one turn
/// wait their turn (an item seen early is filed again). Scheduling is O(1), a sweep touches only
/// the slots of the elapsed ticks, nothing scans the whole set; cancelling is the caller's
/// business (it ignores items whose deadline it has since changed). No allocation once the
/// slots' lists have grown. Single-threaded.
/// </summary>
public sealed class TimerWheel<T> where T : class
{
    public const int SlotCount = 1024;

    private readonly List<(T Item, long Due)>[] _slots = new List<(T, long)>[SlotCount];
    private List<(T Item, long Due)> _spare = [];
    private long _tick = long.MinValue;

    public TimerWheel(long tickMs)
    {
        if (tickMs <= 0) throw new ArgumentOutOfRangeException(nameof(tickMs), tickMs, "> 0");
        TickMs = tickMs;
        for (var i = 0; i < SlotCount; i++) _slots[i] = [];
    }

    public long TickMs { get; }

    /// <summary>Items filed, counting stale ones not yet swept.</summary>
    public int Count { get; private set; }

    /// <summary>Files <paramref name="item"/> to come out of the first <see cref="Advance"/> at or after <paramref name="due"/>.</summary>
    public void Schedule(T item, long due, long now)
    {
        if (_tick == long.MinValue) _tick = now / TickMs - 1;
        _slots[SlotOf(due, _tick + 1)].Add((item, due));
        Count++;
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
            var list = _slots[slot];
            if (list.Count == 0) continue;
            _slots[slot] = _spare;
            foreach (var entry in list)
            {
                if (entry.Due <= now)
                {
                    due.Add(entry);
                    Count--;
                }
                else
                {
                    _slots[SlotOf(entry.Due, to + 1)].Add(entry); // later this tick, or a later turn
                }
            }
            list.Clear();
            _spare = list;
        }
        _tick = Math.Max(_tick, to);
    }

    public void Clear()
    {
        foreach (var s in _slots) s.Clear();
        Count = 0;
    }

    /// <summary>The slot of <paramref name="due"/>'s tick, or of <paramref name="earliest"/> for a deadline in a tick already swept.</summary>
    private int SlotOf(long due, long earliest) => (int)(Math.Max(due / TickMs, earliest) & (SlotCount - 1));
}
