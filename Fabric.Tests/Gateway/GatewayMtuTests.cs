using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Gateway;
using Fabric.Actors.Gateway.Pipeline;
using PacketDotNet;
using PacketDotNet.Utils;
using static Fabric.Tests.Gateways.GatewayFixture;

namespace Fabric.Tests.Gateways;

/// <summary>
/// The output port's MTU (RFC 1191 §4, RFC 791 §2.3): a datagram with DF that does not fit is
/// dropped and answered with ICMP fragmentation needed carrying the MTU, on a miss as on a cache
/// hit; one without DF leaves in fragments that fit; what fits passes. Frames are cross-checked
/// with PacketDotNet.
/// </summary>
public class GatewayMtuTests
{
    private const int UplinkMtu = 1400;
    private static readonly Ipv4Address GatewayInside = Ipv4Address.Parse("10.0.0.1");
    private static readonly Ipv4Address Pool = Ipv4Address.Parse("198.51.100.11");

    private static GatewayDatapath Datapath(GatewaySettings? settings = null)
    {
        var tenant = Tenant("blue", 1);
        tenant = tenant with { Uplink = tenant.Uplink! with { Mtu = UplinkMtu } };
        var plan = Plan(GatewayOf(tenant));
        var dp = new GatewayDatapath(plan, 4, settings: settings);
        dp.AddNeighbor(plan.Tenants[0].UplinkPort, UpstreamRouter, UpstreamMac);
        return dp;
    }

    /// <summary>An Ethernet/IPv4/UDP frame of <paramref name="ipLength"/> IP bytes from the inside host.</summary>
    private static byte[] UdpOf(int ipLength, bool dontFragment, byte ttl = 64, ushort sport = 5000)
    {
        var udp = new UdpRepr(sport, 9, ipLength - 20 - 8);
        var ip = new Ipv4Repr(Host, Server, IpProtocol.Udp, udp.BufferLength, ttl) { DontFragment = dontFragment, Identification = 0x4242 };
        var frame = new byte[14 + ip.BufferLength];
        for (var i = 42; i < frame.Length; i++) frame[i] = (byte)(i * 7);
        udp.Emit(frame.AsSpan(34), Host, Server);
        ip.Emit(frame.AsSpan(14));
        new EthernetRepr(HostMac, RouterMac, EtherType.Ipv4).Emit(frame);
        return frame;
    }

    private static IPv4Packet Ip(byte[] frame) =>
        Assert.IsType<IPv4Packet>(new EthernetPacket(new ByteArraySegment(frame)).PayloadPacket);

    /// <summary>The ICMP fragmentation needed an inside host gets for <paramref name="original"/>, checked with PacketDotNet.</summary>
    private static void AssertFragmentationNeeded(byte[] answer, byte[] original, int mtu)
    {
        var ip = Ip(answer);
        Assert.True(ip.ValidIPChecksum);
        Assert.Equal((GatewayInside, Host), (Ipv4Address.Parse(ip.SourceAddress.ToString()), Ipv4Address.Parse(ip.DestinationAddress.ToString())));
        var icmp = Assert.IsType<IcmpV4Packet>(ip.PayloadPacket);
        Assert.True(icmp.ValidIcmpChecksum);
        Assert.Equal(IcmpV4TypeCode.UnreachableFragmentationNeeded, icmp.TypeCode);
        Assert.Equal(0, icmp.Id);                 // the unused first word (RFC 1191 §4)
        Assert.Equal(mtu, icmp.Sequence);         // the second 16-bit word: next-hop MTU
        // The quoted datagram is the one the host sent (before NAT and TTL): its header + 8 bytes.
        Assert.Equal(original.AsSpan(14, 28).ToArray(), icmp.Data);
        Assert.Equal(HostMac.ToString(), FormatMac(new EthernetPacket(new ByteArraySegment(answer)).DestinationHardwareAddress.GetAddressBytes()));
    }

    private static string FormatMac(byte[] b) => string.Join(":", b.Select(x => x.ToString("x2")));

    [Fact]
    public void A_DF_datagram_larger_than_the_uplink_mtu_is_dropped_and_answered_with_fragmentation_needed_carrying_the_mtu()
    {
        var dp = Datapath();
        var sink = new CaptureSink();
        var blue = dp.Plan.Tenants[0];
        var big = UdpOf(1500, dontFragment: true);
        dp.ProcessFrame(big.ToArray(), blue.DownlinkPort, 0, sink);

        var (port, answer) = sink.Single();
        Assert.Equal(blue.DownlinkPort, port);
        AssertFragmentationNeeded(answer, big, UplinkMtu);
        Assert.Equal(1, dp.Counters.Drops[(int)GatewayDrop.FragmentationNeeded]);
        Assert.Equal(1, dp.Counters.IcmpErrors);
        Assert.Equal(0, dp.Counters.Forwarded);
        Assert.Contains("fragmentation-needed", dp.Counters.DropsByName().Keys);
    }

