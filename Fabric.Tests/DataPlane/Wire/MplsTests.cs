using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Tests.DataPlane.Wire;

public class MplsTests
{
    /// <summary>The MPLS bytes of the captured MPLS-in-UDP PW frame (after Ethernet, IPv4, UDP).</summary>
    private static byte[] PwMpls => WireFixtures.MplsInUdpPw.AsSpan(14 + 20 + 8).ToArray();

    [Fact]
    public void Walks_a_captured_two_entry_stack_to_bottom_of_stack()
    {
        Assert.True(MplsLabelStackView.TryParse(PwMpls, out var stack, out _));
        Assert.Equal(2, stack.Depth);
        Assert.Equal(new MplsLabelStackEntry(new MplsLabel(1000), 0, false, 255), stack.Top);
        Assert.Equal(new MplsLabelStackEntry(new MplsLabel(5000), 0, true, 0), stack.Bottom);
        Assert.Equal(stack.Top, stack[0]);
        Assert.Throws<ArgumentOutOfRangeException>(() => GetEntry(PwMpls, 2));
        Assert.Equal(8, stack.HeaderLength);
    }

    private static MplsLabelStackEntry GetEntry(byte[] bytes, int index)
    {
        MplsLabelStackView.TryParse(bytes, out var stack, out _);
        return stack[index];
    }

    [Fact]
    public void Encodes_label_traffic_class_bottom_and_ttl_as_RFC_3032_says()
    {
        var entry = new MplsLabelStackEntry(new MplsLabel(0xABCDE), 5, true, 64);
        Assert.Equal(0xABCDE_B40u, entry.Encoded);
        Assert.Equal(entry, MplsLabelStackEntry.FromEncoded(entry.Encoded));
    }

    [Fact]
    public void Emits_a_stack_with_bottom_of_stack_only_on_the_last_entry()
    {
        var entries = new[]
        {
            new MplsLabelStackEntry(new MplsLabel(16), 0, true, 64),
            new MplsLabelStackEntry(new MplsLabel(17), 0, true, 64),
            new MplsLabelStackEntry(new MplsLabel(18), 0, false, 64),
        };
        var bytes = new byte[12];
        Assert.Equal(12, MplsLabelStackEntry.EmitStack(bytes, entries));
        Assert.True(MplsLabelStackView.TryParse(bytes, out var stack, out _));
        Assert.Equal(3, stack.Depth);
        Assert.False(stack[0].BottomOfStack);
        Assert.False(stack[1].BottomOfStack);
        Assert.True(stack[2].BottomOfStack);
    }

    [Fact]
    public void Accepts_exactly_eight_entries_and_refuses_a_ninth()
    {
        var eight = new byte[8 * 4];
        for (var i = 0; i < 8; i++)
        {
            new MplsLabelStackEntry(new MplsLabel((uint)(100 + i)), 0, i == 7, 64).Emit(eight.AsSpan(i * 4));
        }
        Assert.True(MplsLabelStackView.TryParse(eight, out var stack, out _));
        Assert.Equal(8, stack.Depth);

        var nine = new byte[9 * 4];
        for (var i = 0; i < 9; i++)
        {
            new MplsLabelStackEntry(new MplsLabel((uint)(100 + i)), 0, i == 8, 64).Emit(nine.AsSpan(i * 4));
        }
        Assert.False(MplsLabelStackView.TryParse(nine, out _, out var reason));
        Assert.Equal(DropReason.LabelStackTooDeep, reason);
    }

    [Fact]
    public void Refuses_a_stack_that_ends_before_bottom_of_stack()
    {
        Assert.False(MplsLabelStackView.TryParse(PwMpls.AsSpan(0, 6), out _, out var reason));
        Assert.Equal(DropReason.Truncated, reason);
        Assert.False(MplsLabelStackView.TryParse(default, out _, out reason));
        Assert.Equal(DropReason.Truncated, reason);
    }

    [Fact]
    public void Labels_parse_format_and_know_the_reserved_range()
    {
        Assert.True(MplsLabel.TryParse("1048575", out var max));
        Assert.Equal(MplsLabel.MaxValue, max.Value);
        Assert.False(MplsLabel.TryParse("1048576", out _));
        Assert.True(MplsLabel.GenericAssociatedChannel.IsReserved);
        Assert.False(new MplsLabel(16).IsReserved);
        Assert.Equal("13", MplsLabel.GenericAssociatedChannel.ToString());
        Assert.Throws<ArgumentOutOfRangeException>(() => new MplsLabel(0x10_0000));
    }
}

public class PwControlWordTests
{
    [Fact]
    public void Parses_the_captured_data_control_word_with_its_sequence_number()
    {
        var cw = WireFixtures.MplsInUdpPw.AsSpan(14 + 20 + 8 + 8);
        Assert.True(PwControlWordView.TryParse(cw, out var word, out _));
        Assert.Equal(PwControlWordKind.Data, word.Kind);
        Assert.Equal(1, word.SequenceNumber);
        Assert.True(EthernetView.TryParse(word.Payload, out _, out _));
    }

    [Fact]
    public void Parses_the_captured_associated_channel_header_with_its_channel_type()
    {
        var ach = WireFixtures.MplsInUdpAch.AsSpan(14 + 20 + 8 + 4);
        Assert.True(PwControlWordRepr.TryParse(ach, out var repr, out _));
        Assert.Equal(PwControlWordRepr.AssociatedChannel(PwChannelType.Bfd), repr);
    }

    [Theory]
    [InlineData(PwControlWordKind.Data, "0000abcd")]
    [InlineData(PwControlWordKind.AssociatedChannel, "10000021")]
    public void Round_trips_both_kinds(PwControlWordKind kind, string hex)
    {
        var repr = kind == PwControlWordKind.Data ? PwControlWordRepr.Data(0xabcd) : PwControlWordRepr.AssociatedChannel(PwChannelType.Ipv4);
        var bytes = new byte[4];
        repr.Emit(bytes);
        Assert.Equal(Convert.FromHexString(hex), bytes);
        Assert.True(PwControlWordRepr.TryParse(bytes, out var parsed, out _));
        Assert.Equal(repr, parsed);
    }

    [Theory]
    [InlineData("45000000", DropReason.BadControlWord)] // an IPv4 header where a control word belongs
    [InlineData("11000007", DropReason.BadVersion)]     // ACH version 1
    [InlineData("000000", DropReason.Truncated)]
    public void Refuses_other_first_nibbles_ach_versions_and_short_buffers(string hex, DropReason expected)
    {
        Assert.False(PwControlWordView.TryParse(Convert.FromHexString(hex), out _, out var reason));
        Assert.Equal(expected, reason);
    }

    [Fact]
    public void Keeps_flags_fragmentation_and_length_bits()
    {
        Assert.True(PwControlWordView.TryParse(Convert.FromHexString("05c70009"), out var word, out _));
        Assert.Equal(5, word.Flags);
        Assert.Equal(3, word.Fragmentation);
        Assert.Equal(7, word.Length);
        Assert.Equal(9, word.SequenceNumber);
    }

    [Fact]
    public void Sequence_numbers_wrap_from_65535_to_1_skipping_zero()
    {
        Assert.Equal(1, PwSequence.Next(ushort.MaxValue));
        Assert.Equal(2, PwSequence.Next(1));
    }
}
