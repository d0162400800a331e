using Fabric.Actors.DataPlane.Flow;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Gateway;
using Fabric.Actors.Gateway.Actors;
using Fabric.Actors.Gateway.Pipeline;
using Fabric.Messages.Gateway;
using static Fabric.Tests.Gateways.GatewayFixture;

namespace Fabric.Tests.Gateways;

/// <summary>
/// The sharded miss path without actors: a datapath whose misses are resolved by the entity's
/// code (through the wire records, as across nodes) forwards exactly what the in-process datapath
/// forwards, and its cache then serves the flows locally.
/// </summary>
public class GatewayShardedMissTests
{
    /// <summary>
    /// Resolves each miss at once with a <see cref="FlowResolver"/> over per-bucket entity state,
    /// round-tripping the key bytes; the entities borrow port blocks from the datapath's ledger
    /// (as the gateway lends them).
    /// </summary>
    private sealed class InlineEntities(GatewayPlan plan, PortBlockLedger ledger) : IMissResolver
    {
        private readonly Dictionary<int, FlowCacheShard> _entities = [];
        private readonly List<(byte[] Frame, FlowKey Key, ulong Hash, FlowMiss Miss, int Bucket)> _parked = [];

        public void Park(int bucket, ReadOnlySpan<byte> frame, in FlowKey key, ulong hash, TcpFlags tcpFlags, byte ttl, PortRole role, bool trace) =>
            _parked.Add((frame.ToArray(), key, hash, new FlowMiss(GatewayDatapath.KeyBytes(key), (byte)tcpFlags, ttl, role == PortRole.Uplink), bucket));

        /// <summary>Never decided on the data path's thread here: every miss is parked and drained, as by message.</summary>
        public bool TryResolveHere(int bucket, in FlowKey key, TcpFlags tcpFlags, byte ttl, PortRole role, bool trace, Span<uint> tally,
            out EntityAnswer answer, out List<string>? traceLines, out uint generation)
        {
            answer = default;
            traceLines = null;
            generation = 0;
            return false;
        }

        public void Drain(GatewayDatapath dp, long now, IFrameSink sink)
        {
            foreach (var p in _parked)
            {
                var entity = Entity(p.Bucket);
                var resolution = FlowResolver.Resolve(entity, plan, p.Miss, now, trace: false);
                dp.CompleteMiss(p.Frame, GatewayDatapath.KeyFrom(p.Miss.Key), p.Hash, resolution, plan.Generation, now, sink);
            }
            _parked.Clear();
        }

        /// <summary>As the gateway actor does after the batch: the entity takes the state the datapath tracked on a cached FIN or RST.</summary>
        public void ConnectionChanged(int bucket, Connection connection)
        {
            var entity = Entity(bucket);
            if (entity.Connections.Find(connection.Key) is { } c) entity.Connections.Update(c, connection.State, connection.FinFromInside, connection.FinFromOutside, connection.LastSeen);
        }

        public FlowCacheShard Entity(int bucket)
        {
            if (!_entities.TryGetValue(bucket, out var entity)) _entities[bucket] = entity = new FlowCacheShard(bucket, 16, 0, lender: ledger, lastSeenElsewhere: true);
            return entity;
        }

        public void Forget(int bucket) => _entities.Remove(bucket);
    }

    private static (GatewayDatapath Dp, InlineEntities Entities) Sharded()
    {
        var dp = Datapath();
        var entities = new InlineEntities(dp.Plan, dp.Ledger);
        dp.Resolver = entities;
        return (dp, entities);
    }

    private static List<(ushort, byte[])> Run(GatewayDatapath dp, InlineEntities? entities, byte[] frame, ushort port, long now)
    {
        var sink = new CaptureSink();
        dp.ProcessFrame(frame.ToArray(), port, now, sink);
        entities?.Drain(dp, now, sink);
        return sink.Sent;
    }