    [Fact]
    public void A_flow_cache_hit_honours_the_mtu_too()
    {
        var dp = Datapath();
        var sink = new CaptureSink();
        var blue = dp.Plan.Tenants[0];
        dp.ProcessFrame(UdpOf(100, dontFragment: true), blue.DownlinkPort, 0, sink); // installs the flow
        Assert.Equal(blue.UplinkPort, sink.Single().Port);
        var misses = dp.Counters.Misses;

        var big = UdpOf(UplinkMtu + 1, dontFragment: true);
        dp.ProcessFrame(big.ToArray(), blue.DownlinkPort, 1, sink);
        Assert.Equal(misses, dp.Counters.Misses);
        Assert.Equal(1, dp.Counters.Hits);
        AssertFragmentationNeeded(sink.Single().Frame, big, UplinkMtu);

        // Exactly the MTU fits, and leaves on the cached entry.
        dp.ProcessFrame(UdpOf(UplinkMtu, dontFragment: true), blue.DownlinkPort, 2, sink);
        var (port, fits) = sink.Single();
        Assert.Equal(blue.UplinkPort, port);
        Assert.Equal(UplinkMtu, Ip(fits).TotalLength);
        Assert.Equal(2, dp.Counters.Hits);
        Assert.Equal(1, dp.Counters.Drops[(int)GatewayDrop.FragmentationNeeded]);
    }

    [Fact]
    public void A_reply_that_fits_the_downlink_mtu_passes_at_full_size()
    {
        var dp = Datapath();
        var sink = new CaptureSink();
        var blue = dp.Plan.Tenants[0];
        dp.ProcessFrame(UdpOf(100, dontFragment: true), blue.DownlinkPort, 0, sink);
        var mapped = (ushort)Assert.IsType<UdpPacket>(Ip(sink.Single().Frame).PayloadPacket).SourcePort;
        // 1500 fits the downlink (default MTU 1500): the reply passes at full size.
        dp.ProcessFrame(Udp(Server, 9, Pool, mapped, from: UpstreamMac, payload: 1500 - 28), blue.UplinkPort, 1, sink);
        var (port, frame) = sink.Single();
        Assert.Equal((blue.DownlinkPort, 1500), (port, Ip(frame).TotalLength));
    }

    [Fact]
    public void Segments_of_a_TSO_run_whose_mss_fits_the_mtu_pass_and_a_larger_mss_is_told_the_mtu()
    {
        var dp = Datapath();
        var sink = new CaptureSink();
        var blue = dp.Plan.Tenants[0];
        dp.ProcessFrame(Tcp(Host, 7000, Server, 80, TcpFlags.Syn), blue.DownlinkPort, 0, sink);
        sink.Single();

        // A 64 KiB-style super-frame as a TAP with TSO hands it over, cut into segments as the TAP port does.
        List<byte[]> Segments(int mss)
        {
            var tcp = new TcpRepr(7000, 80, 1001, 1, TcpFlags.Ack | TcpFlags.Psh, 64240, 10 * mss);
            var ip = new Ipv4Repr(Host, Server, IpProtocol.Tcp, tcp.BufferLength) { DontFragment = true };
            var super = new byte[14 + ip.BufferLength];
            tcp.Emit(super.AsSpan(34), Host, Server);
            ip.Emit(super.AsSpan(14));
            new EthernetRepr(HostMac, RouterMac, EtherType.Ipv4).Emit(super);
            Assert.True(TcpSegmenter.TryCreate(super, mss, out var segmenter));
            var list = new List<byte[]>();
            var room = new byte[2048];
            while (segmenter.TryNext(room, out var length)) list.Add(room[..length]);
            return list;
        }

        var fitting = Segments(UplinkMtu - 40); // gso_size + IP and TCP headers == MTU
        foreach (var s in fitting) dp.ProcessFrame(s, blue.DownlinkPort, 1, sink);
        Assert.Equal(10, sink.Sent.Count);
        Assert.All(sink.Sent, s => Assert.Equal(blue.UplinkPort, s.Port));
        Assert.All(sink.Sent, s => Assert.Equal(UplinkMtu, Ip(s.Frame).TotalLength));
        Assert.Equal(0, dp.Counters.Drops[(int)GatewayDrop.FragmentationNeeded]);
        sink.Sent.Clear();

        var tooBig = Segments(1460);
        dp.ProcessFrame(tooBig[0], blue.DownlinkPort, 2, sink);
        AssertFragmentationNeeded(sink.Single().Frame, tooBig[0], UplinkMtu);
    }

