using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Tests.DataPlane.Wire;

public class VlanTaggingTests
{
    private static readonly byte[] Untagged = SimulatedPort.BuildUdpFrame(new TrafficProfile(), 5, 98);

    [Fact]
    public void Tagging_inserts_tpid_and_tci_after_the_macs_and_untagging_gives_the_same_frame_back()
    {
        var tagged = new byte[Untagged.Length + 4];
        Assert.True(VlanTagging.TryCopyTagged(Untagged, new VlanId(100), tagged, out int length));
        Assert.Equal(Untagged.Length + 4, length);
        Assert.Equal(Untagged[..12], tagged[..12]);
        Assert.Equal(new byte[] { 0x81, 0x00, 0x00, 100 }, tagged[12..16]);
        Assert.Equal(Untagged[12..], tagged[16..]);

        var back = new byte[Untagged.Length];
        Assert.True(VlanTagging.TryCopyUntagged(tagged, new VlanId(100), back, out int backLength));
        Assert.Equal(Untagged.Length, backLength);
        Assert.Equal(Untagged, back);
    }

    [Fact]
    public void Untagging_refuses_untagged_frames_another_vlan_truncated_frames_and_a_short_destination()
    {
        var tagged = new byte[Untagged.Length + 4];
        VlanTagging.TryCopyTagged(Untagged, new VlanId(200), tagged, out _);
        var room = new byte[2048];
        Assert.False(VlanTagging.TryCopyUntagged(Untagged, new VlanId(200), room, out _));
        Assert.False(VlanTagging.TryCopyUntagged(tagged, new VlanId(100), room, out _));
        Assert.False(VlanTagging.TryCopyUntagged(tagged.AsSpan(0, 15), new VlanId(200), room, out _));
        Assert.False(VlanTagging.TryCopyUntagged(tagged, new VlanId(200), room.AsSpan(0, 20), out _));
        Assert.False(VlanTagging.TryCopyTagged(Untagged, new VlanId(200), room.AsSpan(0, Untagged.Length), out _));
    }
}
