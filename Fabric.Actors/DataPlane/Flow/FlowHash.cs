using System.Runtime.CompilerServices;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.DataPlane.Flow;

/// <summary>
/// The 64-bit flow hash: the same value for the same key in every process, on every machine and
/// in every release (it picks PWs and underlay entropy ports on both ends of a fabric, and
/// buckets the sharded flow cache), so it uses fixed constants and never HashCode or a
/// per-process seed. Changing it is a wire-visible change: the known-answer tests lock it.
///
/// Construction (wyhash-style): the six key words are xored with fixed constants and multiplied
/// pairwise to 128 bits (three independent products, so they overlap in the pipeline); each
/// product's halves are folded together with its inputs ("protected" fold, so a zero factor
/// cannot erase the other word), and two more folds mix the three lanes. Every output bit
/// depends on every input bit, including the low bits, which is what bucket selection uses:
/// Linux's bonding layer3+4 hash (ports xor addresses, modulo n) is the cautionary tale, since
/// sequential ports then fill buckets in lockstep.
/// </summary>
public static class FlowHash
{
    // Fixed, arbitrary odd constants with mixed bit patterns (the wyhash v4 secrets and
    // the golden ratio), never to be changed.
    private const ulong K0 = 0xa0761d6478bd642f;
    private const ulong K1 = 0xe7037ed1a0b428db;
    private const ulong K2 = 0x8ebc6af09c88c6e3;
    private const ulong K3 = 0x589965cc75374cc3;
    private const ulong K4 = 0x1d8e4e27c47d124f;
    private const ulong K5 = 0x9e3779b97f4a7c15;
    private const ulong K6 = 0xd6e8feb86659fd93;

    /// <summary>Hashes every field of the key.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Compute(in FlowKey key) => Mix6(key.Word0, key.Word1, key.Word2, key.Word3, key.Word4, key.Word5);

    /// <summary>
    /// The same hash for both directions of a conversation: the ingress port is left out (a reply
    /// enters elsewhere), and the MAC pair and the (address, port) endpoint pair are put in a fixed
    /// order. For ICMP echo/timestamp, only the identifier is kept, since the request's and the
    /// reply's types differ.
    /// </summary>
    public static ulong ComputeSymmetric(in FlowKey key)
    {
        var canonical = key;
        canonical.IngressPort = 0;
        if (canonical.Source.CompareTo(canonical.Destination) > 0)
        {
            (canonical.Source, canonical.Destination) = (canonical.Destination, canonical.Source);
        }
        if (canonical.IpProtocol == IpProtocol.Icmp && (canonical.Flags & FlowKeyFlags.Ipv4) != 0)
        {
            // Type/code differ between request and reply; the identifier is the conversation.
            canonical.SourcePort = 0;
            if (canonical.SourceAddress.CompareTo(canonical.DestinationAddress) > 0)
            {
                (canonical.SourceAddress, canonical.DestinationAddress) = (canonical.DestinationAddress, canonical.SourceAddress);
            }
            return Compute(in canonical);
        }
        var a = ((ulong)canonical.SourceAddress.ToUInt32() << 16) | canonical.SourcePort;
        var b = ((ulong)canonical.DestinationAddress.ToUInt32() << 16) | canonical.DestinationPort;
        if (a > b)
        {
            (canonical.SourceAddress, canonical.DestinationAddress) = (canonical.DestinationAddress, canonical.SourceAddress);
            (canonical.SourcePort, canonical.DestinationPort) = (canonical.DestinationPort, canonical.SourcePort);
        }
        return Compute(in canonical);
    }

    /// <summary>Hashes a batch of keys into <paramref name="hashes"/> (same length).</summary>
    public static void ComputeBatch(ReadOnlySpan<FlowKey> keys, Span<ulong> hashes)
    {
        if (hashes.Length < keys.Length)
        {
            throw new ArgumentException("One hash per key", nameof(hashes));
        }
        for (var i = 0; i < keys.Length; i++)
        {
            hashes[i] = Compute(in keys[i]);
        }
    }

    /// <summary>
    /// Picks one of <paramref name="count"/> buckets (PWs of a trunk, cache shards) from a flow
    /// hash: Lemire's multiply-shift over the low 32 bits, fair for any count and without a
    /// division. <see cref="FlowTable{TValue}"/> takes its slots from the high bits, so a table
    /// holding one bucket's flows still spreads them.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Bucket(ulong hash, int count) =>
        (int)(((ulong)(uint)hash * (uint)count) >> 32);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Mix6(ulong w0, ulong w1, ulong w2, ulong w3, ulong w4, ulong w5)
    {
        var a = Fold(w0 ^ K0, w1 ^ K1);
        var b = Fold(w2 ^ K2, w3 ^ K3);
        var c = Fold(w4 ^ K4, w5 ^ K5);
        var h = Fold(a ^ K6, b ^ K1);
        return Fold(h ^ c, K5 ^ FlowKey.SizeInBytes);
    }

    /// <summary>128-bit product of x and y, halves xored with the inputs, then with each other.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Fold(ulong x, ulong y)
    {
        var high = Math.BigMul(x, y, out var low);
        return (low ^ x) ^ (high ^ y);
    }
}
