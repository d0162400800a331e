using System.Buffers.Binary;
using System.Net;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Tests.DataPlane.Io;

public sealed class PcapWriterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fabric-pcap-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void The_global_header_is_classic_libpcap_ethernet_with_microsecond_timestamps()
    {
        using var stream = new MemoryStream();
        using (var writer = new PcapWriter(stream, leaveOpen: true))
        {
            writer.WriteFrame(new byte[60], new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc).AddTicks(1234567));
        }

        byte[] bytes = stream.ToArray();
        Assert.Equal(0xa1b2c3d4u, BinaryPrimitives.ReadUInt32LittleEndian(bytes));
        Assert.Equal(2, BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(4)));
        Assert.Equal(4, BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(6)));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(20)));
        Assert.Equal(123456u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(28))); // microseconds
        Assert.Equal(60u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(32)));
        Assert.Equal(24 + 16 + 60, bytes.Length);
    }

    [Fact]
    public void Frames_teed_from_a_simulated_port_decode_cleanly_in_tshark()
    {
        string path = Path.Combine(_dir, "sim.pcap");
        using (var writer = new PcapWriter(path))
        using (var port = new SimulatedPort("sim", 1, new TrafficProfile { Flows = 4, FrameLengths = [60, 1514] }) { Tee = writer })
        {
            var batch = new PacketBatch(capacity: 50);
            port.ReceiveBatch(batch, 0);
        }

        string[] chains = Tshark.ProtocolChains(path);
        Assert.Equal(50, chains.Length);
        Assert.All(chains, c => Assert.Equal("eth:ethertype:ip:udp:data", c));
        Tshark.DecodeVerbose(path);
    }

    [Fact]
    public void Many_ports_can_tee_into_one_writer_at_once()
    {
        string path = Path.Combine(_dir, "many.pcap");
        using (var writer = new PcapWriter(path))
        {
            Parallel.For(0, 4, t =>
            {
                using var port = new SimulatedPort($"sim{t}", (ushort)t, new TrafficProfile { Seed = t }) { Tee = writer };
                var batch = new PacketBatch(capacity: 64);
                for (int i = 0; i < 10; i++)
                {
                    batch.Clear();
                    port.ReceiveBatch(batch, 0);
                }
            });
            Assert.Equal(4 * 10 * 64, writer.FramesWritten);
        }

        Assert.Equal(4 * 10 * 64, Tshark.ProtocolChains(path).Length);
    }

    [Fact]
    public void Underlay_datagrams_are_captured_with_real_outer_addresses_and_ports()
    {
        string path = Path.Combine(_dir, "underlay.pcap");
        using (var writer = new PcapWriter(path))
        using (var a = new UdpUnderlayPort("a", 1, new IPEndPoint(IPAddress.Loopback, 0)) { Tee = writer })
        using (var b = new UdpUnderlayPort("b", 2, new IPEndPoint(IPAddress.Loopback, 0)))
        {
            var batch = new PacketBatch(capacity: 4);
            batch.TryAppend(SimulatedPort.BuildUdpFrame(new TrafficProfile(), 0, 100));
            Assert.Equal(1, a.SendBatch(batch, b.Local));
            writer.Flush();

            string text = Tshark.DecodeVerbose(path);
            Assert.Contains("Internet Protocol Version 4, Src: 127.0.0.1, Dst: 127.0.0.1", text);
            Assert.Contains($"User Datagram Protocol, Src Port: {a.Local.Port}, Dst Port: {b.Local.Port}", text);
        }
    }
}
