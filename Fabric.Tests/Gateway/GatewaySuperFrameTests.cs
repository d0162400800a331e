using System.Net;
using System.Net.NetworkInformation;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Gateway;
using static Fabric.Tests.Gateways.GatewayFixture;

namespace Fabric.Tests.Gateways;

/// <summary>
/// TCP super-frames from an offloading TAP (Packet.GsoSize) through the gateway's data path: a
/// plain flow-cache hit crosses whole, everything else is cut into segments that take the
/// ordinary path. Checksums are checked with PacketDotNet after completing the partial one, as
/// the receiving kernel would.
/// </summary>
public class GatewaySuperFrameTests
{
    private const ushort Mss = 1448;
    private const int Payload = 20_000; // 14 segments

    /// <summary>Records frames and whole super-frames apart.</summary>
    private sealed class SuperSink : IFrameSink
    {
        public List<(ushort Port, byte[] Frame, bool ChecksumsValid)> Frames { get; } = [];
        public List<(ushort Port, byte[] Frame, ushort GsoSize)> SuperFrames { get; } = [];

        public void Send(ushort port, ReadOnlySpan<byte> frame) => Frames.Add((port, frame.ToArray(), false));

        public void Send(ushort port, ReadOnlySpan<byte> frame, bool checksumsValid) => Frames.Add((port, frame.ToArray(), checksumsValid));

        public void SendSuperFrame(ushort port, ReadOnlySpan<byte> frame, ushort gsoSize) => SuperFrames.Add((port, frame.ToArray(), gsoSize));
    }

    /// <summary>A super-frame as a TAP hands it over: host to the gateway's MAC, TCP checksum partial.</summary>
    private static byte[] SuperFrame(TcpFlags flags, uint seq = 5000)
    {
        var payload = new byte[Payload];
        new Random(3).NextBytes(payload);
        var tcp = new PacketDotNet.TcpPacket(6000, 443) { SequenceNumber = seq, AcknowledgmentNumber = 1, WindowSize = 502, Flags = (ushort)flags, PayloadData = payload };
        var ip = new PacketDotNet.IPv4Packet(IPAddress.Parse(Host.ToString()), IPAddress.Parse(Server.ToString())) { Id = 77, TimeToLive = 64, FragmentFlags = 0x2, PayloadPacket = tcp };
        ip.UpdateIPChecksum();
        var eth = new PacketDotNet.EthernetPacket(PhysicalAddress.Parse(HostMac.ToString().Replace(':', '-')), PhysicalAddress.Parse(RouterMac.ToString().Replace(':', '-')), PacketDotNet.EthernetType.IPv4) { PayloadPacket = ip };
        var frame = eth.Bytes;
        Assert.True(TcpSuperFrame.TryLocate(frame, Mss, out var layout, out _));
        TcpSuperFrame.WritePartialChecksum(frame, layout);
        return frame;
    }

    private static void Process(GatewayDatapath dp, byte[] superFrame, ushort port, long now, IFrameSink sink)
    {
        var batch = new PacketBatch(capacity: 4, superFrameRoom: TapPort.SuperFrameRoom);
        superFrame.CopyTo(batch.SuperFrameRoom());
        batch.CommitSuperFrame(superFrame.Length, Mss, port);
        dp.Process(batch, now, sink);
    }

    private static (PacketDotNet.IPv4Packet Ip, PacketDotNet.TcpPacket Tcp) Parse(byte[] frame)
    {
        var ip = PacketDotNet.Packet.ParsePacket(PacketDotNet.LinkLayers.Ethernet, frame).Extract<PacketDotNet.IPv4Packet>();
        return (ip, ip.Extract<PacketDotNet.TcpPacket>());
    }

    private static byte[] PayloadOf(byte[] frame) => Parse(frame).Tcp.PayloadData;

