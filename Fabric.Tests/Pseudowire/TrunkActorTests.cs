using System.Net;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Pseudowire;
using Fabric.Messages.Intent;
using Fabric.Tests.Support;
using Xunit;

namespace Fabric.Tests.Pseudowire;

/// <summary>
/// Two trunks facing each other over real loopback UDP sockets (ephemeral ports), each with two
/// PWs: the trunk actors bring members into the selector as hellos come up, take a member out
/// when its hellos are dropped, go down below MinActive, and revert when the member returns.
/// </summary>
public class TrunkActorTests() : TestKit("akka.loglevel = WARNING")
{
    private sealed class Side : IDisposable
    {
        public required PseudowireNode Node { get; init; }
        public required PwUnderlay Underlay { get; init; }
        public required AttachmentCircuit Ac { get; init; }
        public void Dispose() { Ac.Dispose(); Underlay.Dispose(); }
    }

    private static Side Open(PseudowireNode node)
    {
        var underlay = PwUnderlay.Open(new Ipv4Address(127, 0, 0, 1), 0, node.Pool);
        return new Side { Node = node, Underlay = underlay, Ac = new AttachmentCircuit("ce", new SimulatedPort("ce", 1, new TrafficProfile { FramesPerSecond = 1e-9 }), node.Pool) };
    }

    private static PwConfig Pw(string name, string trunk, uint local, uint remote, PwUnderlay to) =>
        new(name, "pe", "pe-far", new MplsLabel(local), new MplsLabel(remote), true, true, 1, to.Local, trunk);

    [Fact]
    public async Task Members_join_as_hellos_come_up_leave_when_dropped_and_the_trunk_follows_min_active()
    {
        using var a = Open(new PseudowireNode(0));
        using var b = Open(new PseudowireNode(0));
        var trunkA = new TrunkIntent("trunk-a", "pe-a", "ce", ["pw-a1", "pw-a2"], MinActive: 2, HelloIntervalMs: 20, Multiplier: 3);
        var trunkB = new TrunkIntent("trunk-b", "pe-b", "ce", ["pw-b1", "pw-b2"], MinActive: 1, HelloIntervalMs: 20, Multiplier: 3);
        Sys.ActorOf(TrunkActor.Props(trunkA, [Pw("pw-a1", "trunk-a", 101, 201, b.Underlay), Pw("pw-a2", "trunk-a", 102, 202, b.Underlay)], a.Ac, a.Underlay, a.Node), "trunk-a");
        Sys.ActorOf(TrunkActor.Props(trunkB, [Pw("pw-b1", "trunk-b", 201, 101, a.Underlay), Pw("pw-b2", "trunk-b", 202, 102, a.Underlay)], b.Ac, b.Underlay, b.Node), "trunk-b");

        var timeout = TimeSpan.FromSeconds(15);
        await Eventually.Holds(() => a.Node.TrunkStatus("trunk-a") is { State: "up", Active: 2 }, timeout, "trunk-a up with 2 members");
        await Eventually.Holds(() => b.Node.TrunkStatus("trunk-b") is { State: "up", Active: 2 }, timeout, "trunk-b up with 2 members");
        var before = a.Node.Trunks["trunk-a"].Forwarder.Selector;

        // Break pw-b1's receive path: b1 misses hellos, tells a1 it is down; both ends drop the member.
        b.Node.Pws["pw-b1"].FaultDropReceive = true;
        await Eventually.Holds(() => a.Node.TrunkStatus("trunk-a") is { Active: 1, State: "down" }, timeout, "trunk-a below min active");
        await Eventually.Holds(() => b.Node.TrunkStatus("trunk-b") is { Active: 1, State: "up" }, timeout, "trunk-b on one member");
        var degraded = a.Node.Trunks["trunk-a"].Forwarder.Selector;
        Assert.False(degraded.IsActive(0));
        for (int bucket = 0; bucket < TrunkSelector.BucketCount; bucket++)
        {
            Assert.Equal(1, degraded.SelectBucket(bucket));
        }

        b.Node.Pws["pw-b1"].FaultDropReceive = false;
        await Eventually.Holds(() => a.Node.TrunkStatus("trunk-a") is { Active: 2, State: "up" }, timeout, "trunk-a back up");
        var after = a.Node.Trunks["trunk-a"].Forwarder.Selector;
        for (int bucket = 0; bucket < TrunkSelector.BucketCount; bucket++)
        {
            Assert.Equal(before.SelectBucket(bucket), after.SelectBucket(bucket)); // revertive
        }

        var status = a.Node.TrunkStatus("trunk-a")!;
        Assert.Equal(3, status.Transitions); // up, down, up
        Assert.True(status.MemberTransitions >= 4);
    }
}
