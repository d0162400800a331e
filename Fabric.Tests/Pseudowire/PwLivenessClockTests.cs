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

/// <summary>
/// Liveness under contention (issue 15): a stall of the clock threads themselves (as a GC pause,
/// CPU oversubscription or a VM steal causes) flaps nothing, and a PW that really stops hearing
/// its peer still goes down.
/// </summary>
[Collection("pw-traffic")]
public class PwLivenessStallTests
{
    [Fact]
    public async Task A_400_ms_stall_of_both_liveness_threads_flaps_no_session_and_a_real_loss_still_takes_the_pw_down()
    {
        using var a = PwUnderlay.Open(new Ipv4Address(127, 0, 0, 61), MplsInUdp.Port);
        using var b = PwUnderlay.Open(new Ipv4Address(127, 0, 0, 62), MplsInUdp.Port);
        PwLink Link(string name, uint local, uint remote, PwUnderlay to) =>
            new(new PwConfig(name, "pe", "pe-far", new MplsLabel(local), new MplsLabel(remote), true, false, 1, to.Local, "t"), TimeSpan.FromMilliseconds(20), 3);
        var (a1, b1) = (Link("a1", 31, 41, b), Link("b1", 41, 31, a));
        var transitions = new System.Collections.Concurrent.ConcurrentQueue<string>();
        a.Register(a1);
        b.Register(b1);
        a.Liveness.Add(a1, (from, to, _) => transitions.Enqueue($"a1 {from}->{to}"));
        b.Liveness.Add(b1, (from, to, _) => transitions.Enqueue($"b1 {from}->{to}"));
        await Eventually.Holds(() => a1.IsUp && b1.IsUp, TimeSpan.FromSeconds(10), "a1 and b1 up");
        await Task.Delay(300);
        int before = transitions.Count;

        // A second PW whose coming up makes each clock thread's own transition callback sleep
        // 400 ms: both threads stall for real (no hello sent, received or judged) while a1/b1's
        // detection time is 60 ms.
        var (a2, b2) = (Link("a2", 32, 42, b), Link("b2", 42, 32, a));
        int stalls = 0;
        void StallOnUp(BfdState to)
        {
            if (to == BfdState.Up && Interlocked.Increment(ref stalls) <= 2)
            {
                Thread.Sleep(400);
            }
        }

        a.Register(a2);
        b.Register(b2);
        a.Liveness.Add(a2, (_, to, _) => StallOnUp(to));
        b.Liveness.Add(b2, (_, to, _) => StallOnUp(to));
        await Eventually.Holds(() => Volatile.Read(ref stalls) >= 2 && a2.IsUp && b2.IsUp, TimeSpan.FromSeconds(10), "a2 and b2 up after both stalls");
        await Task.Delay(500);
        Assert.True(a.Liveness.StallMs >= 300 && b.Liveness.StallMs >= 300, $"stalls seen: a {a.Liveness.StallMs:F0} ms, b {b.Liveness.StallMs:F0} ms");
        Assert.Equal(before, transitions.Count);
        Assert.True(a1.IsUp && b1.IsUp);

        // A real loss: b stops hearing a1. b1 goes down on detection, and tells a1, which follows.
        b1.FaultDropReceive = true;
        await Eventually.Holds(() => !b1.IsUp && !a1.IsUp, TimeSpan.FromSeconds(5), "a1 and b1 down after the loss");
        Assert.Contains("b1 Up->Down", transitions);
    }
}
