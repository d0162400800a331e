using System.Buffers.Binary;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Tests.DataPlane.Wire;

public class ChecksumTests
{
    [Fact]
    public void Sums_the_RFC_1071_example_to_ddf2()
    {
        // RFC 1071 §3: 0001 f203 f4f5 f6f7 sums to ddf2, so the checksum is 220d.
        var data = Convert.FromHexString("0001f203f4f5f6f7");
        Assert.Equal(0xDDF2, Checksum.Fold(Checksum.Sum(data)));
        Assert.Equal(0x220D, Checksum.Compute(data));
    }

    [Fact]
    public void Computes_the_well_known_IPv4_header_checksum_b861()
    {
        var header = Convert.FromHexString("450000730000400040110000c0a80001c0a800c7");
        Assert.Equal(0xB861, Checksum.Compute(header));
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(10), 0xB861);
        Assert.True(Checksum.IsValid(header));
    }

    [Fact]
    public void Pads_an_odd_trailing_byte_with_zero()
    {
        Assert.Equal(Checksum.Compute(new byte[] { 0x12, 0x34, 0x56, 0x00 }), Checksum.Compute(new byte[] { 0x12, 0x34, 0x56 }));
    }

    [Fact]
    public void Sums_in_pieces_split_at_even_offsets_like_in_one_go()
    {
        var random = new Random(1071);
        for (var n = 0; n < 200; n++)
        {
            var data = new byte[random.Next(1, 300)];
            random.NextBytes(data);
            var split = random.Next(0, data.Length / 2) * 2;
            var pieces = Checksum.Sum(data.AsSpan(split), Checksum.Sum(data.AsSpan(0, split)));
            Assert.Equal(Checksum.Compute(data), Checksum.Finish(pieces));
            Assert.Equal(ReferenceChecksum(data), Checksum.Compute(data));
        }
    }

    [Fact]
    public void Updates_incrementally_with_RFC_1624_eqn_3_including_its_negative_zero_example()
    {
        // RFC 1624 §4: m = 0x5555 -> 0x3285, HC = 0xDD2F; the right answer is 0x0000 (eqn. 2 gives 0xFFFF).
        Assert.Equal(0x0000, Checksum.Update(0xDD2F, 0x5555, 0x3285));
    }

    [Fact]
    public void Incremental_update_equals_recomputation_for_random_address_and_port_rewrites()
    {
        var random = new Random(1624);
        var header = new byte[20];
        for (var n = 0; n < 5000; n++)
        {
            random.NextBytes(header);
            header[10] = header[11] = 0;
            var before = Checksum.Compute(header);
            var oldAddress = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(12));
            var newAddress = (uint)random.Next() ^ ((uint)random.Next() << 1);
            BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(12), newAddress);
            var oldPort = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(2));
            var newPort = (ushort)random.Next(0, 65536);
            BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(2), newPort);

            var updated = Checksum.Update(Checksum.Update(before, oldAddress, newAddress), oldPort, newPort);

            BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(10), updated);
            Assert.True(Checksum.IsValid(header), $"iteration {n}");
        }
    }

    [Fact]
    public void Pseudo_header_sum_covers_addresses_protocol_and_length()
    {
        var pseudo = Convert.FromHexString("0a0000010a00000200110014");
        Assert.Equal(
            Checksum.Fold(Checksum.Sum(pseudo)),
            Checksum.Fold(Checksum.PseudoHeaderSum(Ipv4Address.Parse("10.0.0.1"), Ipv4Address.Parse("10.0.0.2"), IpProtocol.Udp, 20)));
    }

    [Fact]
    public void Sums_long_buffers_in_vector_blocks_like_word_by_word_at_any_length_and_alignment()
    {
        // The vector path (128 bytes and up) counts lane carries apart: all-0xFF data carries in
        // every lane of every block, random data sometimes, and the tails take the scalar path.
        var random = new Random(9293);
        var buffer = new byte[65536 + 64];
        foreach (var fill in new[] { "ones", "random", "zeros" })
        {
            for (var n = 0; n < 400; n++)
            {
                var length = n < 300 ? n + 100 : random.Next(1, 65536);
                var offset = random.Next(0, 32);
                var data = new byte[length];
                switch (fill)
                {
                    case "ones": Array.Fill(data, (byte)0xFF); break;
                    case "random": random.NextBytes(data); break;
                }

                data.CopyTo(buffer, offset);
                Assert.Equal(ReferenceChecksum(data), Checksum.Compute(buffer.AsSpan(offset, length)));
            }
        }
    }

    private static ushort ReferenceChecksum(byte[] data)
    {
        uint sum = 0;
        for (var i = 0; i < data.Length; i += 2)
        {
            sum += (uint)(data[i] << 8) | (i + 1 < data.Length ? data[i + 1] : 0u);
        }
        while (sum >> 16 != 0)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }
        return (ushort)~sum;
    }
}

public class DropReasonTests
{
    [Theory]
    [InlineData(DropReason.Truncated, true)]
    [InlineData(DropReason.BadChecksum, true)]
    [InlineData(DropReason.LabelStackTooDeep, true)]
    [InlineData(DropReason.None, false)]
    [InlineData(DropReason.UnknownEtherType, false)]
    [InlineData(DropReason.UnsupportedArpFormat, false)]
    [InlineData(DropReason.MissingMessageType, false)]
    public void Tells_malformed_bytes_from_traffic_we_do_not_handle(DropReason reason, bool malformed) =>
        Assert.Equal(malformed, reason.IsMalformed());
}
