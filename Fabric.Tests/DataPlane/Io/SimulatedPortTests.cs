using System.Diagnostics;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Tests.DataPlane.Io;

public class SimulatedPortTests
{
    private static List<byte[]> Generate(TrafficProfile profile, int count)
    {
        using var port = new SimulatedPort("sim", 5, profile);
        var batch = new PacketBatch(capacity: 256);
        var frames = new List<byte[]>();
        while (frames.Count < count)
        {
            batch.Clear();
            port.ReceiveBatch(batch, 0);
            for (int i = 0; i < batch.Count && frames.Count < count; i++)
            {
                frames.Add(batch.Frame(i).ToArray());
            }
        }

        return frames;
    }

    [Fact]
    public void Generated_frames_are_valid_ethernet_ipv4_udp_with_correct_checksums()
    {
        var profile = new TrafficProfile { Flows = 8, FrameLengths = [60, 128, 1514] };
        var flows = new HashSet<(Ipv4Address, ushort)>();
        var lengths = new HashSet<int>();
        foreach (byte[] frame in Generate(profile, 500))
        {
            Assert.True(EthernetView.TryParse(frame, out var eth, out _));
            Assert.Equal(profile.DestinationMac, eth.Destination);
            Assert.Equal(EtherType.Ipv4, eth.EtherType);
            Assert.True(Ipv4Repr.TryParse(eth.Payload, out var ip, out var reason), reason.ToString());
            Assert.True(Ipv4View.TryParse(eth.Payload, out var ipView, out _));
            Assert.True(UdpRepr.TryParse(ipView.Payload, ip.Source, ip.Destination, out var udp, out reason), reason.ToString());
            Assert.Equal(profile.DestinationPort, udp.DestinationPort);
            flows.Add((ip.Source, udp.SourcePort));
            lengths.Add(frame.Length);
        }

        Assert.Equal(8, flows.Count);
        Assert.Equal(new HashSet<int> { 60, 128, 1514 }, lengths);
    }

    [Fact]
    public void Tcp_flows_are_valid_segments_that_tshark_decodes_without_errors()
    {
        var profile = new TrafficProfile { Protocol = IpProtocol.Tcp, Flows = 4, FrameLengths = [60, 1514] };
        string dir = Directory.CreateTempSubdirectory("fabric-sim-").FullName;
        try
        {
            string path = Path.Combine(dir, "tcp.pcap");
            using (var writer = new PcapWriter(path))
            {
                foreach (byte[] frame in Generate(profile, 40))
                {
                    Assert.True(EthernetView.TryParse(frame, out var eth, out _));
                    Assert.True(Ipv4View.TryParse(eth.Payload, out var ip, out _));
                    Assert.Equal(IpProtocol.Tcp, ip.Protocol);
                    Assert.True(TcpRepr.TryParse(ip.Payload, ip.Source, ip.Destination, out var tcp, out var reason), reason.ToString());
                    Assert.Equal(TcpFlags.Ack | TcpFlags.Psh, tcp.Flags);
                    writer.WriteFrame(frame);
                }
            }

            Assert.All(Tshark.ProtocolChains(path), c => Assert.StartsWith("eth:ethertype:ip:tcp", c));
            Tshark.DecodeVerbose(path, "-o tcp.check_checksum:TRUE");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void The_same_seed_generates_the_same_frames_and_another_seed_does_not()
    {
        var profile = new TrafficProfile { Flows = 32, FrameLengths = [60, 100], Seed = 42 };
        List<byte[]> a = Generate(profile, 300);
        List<byte[]> b = Generate(profile, 300);
        List<byte[]> c = Generate(profile with { Seed = 43 }, 300);

        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void Generation_stops_after_the_total_frame_count()
    {
        using var port = new SimulatedPort("sim", 1, new TrafficProfile { TotalFrames = 300 });
        var batch = new PacketBatch(capacity: 256);
        int total = 0;
        for (int i = 0; i < 5; i++)
        {
            batch.Clear();
            total += port.ReceiveBatch(batch, 0);
        }

        Assert.Equal(300, total);
        Assert.True(port.IsExhausted);
        Assert.Equal(300, port.Counters.RxFrames);
    }

    [Fact]
    public void The_rate_limit_holds_generation_near_the_configured_rate()
    {
        var clock = Stopwatch.StartNew(); // before the port: its credit starts when it is made
        using var port = new SimulatedPort("sim", 1, new TrafficProfile { FramesPerSecond = 5000 });
        var batch = new PacketBatch(capacity: 64);
        long total = 0;
        while (clock.ElapsedMilliseconds < 400)
        {
            batch.Clear();
            total += port.ReceiveBatch(batch, 50);
        }

        double rate = total / clock.Elapsed.TotalSeconds;
        Assert.InRange(rate, 3500, 5050);
    }

    [Fact]
    public void The_sink_counts_what_it_is_given_and_shows_it_to_the_observer()
    {
        int observed = 0;
        using var port = new SimulatedPort("sink", 1, sinkObserver: b => observed += b.Count);
        var batch = new PacketBatch(capacity: 8);
        batch.TryAppend(new byte[60]);
        batch.TryAppend(new byte[100]);

        Assert.Equal(2, port.SendBatch(batch));
        Assert.Equal(2, port.Counters.TxFrames);
        Assert.Equal(160, port.Counters.TxBytes);
        Assert.Equal(2, observed);
    }

    [Fact]
    public void The_receive_thread_of_a_simulated_port_feeds_batches_until_stopped()
    {
        using var port = new SimulatedPort("sim", 1, new TrafficProfile { TotalFrames = 1000 });
        var pool = new PacketBatchPool(maxRetained: 4, batchCapacity: 128);
        long frames = 0;
        using var done = new ManualResetEventSlim();
        port.StartReceiving(pool, b =>
        {
            if (Interlocked.Add(ref frames, b.Count) == 1000)
            {
                done.Set();
            }

            b.Return();
        });

        Assert.True(done.Wait(TimeSpan.FromSeconds(5)));
        port.StopReceiving();
        Assert.Equal(1000, frames);
        Assert.Equal(pool.Rents, pool.Returns);
    }
}