    [Fact]
    public void A_datagram_without_DF_leaves_in_fragments_that_fit_and_reassemble_to_the_translated_datagram()
    {
        var dp = Datapath();
        var sink = new CaptureSink();
        var blue = dp.Plan.Tenants[0];
        var big = UdpOf(1900, dontFragment: false);
        var originalPayload = big.AsSpan(14 + 20).ToArray(); // UDP header + data, before NAT
        dp.ProcessFrame(big.ToArray(), blue.DownlinkPort, 0, sink);

        Assert.Equal(2, sink.Sent.Count);
        Assert.All(sink.Sent, s => Assert.Equal(blue.UplinkPort, s.Port));
        var reassembled = new byte[originalPayload.Length];
        var covered = 0;
        for (var k = 0; k < sink.Sent.Count; k++)
        {
            var ip = Ip(sink.Sent[k].Frame);
            Assert.True(ip.ValidIPChecksum, $"fragment {k}");
            Assert.True(ip.TotalLength <= UplinkMtu, $"fragment {k} is {ip.TotalLength} bytes");
            Assert.Equal(0x4242, ip.Id);
            Assert.Equal(Pool.ToString(), ip.SourceAddress.ToString()); // SNAT applied before cutting
            Assert.Equal(63, ip.TimeToLive);
            var more = (ip.FragmentFlags & 0x1) != 0; // PacketDotNet: the 3 flag bits, MF lowest
            Assert.Equal(k == 0, more);
            var data = sink.Sent[k].Frame.AsSpan(14 + ip.HeaderLength * 4, ip.TotalLength - ip.HeaderLength * 4);
            Assert.True(k == sink.Sent.Count - 1 || data.Length % 8 == 0);
            data.CopyTo(reassembled.AsSpan(ip.FragmentOffset * 8));
            covered += data.Length;
        }
        Assert.Equal(originalPayload.Length, covered);
        // Only the UDP ports/checksum changed under NAT: the data bytes are the host's.
        Assert.Equal(originalPayload.AsSpan(8).ToArray(), reassembled.AsSpan(8).ToArray());
        Assert.Equal(originalPayload.AsSpan(2, 4).ToArray(), reassembled.AsSpan(2, 4).ToArray()); // destination port, length
        Assert.Equal((1L, 2L, 1L), (dp.Counters.Fragmented, dp.Counters.FragmentsSent, dp.Counters.Forwarded));
        Assert.Equal(0, dp.Counters.Drops[(int)GatewayDrop.FragmentationNeeded]);
    }

    [Fact]
    public void A_TTL_about_to_expire_gets_time_exceeded_rather_than_fragmentation_needed()
    {
        var dp = Datapath();
        var sink = new CaptureSink();
        var blue = dp.Plan.Tenants[0];
        dp.ProcessFrame(UdpOf(1500, dontFragment: true, ttl: 1), blue.DownlinkPort, 0, sink);
        var icmp = Assert.IsType<IcmpV4Packet>(Ip(sink.Single().Frame).PayloadPacket);
        Assert.Equal(IcmpV4TypeCode.TimeExceeded, icmp.TypeCode);
        Assert.Equal(0, dp.Counters.Drops[(int)GatewayDrop.FragmentationNeeded]);
    }

    [Fact]
    public void Fragmentation_needed_answers_are_rate_limited_with_the_other_ICMP_errors_and_every_drop_is_still_counted()
    {
        var dp = Datapath(GatewaySettings.Default with { IcmpErrorsPerSecond = 10, IcmpErrorBurst = 3 });
        var sink = new CaptureSink();
        var blue = dp.Plan.Tenants[0];
        for (var i = 0; i < 5; i++) dp.ProcessFrame(UdpOf(1500, dontFragment: true, sport: (ushort)(6000 + i)), blue.DownlinkPort, 1000, sink);
        Assert.Equal(3, sink.Sent.Count);
        Assert.Equal((5L, 3L, 2L), (dp.Counters.Drops[(int)GatewayDrop.FragmentationNeeded], dp.Counters.IcmpErrors, dp.Counters.IcmpErrorsLimited));

        // 10 per second: 100 ms later there is one more token.
        sink.Sent.Clear();
        dp.ProcessFrame(UdpOf(1500, dontFragment: true, sport: 6100), blue.DownlinkPort, 1100, sink);
        dp.ProcessFrame(UdpOf(1500, dontFragment: true, sport: 6101), blue.DownlinkPort, 1100, sink);
        Assert.Single(sink.Sent);
        Assert.Equal(3L, dp.Counters.IcmpErrorsLimited);
    }

