using Fabric.Actors.DataPlane.Io;

namespace Fabric.Tests.DataPlane.Io;

public class PacketBatchTests
{
    [Fact]
    public void Frames_live_in_their_own_slot_after_the_headroom()
    {
        var batch = new PacketBatch(capacity: 4, slotSize: 256, headroom: 32);
        Assert.True(batch.TryAppend(new byte[] { 1, 2, 3 }, ingressPort: 7));
        Assert.True(batch.TryAppend(new byte[] { 4, 5 }));

        Assert.Equal(2, batch.Count);
        Assert.Equal(32, batch[0].Offset);
        Assert.Equal(256 + 32, batch[1].Offset);
        Assert.Equal((ushort)7, batch[0].IngressPort);
        Assert.Equal(new byte[] { 4, 5 }, batch.Frame(1).ToArray());
        Assert.Equal(5, batch.TotalBytes());
    }

    [Fact]
    public void A_full_batch_refuses_more_frames()
    {
        var batch = new PacketBatch(capacity: 2, slotSize: 128, headroom: 0);
        Assert.True(batch.TryAppend(new byte[10]));
        Assert.True(batch.TryAppend(new byte[10]));
        Assert.False(batch.TryAppend(new byte[10]));
        Assert.True(batch.IsFull);
        Assert.True(batch.NextFrameRoom().IsEmpty);
    }

    [Fact]
    public void A_frame_longer_than_a_slot_is_refused()
    {
        var batch = new PacketBatch(capacity: 2, slotSize: 128, headroom: 28);
        Assert.False(batch.TryAppend(new byte[101]));
        Assert.True(batch.TryAppend(new byte[100]));
    }

    [Fact]
    public void Pushing_a_header_uses_headroom_without_moving_the_frame()
    {
        var batch = new PacketBatch(capacity: 2, slotSize: 128, headroom: 16);
        batch.TryAppend(new byte[] { 0xAA, 0xBB });
        Span<byte> header = batch.PushHeader(0, 4);
        header.Fill(0x11);

        Assert.Equal(new byte[] { 0x11, 0x11, 0x11, 0x11, 0xAA, 0xBB }, batch.Frame(0).ToArray());
        batch.PullHeader(0, 4);
        Assert.Equal(new byte[] { 0xAA, 0xBB }, batch.Frame(0).ToArray());
        Assert.Throws<InvalidOperationException>(() => batch.PushHeader(0, 17));
    }

    [Fact]
    public void Metadata_is_reset_for_each_committed_frame()
    {
        var batch = new PacketBatch(capacity: 2, slotSize: 128, headroom: 0);
        batch.TryAppend(new byte[1]);
        batch[0].Tenant = 9;
        batch[0].IsGhost = true;
        batch.Clear();
        batch.TryAppend(new byte[1]);

        Assert.Equal(0u, batch[0].Tenant);
        Assert.False(batch[0].IsGhost);
    }

    [Fact]
    public void A_super_frame_takes_the_room_behind_the_slots_and_is_the_batch_s_last_frame()
    {
        var batch = new PacketBatch(capacity: 4, slotSize: 256, headroom: 32, superFrameRoom: 5000);
        Assert.True(batch.TryAppend(new byte[] { 1, 2, 3 }));
        Assert.True(batch.CanTakeSuperFrame);
        var room = batch.SuperFrameRoom();
        Assert.Equal(5000, room.Length);
        room[..4000].Fill(0xAB);
        ref var p = ref batch.CommitSuperFrame(4000, gsoSize: 1448, ingressPort: 9);
        Assert.Equal((ushort)1448, p.GsoSize);
        Assert.Equal(4 * 256 + 32, p.Offset);
        Assert.Equal(2, batch.Count);
        Assert.True(batch.IsFull); // nothing may follow it
        Assert.False(batch.CanTakeSuperFrame);
        Assert.False(batch.TryAppend(new byte[] { 4 }));
        Assert.True(batch.SuperFrameRoom().IsEmpty);
        Assert.Throws<InvalidOperationException>(() => batch.CommitSuperFrame(10, 1448));
        Assert.Equal(4000, batch.Frame(1).Length);
        Assert.All(batch.Frame(1).ToArray(), b => Assert.Equal(0xAB, b));
        Assert.Equal((ushort)0, batch[0].GsoSize);
        batch.PushHeader(1, 32); // its own headroom
        Assert.Throws<InvalidOperationException>(() => batch.PushHeader(1, 1));

        batch.Clear();
        Assert.False(batch.IsFull);
        Assert.True(batch.CanTakeSuperFrame);
        Assert.False(new PacketBatch(capacity: 4, slotSize: 256, headroom: 32).CanTakeSuperFrame); // no room made
    }
}