    [Fact]
    public void Misses_resolved_by_the_entity_forward_the_same_bytes_as_the_stages_in_process_and_later_packets_hit_locally()
    {
        var local = Datapath();
        var (sharded, entities) = Sharded();
        var blue = local.Plan.Tenants[0];
        var red = local.Plan.Tenants[1];
        byte[][] frames =
        [
            Tcp(Host, 6000, Server, 443, TcpFlags.Syn),
            Udp(Host, 5000, Server, 53),
            Ping(Host, Server, 7),
            Tcp(Host, 6001, Server, 23, TcpFlags.Syn), // denied
            Tcp(Host, 6002, Server, 25, TcpFlags.Syn), // rejected: a RST back
            Udp(Host, 5000, Server, 53, ttl: 1), // time exceeded
        ];
        long now = 0;
        foreach (var tenant in new[] { blue, red })
        {
            foreach (var f in frames)
            {
                var expected = Run(local, null, f, tenant.DownlinkPort, ++now);
                var actual = Run(sharded, entities, f, tenant.DownlinkPort, now);
                Assert.Equal(expected.Select(x => (x.Item1, Convert.ToHexString(x.Item2))), actual.Select(x => (x.Item1, Convert.ToHexString(x.Item2))));
            }
        }
        Assert.Equal(local.Counters.DropsByName(), sharded.Counters.DropsByName());

        // The replies and second packets hit the gateway's own cache: no entity involved.
        var resolved = sharded.RemoteResolved;
        var syn = Run(sharded, entities, frames[0], blue.DownlinkPort, ++now);
        Assert.True(Ipv4View.TryParse(syn[0].Item2.AsSpan(14), out var ip, out _));
        Assert.True(TcpView.TryParse(ip.Payload, out var tcp, out _));
        var reply = Run(sharded, entities, Tcp(Server, 443, ip.Source, tcp.SourcePort, TcpFlags.Syn | TcpFlags.Ack, UpstreamMac, 9000, 1001), blue.UplinkPort, ++now);
        Assert.Equal(blue.DownlinkPort, Assert.Single(reply).Item1);
        Assert.Equal(resolved, sharded.RemoteResolved);
    }

    [Fact]
    public void An_answer_decided_on_the_entitys_node_is_the_one_its_message_would_carry()
    {
        // A gateway deciding under a local entity's lock makes no message (FlowResolver.Decide);
        // what it acts on must be what it reads from the entity's FlowResolution (AnswerOf), for
        // every kind of outcome. Two entities with equal state and their own ledgers: one answers
        // by message, the other directly.
        var (byMessage, direct) = (Datapath(), Datapath());
        var plan = byMessage.Plan;
        var blue = plan.Tenants[0];
        var bucket = GatewayDatapath.ShardFor(blue.Vni, Host, byMessage.Shards.Length);
        var a = new FlowCacheShard(bucket, 16, 0, lender: byMessage.Ledger, lastSeenElsewhere: true);
        var b = new FlowCacheShard(bucket, 16, 0, lender: direct.Ledger, lastSeenElsewhere: true);
        var tally = new uint[GatewayPipeline.MaxStages];
        long now = 0;

        EntityAnswer Same(byte[] frame, ushort port, TcpFlags flags, byte ttl = 64)
        {
            Assert.True(FlowKeyExtractor.TryExtract(frame, port, blue.Vni, out var key, out _));
            var fromUplink = port == blue.UplinkPort;
            var message = FlowResolver.Resolve(a, plan, key, flags, ttl, fromUplink, ++now, trace: false);
            var expected = GatewayDatapath.AnswerOf(message);
            FlowResolver.Decide(b, plan, key, flags, ttl, fromUplink, now, tally, out var actual);
            Assert.Equal(expected.StageMask, actual.StageMask);
            Assert.Equal(message.StageTally.ToArray(), tally[..actual.TallyCount].ToArray());
            expected.TallyCount = actual.TallyCount; // the message carries its tallies, not their count
            Assert.Equal(expected, actual);
            return actual;
        }

        var syn = Same(Tcp(Host, 6000, Server, 443, TcpFlags.Syn), blue.DownlinkPort, TcpFlags.Syn);
        Assert.True(syn.HasConnection);
        Assert.True(syn.Decision.HasReply);
        Assert.Equal(syn.ExternalPort, syn.Decision.Outcome.Rewrites.SourcePort); // SNAT
        Same(Tcp(Server, 443, syn.ExternalAddress, syn.ExternalPort, TcpFlags.Syn | TcpFlags.Ack, UpstreamMac), blue.UplinkPort, TcpFlags.Syn | TcpFlags.Ack);
        Same(Tcp(Host, 6000, Server, 443, TcpFlags.Fin | TcpFlags.Ack), blue.DownlinkPort, TcpFlags.Fin | TcpFlags.Ack);
        Same(Udp(Host, 5000, Server, 53), blue.DownlinkPort, 0);
        Same(Ping(Host, Server, 7), blue.DownlinkPort, 0);
        var denied = Same(Tcp(Host, 6001, Server, 23, TcpFlags.Syn), blue.DownlinkPort, TcpFlags.Syn);
        Assert.Equal(StageVerdict.Drop, denied.Decision.Outcome.Verdict);
        Assert.NotEqual(0, denied.Decision.Outcome.FirewallRule); // the rule that judged it, from the tallies
        Same(Tcp(Host, 6002, Server, 25, TcpFlags.Syn), blue.DownlinkPort, TcpFlags.Syn);
        Same(Udp(Host, 5000, Server, 53, ttl: 1), blue.DownlinkPort, 0, ttl: 1);
        var unknown = Same(Tcp(Host, 6003, Server, 443, TcpFlags.Syn), 999, TcpFlags.Syn);
        Assert.Equal(GatewayDrop.UnknownPort, unknown.Decision.Outcome.Reason);
    }

