using System.Collections.Concurrent;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Text;

namespace Fabric.Actors.Pseudowire;

/// <summary>A trunk member as the selector sees it: a stable name (its identity in the hash) and a weight.</summary>
public readonly record struct TrunkMemberWeight(string Name, int Weight);

/// <summary>
/// Picks a trunk member for a flow hash through a lookup table of <see cref="BucketCount"/>
/// buckets, each owned by the ACTIVE member with the highest weighted rendezvous (HRW) score
/// for that bucket: <c>score = -weight / ln(u(bucket, member))</c>, <c>u</c> uniform in (0, 1)
/// from a fixed hash of the bucket and the member's name.
/// </summary>
/// <remarks>
/// <para>Why HRW: a bucket's owner is the argmax over the active set, so removing a member only
/// moves the buckets it owned (each to its runner-up), the others keep their owner; adding it
/// back makes it win exactly those buckets again (revertive, and minimal disruption both ways).
/// The table depends only on the member names, weights and the active set: every node and every
/// restart builds the same one, so no per-flow state is kept or synchronised.</para>
/// <para>Weights: with -w/ln(u) a member wins a bucket with probability w / sum(w). 65,536 buckets
/// keep the table's own deviation from the weights near 1 % for a 1/8 share.</para>
/// <para>The hot path is <see cref="Select"/>: one table load, no allocation. Building costs
/// buckets × members evaluations (a few ms for 4 members) and happens only on a transition.</para>
/// <para>Tables are immutable and shared: a table with no or one active member is the same for
/// every trunk (one per owner), and a table of two or more is shared by every selector with the
/// same members, weights and active set while any of them holds it (a node's main and ghost
/// copies of a trunk build the same tables: at 1,000 trunks that halved both the builds and
/// their memory).</para>
/// </remarks>
public sealed class TrunkSelector
{
    public const int BucketBits = 16;
    public const int BucketCount = 1 << BucketBits;

    /// <summary>Returned by <see cref="Select"/> when no member is active.</summary>
    public const int None = -1;

    private readonly sbyte[] _table;

    /// <summary>Tables where one owner (or none, index 0) has every bucket: built once each.</summary>
    private static readonly sbyte[]?[] Uniform = new sbyte[65][];

    /// <summary>Tables of two or more active members by <see cref="SharedKey"/>, held weakly.</summary>
    private static readonly ConcurrentDictionary<string, WeakReference<sbyte[]>> Shared = new(StringComparer.Ordinal);
    private static int _sweepAt = 1024;

    private TrunkSelector(IReadOnlyList<TrunkMemberWeight> members, ulong activeMask, sbyte[] table, int activeCount)
    {
        Members = members;
        ActiveMask = activeMask;
        _table = table;
        ActiveCount = activeCount;
    }

    public IReadOnlyList<TrunkMemberWeight> Members { get; }

    /// <summary>Bit i set = member i is active.</summary>
    public ulong ActiveMask { get; }

    public int ActiveCount { get; }

    public bool IsActive(int member) => (ActiveMask & (1UL << member)) != 0;

    /// <summary>Builds the table for <paramref name="members"/> (at most 64, order = member index) with the active set <paramref name="activeMask"/>.</summary>
    public static TrunkSelector Build(IReadOnlyList<TrunkMemberWeight> members, ulong activeMask)
    {
        ArgumentNullException.ThrowIfNull(members);
        if (members.Count is < 1 or > 64)
        {
            throw new ArgumentOutOfRangeException(nameof(members), "a trunk has 1..64 members");
        }

        var seeds = new ulong[members.Count];
        var weights = new double[members.Count];
        int active = 0;
        for (int m = 0; m < members.Count; m++)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(members[m].Weight, 1);
            seeds[m] = NameSeed(members[m].Name);
            weights[m] = members[m].Weight;
            if ((activeMask & (1UL << m)) != 0)
            {
                active++;
            }
        }