    [Fact]
    public void An_established_flow_s_super_frame_crosses_SNAT_whole_and_its_partial_checksum_completes_to_a_valid_one()
    {
        var dp = Datapath();
        var blue = dp.Plan.Tenants[0];
        var sink = new SuperSink();
        dp.ProcessFrame(Tcp(Host, 6000, Server, 443, TcpFlags.Syn), blue.DownlinkPort, 0, sink); // the stages install the flow
        var original = SuperFrame(TcpFlags.Ack | TcpFlags.Psh);
        var stageRuns = dp.Counters.StageRuns.Sum();

        Process(dp, (byte[])original.Clone(), blue.DownlinkPort, 1, sink);

        var (port, frame, gso) = Assert.Single(sink.SuperFrames);
        Assert.Equal((blue.UplinkPort, Mss), (port, gso));
        Assert.Single(sink.Frames); // only the SYN went as a frame
        Assert.Equal(1, dp.SuperFramesForwarded);
        Assert.Equal(0, dp.SuperFramesCut);
        Assert.Equal(stageRuns, dp.Counters.StageRuns.Sum()); // a hit: no stage ran
        Assert.Equal(1 + 14, dp.Counters.Frames); // counted as the segments it stands for
        Assert.Equal(14, dp.Counters.Hits);
        Assert.Equal(1 + 14, dp.Counters.Forwarded);

        // What the receiving kernel does with the partial checksum.
        Assert.True(TcpSuperFrame.TryLocate(frame, Mss, out var layout, out _));
        Assert.True(ChecksumOffload.TryComplete(frame, layout.TcpOffset, TcpLayout.Checksum));
        var (ip, tcp) = Parse(frame);
        Assert.Equal("198.51.100.11", ip.SourceAddress.ToString()); // SNAT
        Assert.Equal(63, ip.TimeToLive);
        Assert.True(ip.ValidIPChecksum);
        Assert.True(tcp.ValidTcpChecksum);
        Assert.Equal(PayloadOf(original), tcp.PayloadData);
        var snatPort = tcp.SourcePort;

        // The server's answer comes back on the reply entry; a super-frame that way crosses whole too.
        var answer = SuperFrame(TcpFlags.Ack);
        var aip = new Ipv4Writer(answer.AsSpan(14));
        aip.RewriteSource(Server);
        aip.RewriteDestination(Ipv4Address.Parse("198.51.100.11"));
        var atcp = new TcpWriter(answer.AsSpan(34)) { SourcePort = 443, DestinationPort = snatPort };
        new EthernetWriter(answer) { Source = UpstreamMac, Destination = RouterMac };
        Assert.True(TcpSuperFrame.TryLocate(answer, Mss, out var alayout, out _));
        TcpSuperFrame.WritePartialChecksum(answer, alayout);
        Process(dp, answer, blue.UplinkPort, 2, sink);
        Assert.Equal(2, sink.SuperFrames.Count);
        var back = sink.SuperFrames[1].Frame;
        Assert.Equal(blue.DownlinkPort, sink.SuperFrames[1].Port);
        Assert.True(ChecksumOffload.TryComplete(back, layout.TcpOffset, TcpLayout.Checksum));
        var (bip, btcp) = Parse(back);
        Assert.Equal((Host.ToString(), (ushort)6000), (bip.DestinationAddress.ToString(), btcp.DestinationPort));
        Assert.True(bip.ValidIPChecksum && btcp.ValidTcpChecksum);
    }

    [Fact]
    public void A_super_frame_that_needs_the_per_frame_path_is_cut_into_segments_each_handled_as_the_frame_it_would_have_been()
    {
        var dp = Datapath();
        var blue = dp.Plan.Tenants[0];
        var sink = new SuperSink();

        // A miss (no SYN went first): cut; the first segment runs the stages, the rest hit.
        var original = SuperFrame(TcpFlags.Ack);
        Process(dp, (byte[])original.Clone(), blue.DownlinkPort, 0, sink);
        Assert.Empty(sink.SuperFrames);
        Assert.Equal(1, dp.SuperFramesCut);
        Assert.Equal(14, sink.Frames.Count);
        Assert.All(sink.Frames, f =>
        {
            Assert.Equal(blue.UplinkPort, f.Port);
            Assert.True(f.ChecksumsValid); // cut here, rewritten incrementally since
            var (ip, tcp) = Parse(f.Frame);
            Assert.Equal("198.51.100.11", ip.SourceAddress.ToString());
            Assert.True(ip.ValidIPChecksum && tcp.ValidTcpChecksum);
        });
        Assert.Equal(PayloadOf(original), sink.Frames.SelectMany(f => PayloadOf(f.Frame)).ToArray());

        // A FIN moves the connection: cut too, and only the last segment carries it.
        sink.Frames.Clear();
        Process(dp, SuperFrame(TcpFlags.Ack | TcpFlags.Fin, seq: 5000 + Payload), blue.DownlinkPort, 1, sink);
        Assert.Empty(sink.SuperFrames);
        Assert.Equal(2, dp.SuperFramesCut);
        Assert.Equal(14, sink.Frames.Count);
        Assert.Equal([.. Enumerable.Repeat(false, 13), true], sink.Frames.Select(f => Parse(f.Frame).Tcp.Finished));

        // With the cache off (every frame runs the stages) nothing crosses whole either.
        dp.CacheDisabled = true;
        sink.Frames.Clear();
        Process(dp, SuperFrame(TcpFlags.Ack), blue.DownlinkPort, 2, sink);
        Assert.Empty(sink.SuperFrames);
        Assert.Equal(14, sink.Frames.Count);
    }

    [Fact]
    public void A_sink_that_takes_no_super_frames_gets_the_segments_with_full_checksums()
    {
        var dp = Datapath();
        var blue = dp.Plan.Tenants[0];
        var sink = new CaptureSink();
        dp.ProcessFrame(Tcp(Host, 6000, Server, 443, TcpFlags.Syn), blue.DownlinkPort, 0, sink);
        sink.Sent.Clear();
        var original = SuperFrame(TcpFlags.Ack);
        Process(dp, (byte[])original.Clone(), blue.DownlinkPort, 1, sink);
        Assert.Equal(1, dp.SuperFramesForwarded); // forwarded whole by the data path ...
        Assert.Equal(14, sink.Sent.Count);        // ... and cut by the sink's default
        Assert.All(sink.Sent, s => Assert.True(Parse(s.Frame).Tcp.ValidTcpChecksum));
        Assert.Equal(PayloadOf(original), sink.Sent.SelectMany(s => PayloadOf(s.Frame)).ToArray());
    }
}
