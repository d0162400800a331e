using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Gateway;
using Fabric.Actors.Gateway.Pipeline;
using Fabric.Messages.Intent;
using static Fabric.Tests.Gateways.GatewayFixture;

namespace Fabric.Tests.Gateways;

public class GatewayFlowCacheTests
{
    private static long StageRuns(GatewayDatapath dp) => dp.Counters.StageRuns.Sum();

    /// <summary>Collects what a datapath sends with the checksum mark it passes on.</summary>
    private sealed class MarkSink : IFrameSink
    {
        public List<(byte[] Frame, bool ChecksumsValid)> Sent { get; } = [];

        public void Send(ushort port, ReadOnlySpan<byte> frame) => Sent.Add((frame.ToArray(), false));

        public void Send(ushort port, ReadOnlySpan<byte> frame, bool checksumsValid) => Sent.Add((frame.ToArray(), checksumsValid));
    }

    [Fact]
    public void A_frame_whose_port_computed_its_checksums_keeps_the_mark_through_snat_and_its_checksums_stay_right()
    {
        // The mark lets a TAP coalesce segments without summing them again, so what carries it
        // must still be right after the gateway's rewrites (PacketDotNet checks), and a frame that
        // came without it must not gain it.
        var dp = Datapath();
        var sink = new MarkSink();
        var blue = dp.Plan.Tenants[0];
        dp.ProcessFrame(Tcp(Host, 6000, Server, 443, TcpFlags.Syn), blue.DownlinkPort, 0, sink, checksumsValid: true); // stages
        dp.ProcessFrame(Tcp(Host, 6000, Server, 443, TcpFlags.Ack, seq: 1001), blue.DownlinkPort, 1, sink, checksumsValid: true); // cache hit
        dp.ProcessFrame(Tcp(Host, 6000, Server, 443, TcpFlags.Ack, seq: 1002), blue.DownlinkPort, 2, sink); // unmarked hit
        Assert.Equal(2, dp.Counters.Hits);
        Assert.Equal([true, true, false], sink.Sent.Select(s => s.ChecksumsValid));
        foreach (var (frame, _) in sink.Sent)
        {
            var ip = PacketDotNet.Packet.ParsePacket(PacketDotNet.LinkLayers.Ethernet, frame).Extract<PacketDotNet.IPv4Packet>();
            Assert.Equal(Ipv4Address.Parse("198.51.100.11").ToString(), ip.SourceAddress.ToString()); // SNAT rewrote it
            Assert.True(ip.ValidIPChecksum);
            Assert.True(ip.Extract<PacketDotNet.TcpPacket>().ValidTcpChecksum);
        }
    }

    [Fact]
    public void The_second_packet_of_a_flow_runs_no_stage_and_its_reply_hits_too()
    {
        var dp = Datapath();
        var sink = new CaptureSink();
        var blue = dp.Plan.Tenants[0];
        dp.ProcessFrame(Udp(Host, 5000, Server, 53), blue.DownlinkPort, 0, sink);
        var (port, first) = sink.Single();
        var runs = StageRuns(dp);
        Assert.Equal(blue.UplinkPort, port);
        Assert.Equal(4, runs); // DR, firewall, SR, NAT

        dp.ProcessFrame(Udp(Host, 5000, Server, 53), blue.DownlinkPort, 1, sink);
        var (_, second) = sink.Single();
        Assert.Equal(runs, StageRuns(dp));
        Assert.Equal(1, dp.Counters.Hits);
        Assert.Equal(first, second);

        // The server answers the pool address and port it saw: the reply entry exists already.
        Assert.True(Ipv4View.TryParse(first.AsSpan(14), out var ip, out _));
        Assert.True(UdpView.TryParse(ip.Payload, out var udp, out _));
        Assert.Equal(Ipv4Address.Parse("198.51.100.11"), ip.Source);
        dp.ProcessFrame(Udp(Server, 53, ip.Source, udp.SourcePort, from: UpstreamMac), blue.UplinkPort, 2, sink);
        var (back, reply) = sink.Single();
        Assert.Equal(blue.DownlinkPort, back);
        Assert.Equal(2, dp.Counters.Hits);
        Assert.Equal(runs, StageRuns(dp));
        Assert.True(Ipv4View.TryParse(reply.AsSpan(14), out var rip, out _));
        Assert.True(rip.IsChecksumValid);
        Assert.True(UdpView.TryParse(rip.Payload, out var rudp, out _));
        Assert.True(rudp.IsChecksumValid(rip.Source, rip.Destination));
        Assert.Equal((Host, (ushort)5000), (rip.Destination, rudp.DestinationPort));
        Assert.Equal(HostMac, EthernetRepr.Parse(EthernetView.TryParse(reply, out var e, out _) ? e : default).Destination);
    }

