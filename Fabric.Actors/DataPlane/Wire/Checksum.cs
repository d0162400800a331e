using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Fabric.Actors.DataPlane.Wire;

/// <summary>
/// The Internet checksum: the 16-bit one's complement of the one's complement sum of 16-bit words
/// (RFC 1071, https://www.rfc-editor.org/rfc/rfc1071), and its incremental update for rewrites
/// (RFC 1624, https://www.rfc-editor.org/rfc/rfc1624).
///
/// Partial sums are plain uints ("sum" below) that may be added together and are folded to
/// 16 bits by <see cref="Finish"/>. A buffer summed in pieces must be split at even offsets
/// (only the last piece may have an odd length), as in pseudo-header + header + payload.
/// </summary>
public static class Checksum
{
    /// <summary>Adds the big-endian 16-bit words of <paramref name="data"/> to <paramref name="sum"/>.</summary>
    public static uint Sum(ReadOnlySpan<byte> data, uint sum = 0)
    {
        // RFC 1071 §2(B): the sum is byte-order independent, so add native words and swap once.
        ref var start = ref MemoryMarshal.GetReference(data);
        var length = data.Length;
        var i = 0;
        ulong acc = length >= VectorThreshold ? SumVectors(ref start, length, ref i) : 0;
        for (; i + 8 <= length; i += 8)
        {
            var w = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, i));
            acc += (w & 0xFFFF_FFFF) + (w >> 32);
        }
        if (i + 4 <= length)
        {
            acc += Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref start, i));
            i += 4;
        }
        if (i + 2 <= length)
        {
            acc += Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref start, i));
            i += 2;
        }
        if (i < length)
        {
            // An odd trailing byte is the high byte of a word padded with zero.
            var last = Unsafe.Add(ref start, i);
            acc += BitConverter.IsLittleEndian ? last : (uint)last << 8;
        }
        var folded = Fold(acc);
        if (BitConverter.IsLittleEndian)
        {
            folded = BinaryPrimitives.ReverseEndianness(folded);
        }
        return sum + folded;
    }

    /// <summary>Shorter buffers (headers) are summed word by word.</summary>
    private const int VectorThreshold = 128;

    /// <summary>
    /// Adds whole vector blocks (32 bytes with AVX2, 16 on ARM64) from <paramref name="i"/> on as
    /// 32-bit lanes, counting each lane's carries apart (a lane that wrapped is now smaller than
    /// what was added) instead of widening: 2^32 is 1 modulo 0xFFFF, so a carry is worth 1 in the
    /// one's complement sum, as an end-around carry is (RFC 1071 §2(C)). Advances
    /// <paramref name="i"/> past the blocks summed.
    /// </summary>
    private static ulong SumVectors(ref byte start, int length, ref int i)
    {
        if (!Vector.IsHardwareAccelerated)
        {
            return 0;
        }

        var sum = Vector<uint>.Zero;
        var carries = Vector<uint>.Zero;
        for (; i + Vector<byte>.Count <= length; i += Vector<byte>.Count)
        {
            var v = Unsafe.ReadUnaligned<Vector<uint>>(ref Unsafe.Add(ref start, i));
            sum += v;
            carries -= Vector.LessThan(sum, v); // all ones (-1) where the lane wrapped
        }

        ulong total = 0;
        for (int lane = 0; lane < Vector<uint>.Count; lane++)
        {
            total += (ulong)sum[lane] + carries[lane];
        }

        return total;
    }

    /// <summary>Folds a partial sum to 16 bits and complements it: the value to put on the wire.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Finish(uint sum) => (ushort)~Fold(sum);

    /// <summary>The checksum of <paramref name="data"/> (with its checksum field zeroed first).</summary>
    public static ushort Compute(ReadOnlySpan<byte> data) => Finish(Sum(data));

    /// <summary>True when <paramref name="data"/>, checksum field included, sums to 0xFFFF.</summary>
    public static bool IsValid(ReadOnlySpan<byte> data) => Fold(Sum(data)) == 0xFFFF;

    /// <summary>
    /// The partial sum of the IPv4 pseudo-header that TCP and UDP checksums cover
    /// (RFC 793 §3.1, RFC 768): source, destination, zero, protocol, L4 length.
    /// </summary>
    public static uint PseudoHeaderSum(Ipv4Address source, Ipv4Address destination, IpProtocol protocol, int length)
    {
        var s = source.ToUInt32();
        var d = destination.ToUInt32();
        return (s >> 16) + (s & 0xFFFF) + (d >> 16) + (d & 0xFFFF) + (uint)protocol + (uint)(ushort)length;
    }

    /// <summary>
    /// RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m'): the checksum after one 16-bit word of the covered
    /// data changed from <paramref name="oldWord"/> to <paramref name="newWord"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Update(ushort checksum, ushort oldWord, ushort newWord)
    {
        uint sum = (ushort)~checksum;
        sum += (ushort)~oldWord;
        sum += newWord;
        return (ushort)~Fold(sum);
    }

    /// <summary>RFC 1624 eqn. 3 for a 32-bit field (an IPv4 address: two words at once).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Update(ushort checksum, uint oldValue, uint newValue)
    {
        uint sum = (ushort)~checksum;
        sum += (ushort)~(oldValue >> 16);
        sum += (ushort)~oldValue;
        sum += newValue >> 16;
        sum += newValue & 0xFFFF;
        return (ushort)~Fold(sum);
    }

    /// <summary>Folds carries back into 16 bits (RFC 1071 §4.1 "fold 32-bit sum to 16 bits").</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Fold(uint sum)
    {
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ushort Fold(ulong sum)
    {
        sum = (sum & 0xFFFF_FFFF) + (sum >> 32);
        sum = (sum & 0xFFFF_FFFF) + (sum >> 32);
        return Fold((uint)sum + (uint)(sum >> 32));
    }
}

