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
    [Fact]
    public void Retagging_changes_only_the_vlan_id_keeping_priority_and_dei()
    {
        var tagged = new byte[Untagged.Length + 4];
        VlanTagging.TryCopyTagged(Untagged, new VlanId(100), tagged, out _);
        tagged[14] |= 0xB0; // priority 5, DEI set
        var retagged = new byte[tagged.Length];

        Assert.True(VlanTagging.TryCopyRetagged(tagged, new VlanId(4094), retagged, out int length));

        Assert.Equal(tagged.Length, length);
        Assert.Equal(new byte[] { 0x81, 0x00, 0xBF, 0xFE }, retagged[12..16]);
        Assert.Equal(tagged[16..], retagged[16..]);
        Assert.False(VlanTagging.TryCopyRetagged(Untagged, new VlanId(5), retagged, out _));
        Assert.False(VlanTagging.TryCopyRetagged(tagged, new VlanId(5), retagged.AsSpan(0, 20), out _));
    }

    [Fact]
    public void A_tagged_arp_reply_frame_is_padded_to_64_bytes_and_parses_back()
    {
        var reply = new ArpRepr(ArpOperation.Reply, MacAddress.Parse("02:00:00:00:11:02"), Ipv4Address.Parse("10.1.0.11"),
            MacAddress.Parse("02:00:00:00:11:01"), Ipv4Address.Parse("10.1.0.10"));
        var buffer = new byte[100];

        Assert.True(ArpFrame.TryEmit(reply, reply.SenderHardwareAddress, reply.TargetHardwareAddress, new VlanId(101), buffer, out int length));

        Assert.Equal(64, length);
        Assert.Equal(new byte[] { 0x81, 0x00, 0x00, 101, 0x08, 0x06 }, buffer[12..18]);
        Assert.True(ArpRepr.TryParse(buffer.AsSpan(18, length - 18), out var back, out _));
        Assert.Equal(reply, back);
        Assert.All(buffer[46..64], b => Assert.Equal(0, b));
        Assert.True(ArpFrame.TryEmit(reply, reply.SenderHardwareAddress, reply.TargetHardwareAddress, null, buffer, out length));
        Assert.Equal(60, length);
        Assert.False(ArpFrame.TryEmit(reply, reply.SenderHardwareAddress, reply.TargetHardwareAddress, null, buffer.AsSpan(0, 59), out _));
    }

    [Fact]
    public void A_simulated_port_with_a_vlan_in_its_profile_generates_tagged_frames()
    {
        using var port = new SimulatedPort("tagged", 1, new TrafficProfile { Vlan = new VlanId(321), TotalFrames = 4 });
        var batch = new PacketBatch(capacity: 8);

        Assert.Equal(4, port.ReceiveBatch(batch, 0));

        Assert.Equal(64, batch[0].Length);
        var back = new byte[64];
        Assert.True(VlanTagging.TryCopyUntagged(batch.Frame(0), new VlanId(321), back, out int length));
        Assert.Equal(60, length);
    }
}
