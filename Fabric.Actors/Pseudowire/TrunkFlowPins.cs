using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Fabric.Actors.Pseudowire;

/// <summary>A trunk's least-loaded settings, read once from <c>fabric.pseudowire.trunk</c> (hocon/fabric.conf).</summary>
public sealed record TrunkBalanceSettings(bool LeastLoaded, TimeSpan ReorderWindow, TimeSpan LoadHalfLife, int FlowSlots)
{
    public static TrunkBalanceSettings Default { get; } = new(true, TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(100), 4096);

    public static TrunkBalanceSettings From(Akka.Configuration.Config config)
    {
        var section = config.GetConfig("fabric.pseudowire.trunk");
        if (section is null || section.IsEmpty) return Default;
        var balance = section.GetString("balance", "least-loaded");
        var settings = new TrunkBalanceSettings(
            balance switch
            {
                "least-loaded" => true,
                "hash" => false,
                _ => throw new ArgumentException($"fabric.pseudowire.trunk.balance must be least-loaded or hash, not '{balance}'"),
            },
            section.GetTimeSpan("reorder-window", Default.ReorderWindow),
            section.GetTimeSpan("load-half-life", Default.LoadHalfLife),
            section.GetInt("flow-slots", Default.FlowSlots));
        if (settings.ReorderWindow <= TimeSpan.Zero) throw new ArgumentException("fabric.pseudowire.trunk.reorder-window must be > 0");
        if (settings.LoadHalfLife <= TimeSpan.Zero) throw new ArgumentException("fabric.pseudowire.trunk.load-half-life must be > 0");
        if (settings.FlowSlots < TrunkFlowPins.Ways || !int.IsPow2(settings.FlowSlots))
            throw new ArgumentException("fabric.pseudowire.trunk.flow-slots must be a power of two >= 4");
        return settings;
    }
}

/// <summary>
/// Least-loaded per-flow member assignment for a trunk: a flow seen for the first time (or
/// again after an idle gap longer than the reordering window) goes to the active member with the
/// lowest weighted load, and every later packet of it takes the same member. A flow moves only
/// (a) after such an idle gap, when nothing of it can still be in flight on the old member, or
/// (b) at once when its member leaves the active set (failover). A returning member has no load,
/// so new and re-deciding flows go to it first (revertive without moving busy flows).
/// </summary>
/// <remarks>
/// <para>Load of member m: its bytes sent, decayed with a half-life, plus its live flows times the
/// mean bytes per live flow, over its weight. The flow term spreads a burst of new flows (all at
/// zero bytes, as iperf3 -P 8 opens them) one per member; the byte term steers new flows away
/// from members carrying elephants.</para>
/// <para>Flows are remembered in a 4-way set-associative table keyed by the flow hash (tag = the
/// full 64-bit hash). A new flow whose set is full of live flows evicts the least recently seen
/// one (counted as <see cref="LiveEvictions"/>: that flow may then move while busy).</para>
/// <para>Single-threaded: only the trunk's sending thread (the attachment circuit's receive
/// thread) calls <see cref="Assign"/>; counters are read from other threads.</para>
/// </remarks>
public sealed class TrunkFlowPins
{
    public const int Ways = 4;

    private struct Slot
    {
        /// <summary>The flow hash; 0 = empty (a hash of 0 is stored as 1).</summary>
        public ulong Hash;
        public long LastSeen;
        public sbyte Member;
        /// <summary>Counted in its member's live flows.</summary>
        public bool Live;
    }

    private readonly Slot[] _slots;
    private readonly int _setMask;
    private readonly long _window;
    private readonly double _decayPerTick;
    private readonly double[] _load;
    private readonly int[] _flows;
    private long _lastDecay;
    private long _lastSweep;
    private bool _started;
    private long _assigned;
    private long _idleMoves;
    private long _failovers;
    private long _liveEvictions;

    public TrunkFlowPins(int members, TimeSpan reorderWindow, TimeSpan loadHalfLife, int slots)
    {
        if (slots < Ways || !int.IsPow2(slots)) throw new ArgumentOutOfRangeException(nameof(slots), "a power of two >= 4");
        _slots = new Slot[slots];
        _setMask = slots / Ways - 1;
        _window = (long)(reorderWindow.TotalSeconds * Stopwatch.Frequency);
        _decayPerTick = Math.Log(2) / (loadHalfLife.TotalSeconds * Stopwatch.Frequency);
        _load = new double[members];
        _flows = new int[members];
    }

    public TrunkFlowPins(int members, TrunkBalanceSettings settings)
        : this(members, settings.ReorderWindow, settings.LoadHalfLife, settings.FlowSlots)
    {
    }

    /// <summary>Flows given a member for the first time.</summary>
    public long Assigned => Interlocked.Read(ref _assigned);