/// <summary>
/// Source and destination NAT on an IPv4 datagram in place, every checksum kept valid by
/// incremental update (RFC 1624) instead of a recomputation over the payload: the IPv4 header
/// checksum, and the TCP/UDP checksum whose pseudo-header holds the address. For ICMP echo and
/// timestamp messages the "port" is the identifier (as in the flow key), whose checksum does not
/// cover addresses. Later fragments carry no L4 header: only their address changes.
/// </summary>
public static class NatRewrite
{
    /// <summary>Rewrites the source address and, if given, the source port (ICMP: identifier).</summary>
    public static bool TryRewriteSource(Span<byte> datagram, Ipv4Address address, ushort? port, out DropReason reason) =>
        TryRewrite(datagram, source: true, address, port, out reason);

    /// <summary>Rewrites the destination address and, if given, the destination port (ICMP: identifier).</summary>
    public static bool TryRewriteDestination(Span<byte> datagram, Ipv4Address address, ushort? port, out DropReason reason) =>
        TryRewrite(datagram, source: false, address, port, out reason);

    private static bool TryRewrite(Span<byte> datagram, bool source, Ipv4Address address, ushort? port, out DropReason reason)
    {
        if (!Ipv4View.TryParse(datagram, out var ip, out reason))
        {
            return false;
        }
        var protocol = ip.Protocol;
        var l4 = datagram[ip.HeaderLength..ip.Bytes.Length];
        var hasL4 = !ip.IsLaterFragment;
        var old = source ? ip.Source : ip.Destination;

        // Check the L4 header before touching anything, so a refusal leaves the datagram as it was.
        if (hasL4 && !HasL4Header(protocol, l4, out reason))
        {
            return false;
        }

        var writer = new Ipv4Writer(datagram);
        if (source)
        {
            writer.RewriteSource(address);
        }
        else
        {
            writer.RewriteDestination(address);
        }
        if (!hasL4)
        {
            return true;
        }
        switch (protocol)
        {
            case IpProtocol.Tcp:
                var tcp = new TcpWriter(l4);
                tcp.UpdateForAddressChange(old, address);
                if (port is { } tcpPort)
                {
                    if (source) { tcp.RewriteSourcePort(tcpPort); } else { tcp.RewriteDestinationPort(tcpPort); }
                }
                break;
            case IpProtocol.Udp:
                var udp = new UdpWriter(l4);
                udp.UpdateForAddressChange(old, address);
                if (port is { } udpPort)
                {
                    if (source) { udp.RewriteSourcePort(udpPort); } else { udp.RewriteDestinationPort(udpPort); }
                }
                break;
            case IpProtocol.Icmp when port is { } identifier && ((Icmpv4Type)l4[Icmpv4Layout.Type]).HasIdentifier():
                var oldIdentifier = BinaryPrimitives.ReadUInt16BigEndian(l4[Icmpv4Layout.Identifier..]);
                var checksum = BinaryPrimitives.ReadUInt16BigEndian(l4[Icmpv4Layout.Checksum..]);
                BinaryPrimitives.WriteUInt16BigEndian(l4[Icmpv4Layout.Checksum..], Checksum.Update(checksum, oldIdentifier, identifier));
                BinaryPrimitives.WriteUInt16BigEndian(l4[Icmpv4Layout.Identifier..], identifier);
                break;
        }
        return true;
    }

    private static bool HasL4Header(IpProtocol protocol, ReadOnlySpan<byte> l4, out DropReason reason)
    {
        reason = DropReason.None;
        switch (protocol)
        {
            case IpProtocol.Tcp:
                return TcpView.TryParse(l4, out _, out reason);
            case IpProtocol.Icmp:
                return Icmpv4View.TryParse(l4, out _, out reason);
            case IpProtocol.Udp when l4.Length < UdpLayout.HeaderLength:
                // Not UdpView.TryParse: in a first fragment the UDP length exceeds the fragment.
                reason = DropReason.Truncated;
                return false;
            default:
                return true;
        }
    }
}
