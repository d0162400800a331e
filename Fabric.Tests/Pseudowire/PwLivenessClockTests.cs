using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Pseudowire;
using Fabric.Messages.Intent;
using Fabric.Tests.Support;
using Xunit;

namespace Fabric.Tests.Pseudowire;

/// <summary>Hellos have their own path: own thread, own sending socket, own receive socket (kernel-steered).</summary>
[Collection("pw-traffic")]
public class PwLivenessClockTests
{
    [Fact]
    public async Task Hellos_are_steered_to_their_own_socket_and_data_stays_on_the_data_socket_while_sessions_come_up()
    {
        var pool = new PacketBatchPool();
        using var a = PwUnderlay.Open(new Ipv4Address(127, 0, 0, 59), MplsInUdp.Port, pool);
        using var b = PwUnderlay.Open(new Ipv4Address(127, 0, 0, 60), MplsInUdp.Port, pool);
        Assert.True(a.Liveness.HasOwnSocket, "the kernel accepted the SO_REUSEPORT steering program");
        PwLink Link(string name, uint local, uint remote, PwUnderlay to, bool flowLabel) =>
            new(new PwConfig(name, "pe", "pe-far", new MplsLabel(local), new MplsLabel(remote), true, flowLabel, 1, to.Local, "t"), TimeSpan.FromMilliseconds(20), 3);
        // One PW with a flow label (two-label stack), one without (one label): both layouts steer.
        var links = new[] { (Link("a1", 11, 21, b, true), Link("b1", 21, 11, a, true)), (Link("a2", 12, 22, b, false), Link("b2", 22, 12, a, false)) };
        var transitions = 0;
        foreach (var (la, lb) in links)
        {
            a.Register(la);
            b.Register(lb);
            a.Liveness.Add(la, (_, _, _) => Interlocked.Increment(ref transitions));
            b.Liveness.Add(lb, (_, _, _) => Interlocked.Increment(ref transitions));
        }

        await Eventually.Holds(() => links.All(l => l.Item1.IsUp && l.Item2.IsUp), TimeSpan.FromSeconds(10), "all four sessions up");
        long dataBefore = a.Port.Counters.RxFrames;
        var forwarder = new TrunkForwarder("t", TrunkMode.PerFlow, [links[0].Item2, links[1].Item2], b,
            TrunkSelector.Build([new TrunkMemberWeight("b1", 1), new TrunkMemberWeight("b2", 1)])) { IsUp = true };
        var batch = pool.Rent();
        for (int f = 0; f < 100; f++)
        {
            batch.TryAppend(SimulatedPort.BuildUdpFrame(new TrafficProfile { Flows = 100 }, f, 64));
        }

        forwarder.Forward(batch);
        batch.Return();
        await Eventually.Holds(() => a.Port.Counters.RxFrames >= dataBefore + 100, TimeSpan.FromSeconds(10), "data arrives on the data socket");
        Assert.True(a.Liveness.HellosSteered > 0 && b.Liveness.HellosSteered > 0, "hellos arrive on the hello socket");
        Assert.Equal(0, a.Liveness.Strays);
        Assert.Equal(0, b.Liveness.Strays);
        Assert.Equal(100, links.Sum(l => l.Item1.RxFrames));
        Assert.True(transitions >= 4, $"{transitions} transitions reported");
    }
}