    /// <summary>Flows that came back after an idle gap and went to another member.</summary>
    public long IdleMoves => Interlocked.Read(ref _idleMoves);

    /// <summary>Flows moved because their member left the active set.</summary>
    public long Failovers => Interlocked.Read(ref _failovers);

    /// <summary>Live flows pushed out of a full set by a new one.</summary>
    public long LiveEvictions => Interlocked.Read(ref _liveEvictions);

    /// <summary>Live flows per member now (approximate between sweeps; tests and status).</summary>
    public int LiveFlows(int member) => Volatile.Read(ref _flows[member]);

    /// <summary>
    /// Once per batch: decays the members' loads to <paramref name="now"/>, and at most once per
    /// reordering window takes the flows idle longer than the window out of the live counts (a
    /// scan of the table: a few microseconds per window). So a flow that ended stops counting
    /// within two windows, even when no packet came in between (the first batch after a quiet
    /// spell sees the counts of the flows still running, not of those that ran before).
    /// </summary>
    public void BeginBatch(long now)
    {
        if (!_started)
        {
            _started = true;
            _lastDecay = _lastSweep = now;
        }

        long dt = now - _lastDecay;
        if (dt > 0)
        {
            double factor = Math.Exp(-dt * _decayPerTick);
            for (int m = 0; m < _load.Length; m++) _load[m] *= factor;
            _lastDecay = now;
        }

        if (now - _lastSweep > _window)
        {
            _lastSweep = now;
            for (int i = 0; i < _slots.Length; i++)
            {
                ref Slot s = ref _slots[i];
                if (s.Live && now - s.LastSeen > _window) Retire(ref s);
            }
        }
    }

    /// <summary>The member for a frame of <paramref name="length"/> bytes of flow <paramref name="hash"/>; <see cref="TrunkSelector.None"/> when no member is active.</summary>
    public int Assign(ulong hash, int length, TrunkSelector selector, long now)
    {
        if (selector.ActiveCount == 0) return TrunkSelector.None;
        if (hash == 0) hash = 1;
        int first = (int)(hash >> 24) & _setMask;
        ref Slot set0 = ref _slots[first * Ways];
        int victim = 0;
        long oldest = long.MaxValue;
        for (int w = 0; w < Ways; w++)
        {
            ref Slot s = ref Unsafe.Add(ref set0, w);
            if (s.Hash == hash)
            {
                bool idle = now - s.LastSeen > _window;
                bool active = s.Member >= 0 && selector.IsActive(s.Member);
                if (!idle && active)
                {
                    s.LastSeen = now;
                    if (!s.Live) Count(ref s);
                    _load[s.Member] += length;
                    return s.Member;
                }

                int before = s.Member;
                if (s.Live) Retire(ref s);
                s.Member = (sbyte)LeastLoaded(selector);
                if (!active) Interlocked.Increment(ref _failovers);
                else if (s.Member != before) Interlocked.Increment(ref _idleMoves);
                return Pin(ref s, now, length);
            }

            long seen = s.Hash == 0 ? long.MinValue : s.LastSeen;
            if (seen < oldest)
            {
                oldest = seen;
                victim = w;
            }
        }

        ref Slot v = ref Unsafe.Add(ref set0, victim);
        if (v.Live)
        {
            if (now - v.LastSeen <= _window) Interlocked.Increment(ref _liveEvictions);
            Retire(ref v);
        }

        v.Hash = hash;
        v.Member = (sbyte)LeastLoaded(selector);
        Interlocked.Increment(ref _assigned);
        return Pin(ref v, now, length);
    }

    private int Pin(ref Slot s, long now, int length)
    {
        s.LastSeen = now;
        Count(ref s);
        _load[s.Member] += length;
        return s.Member;
    }

    private void Count(ref Slot s)
    {
        s.Live = true;
        _flows[s.Member]++;
    }

    private void Retire(ref Slot s)
    {
        s.Live = false;
        _flows[s.Member]--;
    }

    /// <summary>The active member with the lowest (decayed bytes + live flows × mean bytes per flow) / weight; ties to the lower index.</summary>
    private int LeastLoaded(TrunkSelector selector)
    {
        double total = 0;
        long flows = 0;
        for (int m = 0; m < _load.Length; m++)
        {
            total += _load[m];
            flows += _flows[m];
        }

        double mean = Math.Max(flows == 0 ? 0 : total / flows, 1);
        int best = TrunkSelector.None;
        double bestScore = double.PositiveInfinity;
        for (int m = 0; m < _load.Length; m++)
        {
            if (!selector.IsActive(m)) continue;
            double score = (_load[m] + _flows[m] * mean) / selector.Members[m].Weight;
            if (score < bestScore)
            {
                bestScore = score;
                best = m;
            }
        }

        return best;
    }
}
