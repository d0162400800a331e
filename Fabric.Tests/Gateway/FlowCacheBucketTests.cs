using Akka.TestKit.Xunit2;
using Fabric.Actors.DataPlane.Flow;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Gateway;
using Fabric.Actors.Gateway.Actors;
using Fabric.Actors.Gateway.Pipeline;
using static Fabric.Tests.Gateways.GatewayFixture;

namespace Fabric.Tests.Gateways;

/// <summary>
/// A flow-cache entity's state as a gateway on its node uses it to decide a miss on the receive
/// thread (direct mode): the same decision the entity makes by message, refused whenever the
/// entity could not decide (an older configuration, a restore pending, stopped), and the entity
/// woken once for its upkeep rather than once per decision.
/// </summary>
public class FlowCacheBucketTests() : TestKit("akka.loglevel = WARNING")
{
    private static FlowKey Key(GatewayPlan plan, byte[] frame)
    {
        var t = plan.Tenants[0];
        Assert.True(FlowKeyExtractor.TryExtract(frame, t.DownlinkPort, t.Vni, out var key, out _));
        return key;
    }

    private (FlowCacheBucket Bucket, GatewayDatapath Lender) Configured()
    {
        var dp = Datapath();
        var bucket = new FlowCacheBucket(TestActor)
        {
            Shard = new FlowCacheShard(0, 16, 0, lender: dp.Ledger, lastSeenElsewhere: true),
            Plan = dp.Plan,
            AwaitingRestore = false,
        };
        return (bucket, dp);
    }

    [Fact]
    public void A_miss_decided_here_is_the_decision_the_entity_makes_by_message()
    {
        var (bucket, dp) = Configured();
        var byMessage = new FlowCacheShard(0, 16, 0, lender: Datapath().Ledger, lastSeenElsewhere: true);
        byte[][] frames = [Tcp(Host, 6000, Server, 443, TcpFlags.Syn), Udp(Host, 5000, Server, 53), Tcp(Host, 6001, Server, 23, TcpFlags.Syn)];
        foreach (var f in frames)
        {
            var key = Key(dp.Plan, f);
            var flags = key.IpProtocol == IpProtocol.Tcp ? TcpFlags.Syn : TcpFlags.None;
            var tally = new uint[GatewayPipeline.MaxStages];
            Assert.True(bucket.TryDecide(key, flags, 64, fromUplink: false, dp.Plan.Generation, trace: false, 1, tally, out var here, out _, out var generation));
            Assert.Equal(dp.Plan.Generation, generation);
            var sent = FlowResolver.Resolve(byMessage, dp.Plan, new Fabric.Messages.Gateway.FlowMiss(GatewayDatapath.KeyBytes(key), (byte)flags, 64, false), 1, trace: false);
            var expected = GatewayDatapath.AnswerOf(sent);
            expected.TallyCount = here.TallyCount;
            Assert.Equal(expected, here);
            Assert.Equal(sent.StageTally.ToArray(), tally[..here.TallyCount]);
        }
        // The same state is left behind: connections and SNAT bindings.
        Assert.Equal(byMessage.Connections.Count, bucket.Shard!.Connections.Count);
        Assert.Equal(byMessage.Nat.Count, bucket.Shard.Nat.Count);
        Assert.True(bucket.Shard.Nat.Count >= 2);
        Assert.Equal(3, bucket.Resolved);
    }

    [Fact]
    public void It_refuses_when_the_entity_could_not_decide_and_changes_nothing()
    {
        var (bucket, dp) = Configured();
        var key = Key(dp.Plan, Tcp(Host, 6000, Server, 443, TcpFlags.Syn));
        bool Try(uint generation) => bucket.TryDecide(key, TcpFlags.Syn, 64, false, generation, false, 1, new uint[GatewayPipeline.MaxStages], out _, out _, out _);

        Assert.False(Try(dp.Plan.Generation + 1)); // the gateway runs a newer configuration than the entity has
        bucket.AwaitingRestore = true;
        Assert.False(Try(dp.Plan.Generation)); // a new incarnation not yet restored
        bucket.AwaitingRestore = false;
        bucket.Stopped = true;
        Assert.False(Try(dp.Plan.Generation)); // stopped: its state is no one's
        Assert.Equal(0, bucket.Shard!.Connections.Count);
        Assert.Equal(0, bucket.Shard.Nat.Count);
        Assert.Equal(0, bucket.Resolved);
        ExpectNoMsg(TimeSpan.FromMilliseconds(100));

        bucket.Stopped = false;
        Assert.True(Try(dp.Plan.Generation));
        Assert.Equal(1, bucket.Shard.Connections.Count);
    }

    [Fact]
    public void The_entity_is_woken_once_for_its_upkeep_not_once_per_decision()
    {
        var (bucket, dp) = Configured();
        for (ushort port = 6000; port < 6010; port++)
        {
            var key = Key(dp.Plan, Tcp(Host, port, Server, 443, TcpFlags.Syn));
            Assert.True(bucket.TryDecide(key, TcpFlags.Syn, 64, false, dp.Plan.Generation, false, 1, new uint[GatewayPipeline.MaxStages], out _, out _, out _));
        }
        // Its sweep is armed for nothing yet, so the first connection asks; the others wait for that upkeep.
        ExpectMsg<FlowCacheUpkeep>();
        ExpectNoMsg(TimeSpan.FromMilliseconds(100));

        // The entity ran it: the next decision that leaves something to do asks again.
        bucket.UpkeepDone();
        var next = Key(dp.Plan, Tcp(Host, 6100, Server, 443, TcpFlags.Syn));
        Assert.True(bucket.TryDecide(next, TcpFlags.Syn, 64, false, dp.Plan.Generation, false, 1, new uint[GatewayPipeline.MaxStages], out _, out _, out _));
        ExpectMsg<FlowCacheUpkeep>();
        ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }
}
