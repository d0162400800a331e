using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Tests.DataPlane.Wire;

public class VlanTests
{
    [Fact]
    public void Parses_a_captured_802_1Q_tag()
    {
        Assert.True(EthernetView.TryParse(WireFixtures.VlanUdp, out var frame, out _));
        Assert.Equal(EtherType.Vlan, frame.EtherType);
        Assert.True(frame.EtherType.IsVlanTag());
        Assert.True(VlanTagView.TryParse(frame.Payload, out var tag, out _));
        Assert.Equal(new VlanId(100), tag.VlanId);
        Assert.Equal(5, tag.Priority);
        Assert.False(tag.DropEligible);
        Assert.Equal(EtherType.Ipv4, tag.EtherType);
        Assert.True(Ipv4View.TryParse(tag.Payload, out _, out _));
    }

    [Fact]
    public void Walks_a_captured_QinQ_stack_outer_service_tag_first()
    {
        Assert.True(EthernetView.TryParse(WireFixtures.QinQUdp, out var frame, out _));
        Assert.Equal(EtherType.QinQ, frame.EtherType);
        Assert.True(VlanTagView.TryParse(frame.Payload, out var outer, out _));
        Assert.Equal(new VlanId(200), outer.VlanId);
        Assert.Equal(EtherType.Vlan, outer.EtherType);
        Assert.True(VlanTagView.TryParse(outer.Payload, out var inner, out _));
        Assert.Equal(new VlanId(100), inner.VlanId);
        Assert.Equal(3, inner.Priority);
        Assert.Equal(EtherType.Ipv4, inner.EtherType);
    }

    [Fact]
    public void Round_trips_a_tag_with_priority_and_drop_eligibility()
    {
        var repr = new VlanTagRepr(new VlanId(4094), EtherType.Arp, Priority: 7, DropEligible: true);
        var bytes = new byte[repr.BufferLength];
        repr.Emit(bytes);
        Assert.Equal(Convert.FromHexString("FFFE0806"), bytes);
        Assert.True(VlanTagRepr.TryParse(bytes, out var parsed, out _));
        Assert.Equal(repr, parsed);
    }

    [Fact]
    public void Refuses_a_truncated_tag()
    {
        Assert.False(VlanTagView.TryParse(new byte[3], out _, out var reason));
        Assert.Equal(DropReason.Truncated, reason);
    }

    [Fact]
    public void Vlan_ids_parse_format_and_refuse_values_over_12_bits()
    {
        Assert.True(VlanId.TryParse("4095", out var id));
        Assert.Equal("4095", id.ToString());
        Assert.False(id.IsAssignable);
        Assert.False(VlanId.TryParse("4096", out _));
        Assert.False(VlanId.TryParse("-1", out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => new VlanId(4096));
        Assert.Equal(new VlanId(0x123), VlanId.FromTci(0xF123));
    }
}
