using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Tests.DataPlane.Io;

/// <summary>
/// Underlay captures must decode in Wireshark: encapsulated frames built with the Wire Reprs,
/// teed with synthesised outer Ethernet/IPv4/UDP headers, read back by the real tshark.
/// </summary>
public sealed class UnderlayCaptureTests : IDisposable
{
    private static readonly UnderlayEndpoint PeA = new(Ipv4Address.Parse("127.0.0.1"), 40001);
    private static readonly TrafficProfile Inner = new() { Flows = 1 };
    private static readonly MplsLabel PwLabel = new(1001);
    private static readonly MplsLabel FlowLabel = EthernetOverMplsRepr.FlowLabelFromHash(0x1234_5678_9abc_def0UL);

    /// <summary>
    /// Whether a PW carries a control word is signalled configuration, not in the bytes, and
    /// Wireshark's guess (pw_eth_heuristic) is easily fooled; so, as an operator would, bind the
    /// bottom-of-stack label (the PW label, or the flow label when present) to "pwethcw".
    /// </summary>
    private static string MplsDecodeAs =>
        $"-d mpls.label=={PwLabel.Value},pwethcw -d mpls.label=={FlowLabel.Value},pwethcw";

    private readonly string _dir = Directory.CreateTempSubdirectory("fabric-underlay-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>MPLS-in-UDP payload: PW label, flow label, control word, then the customer frame (RFC 7510, 4448, 4385, 6391).</summary>
    private static byte[] EthernetOverMpls(byte[] customerFrame, ushort sequence, bool flowLabel = true)
    {
        var pw = new EthernetOverMplsRepr(
            PwLabel,
            flowLabel ? FlowLabel : null,
            ControlWord: true,
            SequenceNumber: sequence);
        var payload = new byte[pw.BufferLength + customerFrame.Length];
        pw.Emit(payload);
        customerFrame.CopyTo(payload, pw.BufferLength);
        return payload;
    }

    private static byte[] Vxlan(byte[] customerFrame)
    {
        var vxlan = new VxlanRepr(5001);
        var payload = new byte[vxlan.BufferLength + customerFrame.Length];
        vxlan.Emit(payload);
        customerFrame.CopyTo(payload, vxlan.BufferLength);
        return payload;
    }

    private static byte[] Geneve(byte[] customerFrame)
    {
        var geneve = new GeneveRepr(7001);
        var payload = new byte[geneve.BufferLength + customerFrame.Length];
        geneve.Emit(payload);
        customerFrame.CopyTo(payload, geneve.BufferLength);
        return payload;
    }

    [Fact]
    public void Mpls_in_udp_vxlan_and_geneve_underlay_frames_decode_cleanly_in_tshark()
    {
        byte[] customer = SimulatedPort.BuildUdpFrame(Inner, 0, 100);
        string path = Path.Combine(_dir, "encaps.pcap");
        using (var writer = new PcapWriter(path))
        {
            writer.WriteUdpDatagram(EthernetOverMpls(customer, 1, flowLabel: false), PeA, PeA with { Port = UdpPorts.MplsInUdp });
            writer.WriteUdpDatagram(EthernetOverMpls(customer, 2, flowLabel: true), PeA, PeA with { Port = UdpPorts.MplsInUdp });
            writer.WriteUdpDatagram(Vxlan(customer), PeA, PeA with { Port = UdpPorts.Vxlan });
            writer.WriteUdpDatagram(Geneve(customer), PeA, PeA with { Port = UdpPorts.Geneve });
        }

        string[] chains = Tshark.ProtocolChains(path, MplsDecodeAs);
        Assert.Equal(
            [
                "eth:ethertype:ip:udp:mpls:eth:ethertype:ip:udp:data",
                "eth:ethertype:ip:udp:mpls:eth:ethertype:ip:udp:data",
                "eth:ethertype:ip:udp:vxlan:eth:ethertype:ip:udp:data",
                "eth:ethertype:ip:udp:geneve:eth:ethertype:ip:udp:data",
            ],
            chains);

        string text = Tshark.DecodeVerbose(path, MplsDecodeAs);
        Assert.Contains("Dst Port: 6635", text);
        Assert.Contains("MultiProtocol Label Switching Header, Label: 1001, Exp: 0, S: 1, TTL: 255", text);
        Assert.Contains("MultiProtocol Label Switching Header, Label: 1001, Exp: 0, S: 0, TTL: 255", text);
        Assert.Contains($"Label: {FlowLabel.Value}, Exp: 0, S: 1, TTL: 0", text); // RFC 6391: flow label TTL 0
        Assert.Contains("PW Ethernet Control Word", text);
        Assert.Contains("Sequence Number: 1", text);
        Assert.Contains("Sequence Number: 2", text);
        Assert.Contains("Virtual eXtensible Local Area Network", text);
        Assert.Contains("VXLAN Network Identifier (VNI): 5001", text);
        Assert.Contains("Generic Network Virtualization Encapsulation", text);
        Assert.Contains("Virtual Network Identifier (VNI): 0x001b59", text); // 7001
        Assert.Contains("Src: 10.1.0.1, Dst: 10.2.0.1", text); // the customer's own IPv4 header
    }

    [Fact]
    public void Frames_crossing_real_underlay_sockets_are_captured_decodable_on_both_sides()
    {
        string path = Path.Combine(_dir, "sockets.pcap");
        byte[] customer = SimulatedPort.BuildUdpFrame(Inner, 0, 80);
        int senderPort, receiverPort;
        using (var writer = new PcapWriter(path))
        using (var a = new UdpUnderlayPort("pe-a", 1, new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0)) { Tee = writer })
        using (var b = new UdpUnderlayPort("pe-b", 2, new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0)) { Tee = writer })
        {
            senderPort = a.Local.Port;
            receiverPort = b.Local.Port;
            var batch = new PacketBatch(capacity: 8);
            for (ushort seq = 1; seq <= 4; seq++)
            {
                batch.TryAppend(EthernetOverMpls(customer, seq));
            }

            Assert.Equal(4, a.SendBatch(batch, b.Local));
            var incoming = new PacketBatch(capacity: 8);
            var deadline = DateTime.UtcNow.AddSeconds(5);
            while (incoming.Count < 4 && DateTime.UtcNow < deadline)
            {
                b.ReceiveBatch(incoming, 100);
            }

            Assert.Equal(4, incoming.Count);
        }

        // The sockets use ephemeral ports, so tell tshark that the receiver's port carries MPLS.
        string decodeAs = $"-d udp.port=={receiverPort},mpls {MplsDecodeAs}";
        string[] chains = Tshark.ProtocolChains(path, decodeAs);
        Assert.Equal(8, chains.Length); // 4 teed on send, 4 on receive
        Assert.All(chains, c => Assert.Equal("eth:ethertype:ip:udp:mpls:eth:ethertype:ip:udp:data", c));
        string text = Tshark.DecodeVerbose(path, decodeAs);
        Assert.Contains($"Src Port: {senderPort}, Dst Port: {receiverPort}", text);
    }
}
