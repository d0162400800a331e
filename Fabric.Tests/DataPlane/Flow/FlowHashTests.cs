using System.Numerics;
using System.Runtime.CompilerServices;
using Fabric.Actors.DataPlane.Flow;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Tests.DataPlane.Wire;

namespace Fabric.Tests.DataPlane.Flow;

public class FlowHashTests
{
    private static FlowKey Key(byte[] frame, ushort port = 1, uint tenant = 7)
    {
        Assert.True(FlowKeyExtractor.TryExtract(frame, port, tenant, out var key, out _));
        return key;
    }

    private static FlowKey TcpKey(ushort sourcePort, ushort destinationPort = 80, uint source = 0x0A000001, uint destination = 0x0A000002) => new()
    {
        Tenant = 7,
        IngressPort = 1,
        EtherType = EtherType.Ipv4,
        Source = MacAddress.Parse("52:54:00:12:34:56"),
        Destination = MacAddress.Parse("52:54:00:ab:cd:ef"),
        SourceAddress = new Ipv4Address(source),
        DestinationAddress = new Ipv4Address(destination),
        IpProtocol = IpProtocol.Tcp,
        SourcePort = sourcePort,
        DestinationPort = destinationPort,
        Flags = FlowKeyFlags.Ipv4 | FlowKeyFlags.Transport,
    };

    [Fact]
    public void Gives_the_locked_known_answers_so_every_process_and_machine_agrees()
    {
        // Computed once and hard-coded, and reproduced by flow_hash_reference.py: a change here
        // changes which PW and entropy port every flow gets, on both ends of the fabric.
        // Do not update these without a migration plan.
        Assert.Equal(0x0FF1F637FA3E218EUL, FlowHash.Compute(Key(WireFixtures.Tcp64)));
        Assert.Equal(0x062838597AF66391UL, FlowHash.Compute(default(FlowKey)));
        Assert.Equal(0x88519B19B3576D9EUL, FlowHash.ComputeSymmetric(Key(WireFixtures.Tcp64)));
    }

    [Fact]
    public void Equal_keys_hash_equal_and_any_field_changes_the_hash()
    {
        var key = Key(WireFixtures.Tcp64);
        Assert.Equal(FlowHash.Compute(key), FlowHash.Compute(Key(WireFixtures.Tcp64)));
        var other = key;
        other.Tenant = 8;
        Assert.NotEqual(FlowHash.Compute(key), FlowHash.Compute(other));
        other = key;
        other.IngressPort = 2;
        Assert.NotEqual(FlowHash.Compute(key), FlowHash.Compute(other));
        other = key;
        other.DestinationPort = 81;
        Assert.NotEqual(FlowHash.Compute(key), FlowHash.Compute(other));
    }

    [Fact]
    public void Symmetric_hash_is_the_same_for_both_directions_of_a_tcp_conversation()
    {
        var forward = TcpKey(43210);
        var reverse = forward;
        reverse.IngressPort = 9;
        (reverse.Source, reverse.Destination) = (forward.Destination, forward.Source);
        (reverse.SourceAddress, reverse.DestinationAddress) = (forward.DestinationAddress, forward.SourceAddress);
        (reverse.SourcePort, reverse.DestinationPort) = (forward.DestinationPort, forward.SourcePort);
        Assert.Equal(FlowHash.ComputeSymmetric(forward), FlowHash.ComputeSymmetric(reverse));
        Assert.NotEqual(FlowHash.Compute(forward), FlowHash.Compute(reverse));
        Assert.NotEqual(FlowHash.ComputeSymmetric(forward), FlowHash.ComputeSymmetric(TcpKey(43211)));
    }

    [Fact]
    public void Symmetric_hash_pairs_an_echo_request_with_its_reply()
    {
        var request = Key(WireFixtures.IcmpEchoRequest, port: 1);
        var reply = Key(WireFixtures.IcmpEchoReply, port: 2);
        Assert.Equal(FlowHash.ComputeSymmetric(request), FlowHash.ComputeSymmetric(reply));
    }

    [Theory]
    [InlineData(4)]
    [InlineData(8)]
    [InlineData(16)]
    public void Sequential_source_ports_fill_buckets_within_ten_percent_of_the_mean(int buckets)
    {
        // Linux bonding's layer3+4 lesson: the low bits of sequential ports are not random.
        const int flows = 1 << 16;
        var byLowBits = new int[buckets];
        var byModulo = new int[buckets];
        var byBucket = new int[buckets];
        var byHighBits = new int[buckets];
        var shift = 64 - BitOperations.Log2((uint)buckets);
        for (var port = 0; port < flows; port++)
        {
            var hash = FlowHash.Compute(TcpKey((ushort)port));
            byLowBits[hash & (ulong)(buckets - 1)]++;
            byModulo[hash % (ulong)buckets]++;
            byBucket[FlowHash.Bucket(hash, buckets)]++;
            byHighBits[hash >> shift]++;
        }
        var mean = flows / (double)buckets;
        foreach (var counts in new[] { byLowBits, byModulo, byBucket, byHighBits })
        {
            Assert.All(counts, c => Assert.InRange(c, mean * 0.9, mean * 1.1));
        }
    }

    [Theory]
    [InlineData(3)]
    [InlineData(5)]
    [InlineData(8)]
    public void Sequential_addresses_fill_buckets_within_ten_percent_of_the_mean(int buckets)
    {
        const int flows = 1 << 14;
        var counts = new int[buckets];
        for (var host = 0; host < flows; host++)
        {
            counts[FlowHash.Bucket(FlowHash.Compute(TcpKey(50000, source: 0x0A000000u + (uint)host)), buckets)]++;
        }
        var mean = flows / (double)buckets;
        Assert.All(counts, c => Assert.InRange(c, mean * 0.9, mean * 1.1));
    }

    [Fact]
    public void Flipping_any_input_bit_flips_each_output_bit_about_half_the_time()
    {
        var random = new Random(2024);
        const int samples = 300;
        var flips = new int[64];
        var trials = 0;
        for (var s = 0; s < samples; s++)
        {
            var key = TcpKey((ushort)random.Next(), (ushort)random.Next(), (uint)random.Next(), (uint)random.Next());
            key.Tenant = (uint)random.Next();
            var baseline = FlowHash.Compute(key);
            for (var bit = 0; bit < (FlowKey.SizeInBytes * 8) - 16; bit++) // the last 16 bits are reserved zero
            {
                var flipped = key;
                ref var word = ref Unsafe.Add(ref Unsafe.As<FlowKey, ulong>(ref flipped), bit / 64);
                word ^= 1UL << (bit % 64);
                var diff = baseline ^ FlowHash.Compute(flipped);
                for (var o = 0; o < 64; o++)
                {
                    flips[o] += (int)((diff >> o) & 1);
                }
                trials++;
            }
        }
        Assert.All(flips, f => Assert.InRange(f / (double)trials, 0.45, 0.55));
    }

    [Fact]
    public void Batch_hashing_matches_one_by_one()
    {
        var keys = Enumerable.Range(0, 100).Select(p => TcpKey((ushort)p)).ToArray();
        var hashes = new ulong[keys.Length];
        FlowHash.ComputeBatch(keys, hashes);
        Assert.Equal(keys.Select(k => FlowHash.Compute(k)), hashes);
    }
}