    /// <summary>Counts what leaves, copying nothing.</summary>
    private sealed class CountingSink : IFrameSink
    {
        public long Frames;

        public void Send(ushort port, ReadOnlySpan<byte> frame) => Frames++;
    }

    [Fact]
    public void Checking_the_mtu_answering_and_fragmenting_on_cache_hits_allocate_nothing_per_frame()
    {
        var dp = Datapath(GatewaySettings.Default with { IcmpErrorsPerSecond = 1_000_000, IcmpErrorBurst = 1_000_000 });
        var sink = new CountingSink();
        var blue = dp.Plan.Tenants[0];
        var small = UdpOf(100, dontFragment: true);
        var tooBig = UdpOf(1500, dontFragment: true);
        var fragmentable = UdpOf(1500, dontFragment: false);
        var frame = new byte[1514];
        void Run(long now)
        {
            for (var i = 0; i < 200; i++)
            {
                small.CopyTo(frame, 0);
                dp.ProcessFrame(frame.AsSpan(0, small.Length), blue.DownlinkPort, now, sink);
                tooBig.CopyTo(frame, 0);
                dp.ProcessFrame(frame.AsSpan(0, tooBig.Length), blue.DownlinkPort, now, sink);
                fragmentable.CopyTo(frame, 0);
                dp.ProcessFrame(frame.AsSpan(0, fragmentable.Length), blue.DownlinkPort, now, sink);
            }
        }
        Run(0); // warm: the flow's entry, JIT
        var hits = dp.Counters.Hits;
        var before = GC.GetAllocatedBytesForCurrentThread();
        Run(1);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        Assert.Equal(hits + 600, dp.Counters.Hits);
        Assert.Equal(400, dp.Counters.Drops[(int)GatewayDrop.FragmentationNeeded]);
        Assert.Equal(400, dp.Counters.Fragmented);
    }

    [Fact]
    public void A_port_whose_intent_names_no_mtu_gets_fabric_gateway_port_mtu_from_hocon_and_bad_values_are_refused()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "hocon", "fabric.conf");
        var shipped = Akka.Configuration.ConfigurationFactory.ParseString(File.ReadAllText(path));
        Assert.Equal((1500, 1000, 50), (GatewaySettings.From(shipped).PortMtu, GatewaySettings.From(shipped).IcmpErrorsPerSecond, GatewaySettings.From(shipped).IcmpErrorBurst));
        var settings = GatewaySettings.From(Akka.Configuration.ConfigurationFactory.ParseString("fabric.gateway.port-mtu = 9000").WithFallback(shipped));
        Assert.Equal(9000, settings.PortMtu);

        var tenant = Tenant("blue", 1);
        var plan = GatewayPlan.Compile(GatewayOf(tenant with { Uplink = tenant.Uplink! with { Mtu = 1280 } }), 1, portMtu: settings.PortMtu);
        var blue = plan.Tenants[0];
        Assert.Equal((9000, 1280), (plan.MtuOf(blue.DownlinkPort), plan.MtuOf(blue.UplinkPort)));
        Assert.Equal(int.MaxValue, plan.MtuOf(99));

        Assert.Throws<ArgumentException>(() => GatewaySettings.From(Akka.Configuration.ConfigurationFactory.ParseString("fabric.gateway.port-mtu = 40")));
        Assert.Throws<ArgumentException>(() => GatewaySettings.From(Akka.Configuration.ConfigurationFactory.ParseString("fabric.gateway.icmp-errors.burst = 0")));
    }

    [Fact]
    public void A_committed_mtu_change_applies_to_the_next_packet_of_a_cached_flow()
    {
        var dp = Datapath();
        var sink = new CaptureSink();
        var blue = dp.Plan.Tenants[0];
        dp.ProcessFrame(UdpOf(1300, dontFragment: true), blue.DownlinkPort, 0, sink);
        Assert.Equal(blue.UplinkPort, sink.Single().Port);

        var tenant = Tenant("blue", 1);
        dp.Reconfigure(Plan(GatewayOf(tenant with { Uplink = tenant.Uplink! with { Mtu = 1280 } }), generation: 2));
        var again = UdpOf(1300, dontFragment: true);
        dp.ProcessFrame(again.ToArray(), blue.DownlinkPort, 1, sink);
        AssertFragmentationNeeded(sink.Single().Frame, again, 1280);
    }
}