        sbyte[] table = active switch
        {
            0 => UniformTable(None),
            1 => UniformTable(BitOperations.TrailingZeroCount(activeMask)), // one member owns every bucket: no scores needed
            _ => SharedTable(members, activeMask, seeds, weights),
        };
        return new TrunkSelector(members, activeMask, table, active);
    }

    /// <summary>True when both selectors read one table (tests: tables are shared, not copied).</summary>
    internal bool SharesTableWith(TrunkSelector other) => ReferenceEquals(_table, other._table);

    private static sbyte[] UniformTable(int owner)
    {
        ref sbyte[]? slot = ref Uniform[owner + 1];
        if (Volatile.Read(ref slot) is { } built)
        {
            return built;
        }

        var table = new sbyte[BucketCount];
        Array.Fill(table, (sbyte)owner);
        return Interlocked.CompareExchange(ref slot, table, null) ?? table;
    }

    private static sbyte[] SharedTable(IReadOnlyList<TrunkMemberWeight> members, ulong activeMask, ulong[] seeds, double[] weights)
    {
        string key = SharedKey(members, activeMask);
        if (Shared.TryGetValue(key, out var held) && held.TryGetTarget(out var found))
        {
            return found;
        }

        var table = new sbyte[BucketCount];
        if (EqualWeights(weights, activeMask))
        {
            FillEqualWeights(table, seeds, activeMask);
        }
        else
        {
            FillWeighted(table, seeds, weights, activeMask);
        }

        // Two threads building the same table at once both get a correct one; the later is kept.
        Shared[key] = new WeakReference<sbyte[]>(table);
        if (Shared.Count > Volatile.Read(ref _sweepAt))
        {
            Sweep();
        }

        return table;
    }

    /// <summary>Forgets tables no selector holds any more, once the cache has doubled since the last sweep.</summary>
    private static void Sweep()
    {
        foreach (var (key, held) in Shared)
        {
            if (!held.TryGetTarget(out _))
            {
                Shared.TryRemove(new KeyValuePair<string, WeakReference<sbyte[]>>(key, held));
            }
        }

        Volatile.Write(ref _sweepAt, Math.Max(1024, Shared.Count * 2));
    }

    /// <summary>What a table depends on: the active set and each member's name and weight, in order (names length-prefixed).</summary>
    private static string SharedKey(IReadOnlyList<TrunkMemberWeight> members, ulong activeMask)
    {
        var key = new StringBuilder(16 + members.Count * 16);
        key.Append(activeMask.ToString("x", System.Globalization.CultureInfo.InvariantCulture));
        foreach (var m in members)
        {
            key.Append('/').Append(m.Name.Length).Append(':').Append(m.Name).Append('*').Append(m.Weight);
        }

        return key.ToString();
    }

    /// <summary>All members active.</summary>
    public static TrunkSelector Build(IReadOnlyList<TrunkMemberWeight> members) =>
        Build(members, members.Count == 64 ? ulong.MaxValue : (1UL << members.Count) - 1);

    /// <summary>The bucket of a flow hash: its top <see cref="BucketBits"/> bits (the low bits feed the UDP entropy port).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int BucketOf(ulong flowHash) => (int)(flowHash >> (64 - BucketBits));

    /// <summary>The member index carrying <paramref name="flowHash"/>, or <see cref="None"/> when none is active.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Select(ulong flowHash) => _table[BucketOf(flowHash)];

    /// <summary>Owner of bucket <paramref name="bucket"/> (tests, per-packet spraying).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int SelectBucket(int bucket) => _table[bucket & (BucketCount - 1)];

    /// <summary>How many buckets each member owns.</summary>
    public int[] BucketShares()
    {
        var shares = new int[Members.Count];
        foreach (sbyte owner in _table)
        {
            if (owner >= 0)
            {
                shares[owner]++;
            }
        }

        return shares;
    }

    /// <summary>A fixed 64-bit FNV-1a of the name: the same on every node and in every release.</summary>
    public static ulong NameSeed(string name)
    {
        ulong h = 0xcbf29ce484222325;
        foreach (char c in name)
        {
            h ^= c;
            h *= 0x100000001b3;
        }

        return Mix(h);
    }

    /// <summary>The table by weighted scores alone, with no shortcut (tests compare the shortcuts with it).</summary>
    internal static sbyte[] WeightedTable(IReadOnlyList<TrunkMemberWeight> members, ulong activeMask)
    {
        var table = new sbyte[BucketCount];
        FillWeighted(table, members.Select(m => NameSeed(m.Name)).ToArray(), members.Select(m => (double)m.Weight).ToArray(), activeMask);
        return table;
    }

    /// <summary>This selector's table (tests).</summary>
    internal ReadOnlySpan<sbyte> Table => _table;

    private static bool EqualWeights(double[] weights, ulong activeMask)
    {
        double first = double.NaN;
        for (int m = 0; m < weights.Length; m++)
        {
            if ((activeMask & (1UL << m)) == 0)
            {
                continue;
            }

            if (double.IsNaN(first))
            {
                first = weights[m];
            }
            else if (weights[m] != first)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Weighted rendezvous: each bucket goes to the active member with the highest
    /// <see cref="Score"/>. A build on a transition costs buckets x members logarithms.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // optimized at its first call: a node coming up builds thousands
    internal static void FillWeighted(sbyte[] table, ulong[] seeds, double[] weights, ulong activeMask)
    {
        for (int b = 0; b < table.Length; b++)
        {
            int best = None;
            double bestScore = double.NegativeInfinity;
            for (int m = 0; m < seeds.Length; m++)
            {
                if ((activeMask & (1UL << m)) == 0)
                {
                    continue;
                }

                double score = Score(seeds[m], b, weights[m]);
                if (score > bestScore)
                {
                    bestScore = score;
                    best = m;
                }
            }

            table[b] = (sbyte)best;
        }
    }

    /// <summary>
    /// The same table as <see cref="FillWeighted"/> when the active members' weights are equal:
    /// -w / ln(u) then grows with u, and u with the hash's top 53 bits, so comparing those bits
    /// picks the same member without a logarithm (a trunk of 1,000 coming up rebuilt its tables
    /// thousands of times; with logarithms that was most of a 500-PE-pair node's start).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FillEqualWeights(sbyte[] table, ulong[] seeds, ulong activeMask)
    {
        int b = 0;
        if (Vector.IsHardwareAccelerated)
        {
            // Several buckets at once (4 or 8 lanes): the same keys, compared the same way, so
            // the same table (a node of 1,000 trunks builds one per trunk as its PWs come up).
            int lanes = Vector<ulong>.Count;
            Span<ulong> owners = stackalloc ulong[lanes];
            for (int l = 0; l < lanes; l++)
            {
                owners[l] = (ulong)l;
            }

            var lane = new Vector<ulong>(owners);
            var golden = new Vector<ulong>(0x9e3779b97f4a7c15);
            for (; b + lanes <= table.Length; b += lanes)
            {
                var spread = (new Vector<ulong>((ulong)b) + lane) * golden;
                var bestKey = Vector<ulong>.Zero;
                var best = new Vector<ulong>(unchecked((ulong)None));
                bool any = false;
                for (int m = 0; m < seeds.Length; m++)
                {
                    if ((activeMask & (1UL << m)) == 0)
                    {
                        continue;
                    }

                    var key = Vector.ShiftRightLogical(Mix(new Vector<ulong>(seeds[m]) ^ spread), 11);
                    // The first active member takes every bucket, a later one only where it is strictly higher.
                    var wins = any ? Vector.GreaterThan(key, bestKey) : Vector<ulong>.AllBitsSet;
                    bestKey = Vector.ConditionalSelect(wins, key, bestKey);
                    best = Vector.ConditionalSelect(wins, new Vector<ulong>((ulong)m), best);
                    any = true;
                }

                best.CopyTo(owners);
                for (int l = 0; l < lanes; l++)
                {
                    table[b + l] = (sbyte)owners[l];
                }
            }
        }

        for (; b < table.Length; b++)
        {
            int best = None;
            ulong bestKey = 0;
            ulong spread = (ulong)b * 0x9e3779b97f4a7c15;
            for (int m = 0; m < seeds.Length; m++)
            {
                if ((activeMask & (1UL << m)) == 0)
                {
                    continue;
                }

                ulong key = Mix(seeds[m] ^ spread) >> 11;
                if (best == None || key > bestKey)
                {
                    bestKey = key;
                    best = m;
                }
            }

            table[b] = (sbyte)best;
        }
    }

    private static double Score(ulong seed, int bucket, double weight)
    {
        ulong x = Mix(seed ^ ((ulong)bucket * 0x9e3779b97f4a7c15));
        // 53 random bits -> u in (0, 1), never 0 so ln(u) < 0.
        double u = ((x >> 11) + 0.5) * (1.0 / (1UL << 53));
        return -weight / Math.Log(u);
    }

    /// <summary>splitmix64's finaliser.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] // seen not inlined into the optimized fills, and called at tier 0
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
        z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
        return z ^ (z >> 31);
    }

    /// <summary>splitmix64's finaliser on every lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<ulong> Mix(Vector<ulong> z)
    {
        z = (z ^ Vector.ShiftRightLogical(z, 30)) * new Vector<ulong>(0xbf58476d1ce4e5b9);
        z = (z ^ Vector.ShiftRightLogical(z, 27)) * new Vector<ulong>(0x94d049bb133111eb);
        return z ^ Vector.ShiftRightLogical(z, 31);
    }
}
