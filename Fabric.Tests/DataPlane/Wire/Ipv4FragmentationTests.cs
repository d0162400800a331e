using Fabric.Actors.DataPlane.Wire;
using PacketDotNet;
using PacketDotNet.Utils;

namespace Fabric.Tests.DataPlane.Wire;

/// <summary>RFC 791 fragmentation, each fragment read back by PacketDotNet.</summary>
public class Ipv4FragmentationTests
{
    private static readonly Ipv4Address Src = Ipv4Address.Parse("10.0.0.10");
    private static readonly Ipv4Address Dst = Ipv4Address.Parse("203.0.113.80");

    /// <summary>A UDP datagram (no link header) with <paramref name="options"/> in its header and the given flags word.</summary>
    private static byte[] Datagram(int payloadLength, byte[] options, ushort fragmentWord = 0)
    {
        var headerLength = 20 + ((options.Length + 3) & ~3);
        var bytes = new byte[headerLength + payloadLength];
        new Ipv4Repr(Src, Dst, IpProtocol.Udp, payloadLength) { Identification = 0xBEEF }.Emit(bytes.AsSpan(0, 20 + payloadLength));
        var header = bytes.AsSpan(0, 20).ToArray();
        Array.Clear(bytes);
        header.CopyTo(bytes, 0);
        options.CopyTo(bytes, 20);
        for (var i = headerLength; i < bytes.Length; i++) bytes[i] = (byte)(i * 13 + 1);
        var w = new Ipv4Writer(bytes);
        w.HeaderLength = headerLength;
        w.TotalLength = (ushort)bytes.Length;
        w.FlagsAndFragmentOffset = fragmentWord;
        w.FillChecksum();
        return bytes;
    }

    private static List<byte[]> Cut(byte[] datagram, int mtu)
    {
        Assert.True(Ipv4View.TryParse(datagram, out var view, out _));
        Assert.True(Ipv4Fragmenter.TryCreate(view, mtu, out var fragmenter));
        var expected = fragmenter.Count;
        var list = new List<byte[]>();
        var room = new byte[mtu];
        while (fragmenter.TryWriteNext(room, out var length)) list.Add(room[..length]);
        Assert.Equal(expected, list.Count);
        return list;
    }

    private static IPv4Packet Parse(byte[] fragment) => new(new ByteArraySegment(fragment));

    // Loose source route (type 131: copied flag set) and record route (type 7: not copied), 7 bytes each.
    private static readonly byte[] Lsrr = [0x83, 7, 4, 192, 0, 2, 1];
    private static readonly byte[] RecordRoute = [0x07, 7, 4, 0, 0, 0, 0];

    [Fact]
    public void A_datagram_is_cut_into_fragments_of_multiples_of_8_that_fit_and_reassemble()
    {
        var datagram = Datagram(3000, []);
        var fragments = Cut(datagram, 1400);
        Assert.Equal(3, fragments.Count); // 1376 + 1376 + 248
        var payload = new byte[3000];
        for (var k = 0; k < fragments.Count; k++)
        {
            var ip = Parse(fragments[k]);
            Assert.True(ip.ValidIPChecksum, $"fragment {k}");
            Assert.True(ip.TotalLength <= 1400);
            Assert.Equal(0xBEEF, ip.Id);
            Assert.Equal(k < 2 ? 1 : 0, ip.FragmentFlags & 1); // MF
            Assert.Equal(0, ip.FragmentFlags & 2);              // DF stays clear
            Assert.Equal(k * 1376 / 8, ip.FragmentOffset);
            var data = fragments[k].AsSpan(20);
            Assert.True(k == 2 || data.Length == 1376);
            data.CopyTo(payload.AsSpan(ip.FragmentOffset * 8));
        }
        Assert.Equal(datagram.AsSpan(20).ToArray(), payload);
    }

    [Fact]
    public void Only_options_with_the_copied_flag_go_into_later_fragments_padded_to_4_bytes()
    {
        var datagram = Datagram(1000, [.. Lsrr, .. RecordRoute]); // header 20 + 14 -> 36
        var fragments = Cut(datagram, 576);
        var first = Parse(fragments[0]);
        Assert.Equal(9, first.HeaderLength);
        Assert.Equal(datagram.AsSpan(20, 16).ToArray(), fragments[0].AsSpan(20, 16).ToArray());
        var payload = new List<byte>(fragments[0].AsSpan(36).ToArray());
        for (var k = 1; k < fragments.Count; k++)
        {
            var ip = Parse(fragments[k]);
            Assert.True(ip.ValidIPChecksum, $"fragment {k}");
            Assert.Equal(7, ip.HeaderLength); // 20 + LSRR (7) + 1 byte of End of Option List
            Assert.Equal([.. Lsrr, 0], fragments[k].AsSpan(20, 8).ToArray());
            Assert.Equal(payload.Count / 8, ip.FragmentOffset);
            payload.AddRange(fragments[k].AsSpan(28).ToArray());
        }
        Assert.Equal(datagram.AsSpan(36).ToArray(), payload.ToArray());
    }

    [Fact]
    public void A_fragment_cut_again_keeps_its_offset_and_a_middle_fragment_keeps_more_fragments_on_its_last_piece()
    {
        // A middle fragment (offset 800 bytes, MF set) of 2000 bytes.
        var fragments = Cut(Datagram(2000, [], fragmentWord: (ushort)(Ipv4Layout.MoreFragmentsFlag | 100)), 1000);
        Assert.Equal(3, fragments.Count); // 976 + 976 + 48
        Assert.Equal([100, 100 + 122, 100 + 244], fragments.Select(f => Parse(f).FragmentOffset));
        Assert.All(fragments, f => Assert.Equal(1, Parse(f).FragmentFlags & 1));

        // The last fragment of a datagram: its last piece has MF clear.
        var last = Cut(Datagram(2000, [], fragmentWord: 100), 1000);
        Assert.Equal([1, 1, 0], last.Select(f => Parse(f).FragmentFlags & 1));
    }

    [Fact]
    public void An_mtu_that_cannot_carry_the_header_and_8_bytes_is_refused()
    {
        var datagram = Datagram(100, [.. Lsrr, .. RecordRoute]);
        Assert.True(Ipv4View.TryParse(datagram, out var view, out _));
        Assert.False(Ipv4Fragmenter.TryCreate(view, 43, out _));
        Assert.True(Ipv4Fragmenter.TryCreate(view, 68, out _));
    }

    [Fact]
    public void A_link_header_given_at_creation_leads_every_fragment()
    {
        var datagram = Datagram(2000, []);
        byte[] ethernet = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x08, 0x00];
        Assert.True(Ipv4View.TryParse(datagram, out var view, out _));
        Assert.True(Ipv4Fragmenter.TryCreate(view, 1500, out var fragmenter, ethernet));
        var room = new byte[14 + 1500];
        var lengths = new List<int>();
        while (fragmenter.TryWriteNext(room, out var length))
        {
            Assert.Equal(ethernet, room[..14]);
            var ip = new EthernetPacket(new ByteArraySegment(room[..length])).PayloadPacket as IPv4Packet;
            Assert.NotNull(ip);
            Assert.True(ip!.ValidIPChecksum);
            lengths.Add(length);
        }
        Assert.Equal([14 + 1500, 14 + 20 + 2000 - 1480], lengths);
    }
}
