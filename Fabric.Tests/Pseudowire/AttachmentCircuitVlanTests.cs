using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Pseudowire;
using Fabric.Tests.Support;
using Xunit;

namespace Fabric.Tests.Pseudowire;

/// <summary>A VLAN attachment circuit: the tag comes back on the way to the CE; other frames of the port are not the circuit's.</summary>
public class AttachmentCircuitVlanTests
{
    private static readonly byte[] CeFrame = SimulatedPort.BuildUdpFrame(new TrafficProfile(), 3, 100);

    [Fact]
    public void Frames_from_the_pws_reach_the_port_tagged_with_the_circuits_vlan()
    {
        var seen = new List<byte[]>();
        using var sink = new SimulatedPort("ce", 1, sinkObserver: b => { for (int i = 0; i < b.Count; i++) seen.Add(b.Frame(i).ToArray()); });
        using var ac = new AttachmentCircuit("ce", sink, new PacketBatchPool(), new VlanId(200));
        ac.Deliver(CeFrame);
        ac.Deliver(CeFrame);
        ac.Flush();
        Assert.Equal(2, seen.Count);
        var back = new byte[CeFrame.Length];
        Assert.All(seen, f =>
        {
            Assert.Equal(CeFrame.Length + 4, f.Length);
            Assert.True(VlanTagging.TryCopyUntagged(f, new VlanId(200), back, out _));
            Assert.Equal(CeFrame, back);
        });
    }

    [Fact]
    public async Task Untagged_frames_of_the_port_are_dropped_and_counted_not_forwarded()
    {
        var generator = new SimulatedPort("ce", 1, new TrafficProfile { TotalFrames = 50, FramesPerSecond = 10_000 });
        using var ac = new AttachmentCircuit("ce", generator, new PacketBatchPool(), new VlanId(100));
        ac.Start();
        await Eventually.Holds(() => ac.OtherVlanDrops == 50, TimeSpan.FromSeconds(10), "all 50 untagged frames dropped as outside VLAN 100");
        Assert.Equal(0, ac.NoTrunkDrops); // none reached the (absent) trunk
    }
}
