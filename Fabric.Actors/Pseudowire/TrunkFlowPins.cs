using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.Pseudowire;

/// <summary>A trunk's least-loaded settings, read once from <c>fabric.pseudowire.trunk</c> (hocon/fabric.conf).</summary>
public sealed record TrunkBalanceSettings(bool LeastLoaded, TimeSpan ReorderWindow, TimeSpan LoadHalfLife, int FlowSlots, TimeSpan ActiveWindow = default, long FlowBytes = 0)
{
    public static TrunkBalanceSettings Default { get; } = new(true, TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(100), 4096, TimeSpan.FromMilliseconds(20), 64 * 1024);

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
            section.GetInt("flow-slots", Default.FlowSlots),
            section.GetTimeSpan("active-window", Default.ActiveWindow),
            section.GetByteSize("flow-bytes") ?? Default.FlowBytes);
        if (settings.ReorderWindow <= TimeSpan.Zero) throw new ArgumentException("fabric.pseudowire.trunk.reorder-window must be > 0");
        if (settings.LoadHalfLife <= TimeSpan.Zero) throw new ArgumentException("fabric.pseudowire.trunk.load-half-life must be > 0");
        if (settings.ActiveWindow <= TimeSpan.Zero || settings.ActiveWindow > settings.ReorderWindow)
            throw new ArgumentException("fabric.pseudowire.trunk.active-window must be > 0 and <= reorder-window");
        if (settings.FlowBytes <= 0) throw new ArgumentException("fabric.pseudowire.trunk.flow-bytes must be > 0");
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
/// <para>Load of member m: the bytes its live flows sent, decayed with a half-life, plus its live
/// flows times the mean bytes per live flow (at least <c>flow-bytes</c>, 64 KiB), over its weight.
/// The flow term spreads a burst of new flows (all at next to zero bytes, as iperf3 -P 8 opens
/// them) one per member, members within half a flow of the least loaded taking them in turn; the
/// byte term steers new flows away from members carrying elephants. A flow that ends (idle past the window, evicted,
/// moved) takes its bytes out of its member's load: what ended flows sent says nothing of what a
/// member will carry. (Kept in, the last run's leftovers over the few flows live at the next
/// run's start outweighed the flow term: iperf3 -P 8 put 6 of its 8 streams on the member that
/// had carried least, and none on two others.) Bytes are kept scaled by a factor that grows with
/// time (<c>e^(λt)</c>, rescaled now and then), so decaying costs nothing per packet and a flow's
/// share can be taken out exactly.</para>
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
        /// <summary>While live: where its index is in the live list.</summary>
        public int LivePosition;
        /// <summary>The bytes it sent while live, scaled as the members' loads are (taken out of its member's load when it ends).</summary>
        public double Scaled;
        /// <summary>A TCP connection that sent FIN or RST: no longer counted, still pinned (its last ACKs follow the same member).</summary>
        public bool Ended;
    }

    private readonly Slot[] _slots;
    /// <summary>The indices of the live slots (the first <see cref="_liveCount"/>): the sweep looks at these, not at the whole table.</summary>
    private readonly int[] _liveSlots;
    private int _liveCount;
    private readonly int _setMask;
    private readonly long _window;
    /// <summary>A flow seen within this counts in its member's live flows and load; silent longer, it stays pinned (until <see cref="_window"/>) but no longer counts.</summary>
    private readonly long _active;
    private readonly double _decayPerTick;
    /// <summary>A live flow weighs at least this many bytes when new flows are placed; members closer than half of it take new flows in turn.</summary>
    private readonly double _flowBytes;
    /// <summary>The member after the last one given a new flow: near-equal members are taken in turn from here.</summary>
    private int _next;
    /// <summary>Per member: its live flows' bytes, each scaled by <c>e^(λ(t - _origin))</c> at the time sent.</summary>
    private readonly double[] _load;
    private readonly int[] _flows;
    /// <summary>Bytes sent now weigh this much in <see cref="_load"/> (<c>e^(λ(now - _origin))</c>): dividing by it gives decayed bytes.</summary>
    private double _scale = 1;
    private long _origin;
    private long _lastSweep;
    private bool _started;
    private long _assigned;
    private long _idleMoves;
    private long _failovers;
    private long _liveEvictions;

    /// <param name="activeWindow">Default: a fifth of <paramref name="reorderWindow"/>.</param>
    /// <param name="flowBytes">Default: <see cref="TrunkBalanceSettings.Default"/>'s (64 KiB).</param>
    public TrunkFlowPins(int members, TimeSpan reorderWindow, TimeSpan loadHalfLife, int slots, TimeSpan activeWindow = default, long flowBytes = 0)
    {
        if (slots < Ways || !int.IsPow2(slots)) throw new ArgumentOutOfRangeException(nameof(slots), "a power of two >= 4");
        _slots = new Slot[slots];
        _liveSlots = new int[slots];
        _setMask = slots / Ways - 1;
        _window = (long)(reorderWindow.TotalSeconds * Stopwatch.Frequency);
        _active = activeWindow > TimeSpan.Zero ? Math.Min(_window, (long)(activeWindow.TotalSeconds * Stopwatch.Frequency)) : _window / 5;
        _decayPerTick = Math.Log(2) / (loadHalfLife.TotalSeconds * Stopwatch.Frequency);
        _flowBytes = flowBytes > 0 ? flowBytes : TrunkBalanceSettings.Default.FlowBytes;
        _load = new double[members];
        _flows = new int[members];
    }

    public TrunkFlowPins(int members, TrunkBalanceSettings settings)
        : this(members, settings.ReorderWindow, settings.LoadHalfLife, settings.FlowSlots, settings.ActiveWindow, settings.FlowBytes)
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
    /// Once per batch: brings the load scale to <paramref name="now"/>, and at most once per active
    /// window takes the flows silent longer than it out of the live counts and their bytes out of
    /// the loads, looking at the live flows only (the whole table, 4096 slots and 160 KiB, scanned
    /// on a ping's path every other 10 ms was a cold walk through 40 pages after each wake-up). So
    /// a flow that ended stops counting within two active windows, even when no packet came in
    /// between, and a burst of new flows is placed around the flows still sending, not those that
    /// just stopped: a flow's
    /// end is often not seen in the direction that carries its data (iperf3's streams are reset
    /// by the receiver: run after run, the next run's streams came 60 ms after the last run's had
    /// stopped and were placed around them, 6 of 8 on one member). A silent flow stays pinned for
    /// the whole reordering window all the same.
    /// </summary>
    public void BeginBatch(long now)
    {
        if (!_started)
        {
            _started = true;
            _origin = _lastSweep = now;
        }

        _scale = Math.Exp((now - _origin) * _decayPerTick);
        if (_scale > 1e60)
        {
            Rescale(now); // every ~20 s at the default half-life: far from overflow, still exact enough
        }

        if (now - _lastSweep > _active)
        {
            _lastSweep = now;
            // Backwards: a retired slot's place is taken by the list's last, already looked at.
            for (int i = _liveCount - 1; i >= 0; i--)
            {
                ref Slot s = ref _slots[_liveSlots[i]];
                if (now - s.LastSeen > _active) Retire(ref s);
            }
        }
    }

    /// <summary>
    /// The member for a frame of <paramref name="length"/> bytes of flow <paramref name="hash"/>;
    /// <see cref="TrunkSelector.None"/> when no member is active. A TCP frame's <paramref name="flags"/>
    /// end its connection's count at a FIN or RST (its last packets stay on the member: nothing is
    /// reordered), so flows opened right after others closed are not placed around flows that are
    /// gone (iperf3 run after run: the next run's streams came within a window of the last one's
    /// FINs, and went where the last run's had not been); a SYN starts the count again.
    /// </summary>
    public int Assign(ulong hash, int length, TrunkSelector selector, long now, TcpFlags flags = TcpFlags.None)
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
                    if ((flags & (TcpFlags.Syn | TcpFlags.Ack)) == TcpFlags.Syn) s.Ended = false;
                    if (!s.Live && !s.Ended) Count(ref s);
                    Add(ref s, length);
                    End(ref s, flags);
                    return s.Member;
                }

                int before = s.Member;
                if (s.Live) Retire(ref s);
                s.Member = (sbyte)LeastLoaded(selector);
                if (!active) Interlocked.Increment(ref _failovers);
                else if (s.Member != before) Interlocked.Increment(ref _idleMoves);
                return Pin(ref s, now, length, flags);
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
        return Pin(ref v, now, length, flags);
    }

    private int Pin(ref Slot s, long now, int length, TcpFlags flags)
    {
        s.LastSeen = now;
        s.Ended = false;
        Count(ref s);
        Add(ref s, length);
        End(ref s, flags);
        return s.Member;
    }

    /// <summary>A FIN or RST: the connection stops counting (it stays pinned for what follows).</summary>
    private void End(ref Slot s, TcpFlags flags)
    {
        if ((flags & (TcpFlags.Fin | TcpFlags.Rst)) == 0) return;
        s.Ended = true;
        if (s.Live) Retire(ref s);
    }

    /// <summary>Bytes of a live flow weigh in its member's load (an ended connection's last packets do not).</summary>
    private void Add(ref Slot s, int length)
    {
        if (!s.Live) return;
        double scaled = length * _scale;
        s.Scaled += scaled;
        _load[s.Member] += scaled;
    }

    private void Count(ref Slot s)
    {
        s.Live = true;
        s.Scaled = 0;
        _flows[s.Member]++;
        s.LivePosition = _liveCount;
        _liveSlots[_liveCount++] = IndexOf(ref s);
    }

    /// <summary>The flow ended (idle, evicted, moving): it no longer counts, and its bytes leave its member's load.</summary>
    private void Retire(ref Slot s)
    {
        s.Live = false;
        _flows[s.Member]--;
        _load[s.Member] = Math.Max(0, _load[s.Member] - s.Scaled);
        s.Scaled = 0;
        int last = _liveSlots[--_liveCount];
        _liveSlots[s.LivePosition] = last;
        _slots[last].LivePosition = s.LivePosition;
    }

    private int IndexOf(ref Slot s) =>
        (int)(Unsafe.ByteOffset(ref MemoryMarshal.GetArrayDataReference(_slots), ref s) / Unsafe.SizeOf<Slot>());

    /// <summary>Flows counted as live now (the sum of <see cref="LiveFlows"/>; tests).</summary>
    public int LiveTotal => _liveCount;

    /// <summary>Moves the origin of the scale to <paramref name="now"/>: every stored value divided by the current scale.</summary>
    private void Rescale(long now)
    {
        double f = 1 / _scale;
        for (int m = 0; m < _load.Length; m++) _load[m] *= f;
        for (int i = 0; i < _slots.Length; i++) _slots[i].Scaled *= f;
        _origin = now;
        _scale = 1;
    }

    /// <summary>Member <paramref name="member"/>'s load in bytes now (its live flows' bytes, decayed; tests).</summary>
    public double LoadOf(int member) => _load[member] / _scale;

    /// <summary>
    /// The active member with the lowest (decayed bytes + live flows × mean bytes per flow) / weight,
    /// where a flow weighs at least <see cref="_flowBytes"/>; members within half of that of the
    /// lowest count as equal and are taken in turn. So bytes that are small beside a flow (a
    /// handshake, a control connection's few hundred bytes) do not outweigh one: iperf3 -P 8 opens
    /// its control connection a few milliseconds before its 8 streams, and weighed by bytes its
    /// member looked busier than members with a stream more, so one member got 3 streams and the
    /// control connection's member 1 (12.5 % of the bytes). Taken in turn, any 8 flows opened
    /// together land 2 on each of 4 members, whatever came before them.
    /// </summary>
    private int LeastLoaded(TrunkSelector selector)
    {
        double total = 0;
        long flows = 0;
        double maxWeight = 0;
        for (int m = 0; m < _load.Length; m++)
        {
            total += _load[m];
            flows += _flows[m];
            if (selector.IsActive(m)) maxWeight = Math.Max(maxWeight, selector.Members[m].Weight);
        }

        double floor = _flowBytes * _scale;
        double mean = Math.Max(flows == 0 ? 0 : total / flows, floor);
        double bestScore = double.PositiveInfinity;
        for (int m = 0; m < _load.Length; m++)
        {
            if (selector.IsActive(m)) bestScore = Math.Min(bestScore, Score(m, mean, selector));
        }

        if (double.IsPositiveInfinity(bestScore)) return TrunkSelector.None;
        double margin = floor / 2 / maxWeight;
        int count = _load.Length;
        for (int i = 0; i < count; i++)
        {
            int m = (_next + i) % count;
            if (!selector.IsActive(m) || Score(m, mean, selector) > bestScore + margin) continue;
            _next = (m + 1) % count;
            return m;
        }

        return TrunkSelector.None; // unreachable: the best member is within the margin of itself
    }

    private double Score(int member, double mean, TrunkSelector selector) =>
        (_load[member] + _flows[member] * mean) / selector.Members[member].Weight;
}