    [Fact]
    public void New_flows_towards_a_next_hop_that_does_not_answer_send_one_arp_request_not_one_each()
    {
        var plan = Plan();
        var dp = new GatewayDatapath(plan, 4); // the upstream router is not resolved
        var sink = new CaptureSink();
        var blue = dp.Plan.Tenants[0];
        for (ushort p = 0; p < 100; p++) dp.ProcessFrame(Udp(Host, (ushort)(6000 + p), Server, 53), blue.DownlinkPort, p, sink);

        var (port, request) = sink.Single(); // one ARP request, 99 held back
        Assert.Equal(blue.UplinkPort, port);
        Assert.True(EthernetView.TryParse(request, out var eth, out _));
        Assert.True(ArpRepr.TryParse(eth.Payload, out var arp, out _));
        Assert.Equal((ArpOperation.Request, UpstreamRouter), (arp.Operation, arp.TargetProtocolAddress));
        Assert.Equal(100, dp.Counters.Drops[(int)GatewayDrop.NeighborUnresolved]);
        Assert.Equal(1, dp.Counters.ArpRequests);
        Assert.Equal(99, dp.Counters.ArpRequestsLimited);

        // Once neighbor-retry-min has passed, the next packet asks again.
        Thread.Sleep((int)GatewaySettings.Default.NeighborRetryMin.TotalMilliseconds + 20);
        dp.ProcessFrame(Udp(Host, 7000, Server, 53), blue.DownlinkPort, 200, sink);
        Assert.Equal(blue.UplinkPort, sink.Single().Port);
        Assert.Equal(2, dp.Counters.ArpRequests);
    }

    [Fact]
    public void A_committed_change_invalidates_entries_lazily_and_keeps_nat_bindings()
    {
        var dp = Datapath();
        var sink = new CaptureSink();
        var blue = dp.Plan.Tenants[0];
        dp.ProcessFrame(Tcp(Host, 6000, Server, 443, TcpFlags.Syn), blue.DownlinkPort, 0, sink);
        var before = sink.Single().Frame;
        dp.Reconfigure(Plan(generation: 2));
        var runs = StageRuns(dp);
        dp.ProcessFrame(Tcp(Host, 6000, Server, 443, TcpFlags.Ack), blue.DownlinkPort, 1, sink);
        Assert.True(StageRuns(dp) > runs);
        Assert.Equal(before.AsSpan(14 + 12, 8).ToArray(), sink.Single().Frame.AsSpan(14 + 12, 8).ToArray()); // same addresses
        Assert.Equal(1, dp.Shards.Sum(s => s.Cache.Counters.EvictedStale));

        // A change that denies the flow takes effect on the next packet.
        dp.Reconfigure(Plan(GatewayOf(Tenant("blue", 1, Firewall(FirewallPolicy.Deny)), Tenant("red", 2)), generation: 3));
        dp.ProcessFrame(Tcp(Host, 6001, Server, 443, TcpFlags.Syn), blue.DownlinkPort, 2, sink);
        Assert.Empty(sink.Sent);
        Assert.Equal(1, dp.Counters.Drops[(int)GatewayDrop.FirewallDenied]);
    }

    [Fact]
    public void A_tcp_rst_on_a_cached_flow_goes_out_at_once_and_the_connection_its_entries_and_binding_go_after_the_closed_hold()
    {
        var dp = Datapath();
        var sink = new CaptureSink();
        var blue = dp.Plan.Tenants[0];
        dp.ProcessFrame(Tcp(Host, 7000, Server, 80, TcpFlags.Syn), blue.DownlinkPort, 0, sink);
        dp.ProcessFrame(Tcp(Host, 7000, Server, 80, TcpFlags.Ack), blue.DownlinkPort, 1, sink);
        Assert.Equal(1, dp.Counters.Hits);
        var shard = dp.Shards.Single(s => s.Connections.Count == 1);
        Assert.Equal(2, shard.Cache.Count); // forward and reply
        dp.ProcessFrame(Tcp(Host, 7000, Server, 80, TcpFlags.Rst), blue.DownlinkPort, 2, sink);
        Assert.Equal(3, sink.Sent.Count); // the RST still goes out
        Assert.Equal(2, dp.Counters.Hits); // tracked on the cached entry: no slow path
        Assert.Equal(ConnectionState.Closed, Assert.Single(shard.Connections.All).State); // held for a late segment
        Assert.Equal(2, shard.Cache.Count);
        Assert.Equal(1, shard.Nat.Count);

        var hold = dp.Settings.Conntrack.TcpClosedHoldMs;
        dp.Sweep(2 + hold - 1);
        Assert.Equal(1, shard.Connections.Count);
        dp.Sweep(2 + hold + dp.Settings.SweepIntervalMs);
        Assert.Equal(0, shard.Connections.Count);
        Assert.Equal(0, shard.Cache.Count);
        Assert.Equal(0, shard.Nat.Count); // the port is free again
    }