    [Fact]
    public void After_its_entity_moves_a_connection_keeps_its_external_port_and_the_new_entity_its_binding()
    {
        var (dp, entities) = Sharded();
        var blue = dp.Plan.Tenants[0];
        var first = Run(dp, entities, Tcp(Host, 6000, Server, 443, TcpFlags.Syn), blue.DownlinkPort, 1);
        var bucket = GatewayDatapath.ShardFor(blue.Vni, Host, dp.Shards.Length);
        var port = Endpoints(first[0].Item2).Sport;

        // The gateway's mirror holds no binding of its own (one object fewer per connection), only the entity's endpoint.
        var mirror = Assert.Single(dp.Shards[bucket].Connections.All);
        Assert.Null(mirror.Binding);
        Assert.Equal(port, mirror.External.Port);
        Assert.False(mirror.External.Address.IsUnspecified);

        // The entity's node left: its successor starts empty and is restored from what the gateway mirrors.
        entities.Forget(bucket);
        entities.Entity(bucket).Restore(dp.Plan, dp.RestoreOf(bucket, 2), 2);
        var restored = entities.Entity(bucket).Nat;
        Assert.True(restored.TryGetByInside(blue.Vni, IpProtocol.Tcp, Host, 6000, out var binding));
        Assert.Equal(port, binding.ExternalPort);
        Assert.Equal(1, binding.Connections);

        // The connection goes on from the gateway's cache, same addresses and ports.
        var resolved = dp.RemoteResolved;
        var after = Run(dp, entities, Tcp(Host, 6000, Server, 443, TcpFlags.Ack | TcpFlags.Psh, seq: 1001, ack: 9001), blue.DownlinkPort, 3);
        Assert.Equal(resolved, dp.RemoteResolved);
        Assert.Equal(first[0].Item2.AsSpan(14 + 12, 10).ToArray(), after[0].Item2.AsSpan(14 + 12, 10).ToArray()); // addresses and ports

        // A new connection from the host after the move gets another port of its block.
        var next = Run(dp, entities, Tcp(Host, 6001, Server, 443, TcpFlags.Syn), blue.DownlinkPort, 4);
        Assert.NotEqual(port, Endpoints(next[0].Item2).Sport);
    }

    [Fact]
    public void A_SYN_the_gateway_does_not_forward_is_counted_under_a_named_drop()
    {
        var (dp, entities) = Sharded();
        var blue = dp.Plan.Tenants[0];
        // Every block of blue's one-address pool leased elsewhere: the host cannot get a port.
        var elsewhere = (GatewayDatapath.ShardFor(blue.Vni, Host, dp.Shards.Length) + 1) % dp.Shards.Length;
        while (dp.Ledger.TryLend(elsewhere, blue.Vni, out _)) { }
        var sent = 0;
        for (ushort port = 6000; port < 6010; port++) sent += Run(dp, entities, Tcp(Host, port, Server, 443, TcpFlags.Syn), blue.DownlinkPort, port).Count;
        Assert.Equal(0, sent);
        Assert.Equal(10, dp.Counters.Drops[(int)GatewayDrop.SnatPortsExhausted]);

        // From outside, to a pool port no bucket leases: dropped at once, by name, no entity asked.
        var (fresh, freshEntities) = Sharded();
        Assert.Empty(Run(fresh, freshEntities, Tcp(Server, 443, blue.Snat!.Pool[0], 40000, TcpFlags.Syn, UpstreamMac), blue.UplinkPort, 20));
        Assert.Equal(1, fresh.Counters.Drops[(int)GatewayDrop.NoNatBinding]);
        Assert.Equal(0, fresh.RemoteResolved);
    }

    private static (Ipv4Address Src, ushort Sport) Endpoints(byte[] frame)
    {
        Assert.True(Ipv4View.TryParse(frame.AsSpan(14), out var ip, out _));
        Assert.True(TcpView.TryParse(ip.Payload, out var tcp, out _));
        return (ip.Source, tcp.SourcePort);
    }
}