    [Fact]
    public void The_cached_result_equals_running_the_stages_packet_by_packet_for_random_flows_and_rules()
    {
        var random = new Random(20261124);
        long hits = 0;
        for (var round = 0; round < 20; round++)
        {
            var rules = Enumerable.Range(0, random.Next(0, 6)).Select(i => new FirewallRuleIntent(
                $"r{i}",
                (FirewallAction)random.Next(3),
                (RuleProtocol)random.Next(4) is var p && p == RuleProtocol.Icmp ? RuleProtocol.Any : (RuleProtocol)random.Next(3),
                random.Next(2) == 0 ? default : Cidr($"10.0.0.{random.Next(256)}/{random.Next(24, 33)}"),
                random.Next(2) == 0 ? default : Cidr($"203.0.113.{random.Next(256)}/{random.Next(24, 33)}"),
                null)).Select(r => r.Protocol is RuleProtocol.Tcp or RuleProtocol.Udp && random.Next(2) == 0 ? r with { Ports = new PortRange(1, (ushort)random.Next(1, 1000)) } : r).ToArray();
            var intent = GatewayOf(Tenant("blue", 1, Firewall((FirewallPolicy)random.Next(2), rules)), Tenant("red", 2));
            var cached = Datapath(Plan(intent));
            var uncached = Datapath(Plan(intent));
            uncached.CacheDisabled = true;
            var a = new CaptureSink();
            var b = new CaptureSink();
            var blue = cached.Plan.Tenants[0];
            var flows = Enumerable.Range(0, 40).Select(_ => (
                Src: new Ipv4Address(0x0A000000u + (uint)random.Next(2, 250)),
                Sport: (ushort)random.Next(1024, 65535),
                Dst: new Ipv4Address(0xCB007100u + (uint)random.Next(256)),
                Dport: (ushort)random.Next(1, 1000),
                Udp: random.Next(2) == 0)).ToArray();
            for (var packet = 0; packet < 3; packet++)
            {
                foreach (var f in flows)
                {
                    var frame = f.Udp ? Udp(f.Src, f.Sport, f.Dst, f.Dport) : Tcp(f.Src, f.Sport, f.Dst, f.Dport, packet == 0 ? TcpFlags.Syn : TcpFlags.Ack);
                    cached.ProcessFrame((byte[])frame.Clone(), blue.DownlinkPort, packet, a);
                    uncached.ProcessFrame(frame, blue.DownlinkPort, packet, b);
                }
            }
            Assert.Equal(b.Sent.Select(s => (s.Port, Convert.ToHexString(s.Frame))), a.Sent.Select(s => (s.Port, Convert.ToHexString(s.Frame))));
            Assert.Equal(uncached.Counters.Drops, cached.Counters.Drops);
            hits += cached.Counters.Hits;
        }
        Assert.True(hits > 100, $"only {hits} hits: the cache was hardly exercised");
    }

    [Fact]
    public void A_trace_lists_each_stage_record()
    {
        var dp = Datapath();
        var sink = new CaptureSink();
        dp.TraceNext(1);
        dp.ProcessFrame(Tcp(Host, 8000, Server, 23, TcpFlags.Syn), dp.Plan.Tenants[0].DownlinkPort, 0, sink);
        var trace = Assert.Single(dp.DrainTraces());
        Assert.Equal(2, trace.Records.Count);
        Assert.StartsWith("DistributedRouter: Next", trace.Records[0]);
        Assert.Contains("FirewallDenied", trace.Records[1]);
        Assert.Equal("Drop(firewall-denied)", trace.Result);
    }
}
