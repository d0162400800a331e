using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Switching;
using Fabric.Tests.DataPlane.Io;
using Fabric.Tests.Support;

namespace Fabric.Tests.Switching;

/// <summary>
/// Two hosts' MFEs in this process, each with its own Geneve socket (host-1 on 127.0.0.1,
/// host-2 on 127.0.0.2, one UDP port): containers of tenant blue reach each other across them.
/// </summary>
public sealed class MfeOverlayTests : IDisposable
{
    private static readonly ushort Port = (ushort)(46000 + Environment.ProcessId % 1000);
    private readonly MfeRig _host1 = new("host-1", genevePort: Port);
    private readonly MfeRig _host2 = new("host-2", genevePort: Port);
    private readonly SwitchingNode _node1 = new(genevePort: Port);
    private readonly SwitchingNode _node2 = new(genevePort: Port);
    private readonly TempDir _dir = new();

    public MfeOverlayTests()
    {
        _node1.EnsureUnderlay(_host1.Spec.Underlay).Attach(_host1.Datapath);
        _node2.EnsureUnderlay(_host2.Spec.Underlay).Attach(_host2.Datapath);
    }

    public void Dispose()
    {
        _node1.Dispose();
        _node2.Dispose();
        _host1.Dispose();
        _host2.Dispose();
        _dir.Dispose();
    }

    [Fact]
    public async Task A_frame_for_a_container_on_another_host_crosses_in_geneve_with_the_tenants_vni_and_arrives_tagged_for_it()
    {
        string pcap = _dir.Sub("geneve.pcap");
        var tee = new PcapWriter(pcap);
        _host1.Datapath.Underlay!.Tee = tee;
        var sent = _host1.Frame("web", "api");

        _host1.FromDcn("dcn-1", sent);
        await Eventually.Holds(() => !_host2.Wires["dcn-9"].Sent.IsEmpty, TimeSpan.FromSeconds(5), "the frame reaches host-2's DCN");

        var delivered = Assert.Single(_host2.SentTo("dcn-9"));
        Assert.Equal(301, Frames.TagOf(delivered));
        Assert.Equal(sent[..12], delivered[..12]);
        Assert.Equal(sent[16..], delivered[16..]);
        Assert.Equal(1, _host1.Datapath.Underlay.Counters.TxFrames);
        Assert.Equal(1, _host2.Datapath.Underlay!.Counters.RxFrames);
        Assert.Equal(1, _host2.Ports["api"].Counters.TxFrames);

        // The answer goes back the same way.
        _host2.FromDcn("dcn-9", _host2.Frame("api", "web"));
        await Eventually.Holds(() => !_host1.Wires["dcn-1"].Sent.IsEmpty, TimeSpan.FromSeconds(5), "the answer reaches host-1");
        Assert.Equal(101, Frames.TagOf(Assert.Single(_host1.SentTo("dcn-1"))));
        _host1.Datapath.Underlay.Tee = null;
        tee.Dispose();

        // tshark decodes the overlay as Geneve (decode-as: this test's port is not 6081) carrying the untagged frame.
        var decodeAs = $"-d udp.port=={Port},geneve";
        var chains = Tshark.ProtocolChains(pcap, decodeAs);
        Assert.Equal(2, chains.Length);
        Assert.All(chains, c => Assert.EndsWith("udp:geneve:eth:ethertype:ip:udp:data", c, StringComparison.Ordinal));
        var decoded = Tshark.DecodeVerbose(pcap, decodeAs);
        Assert.Contains("Virtual Network Identifier (VNI): 0x0003e9", decoded, StringComparison.Ordinal); // 1001 = blue
        Assert.Contains("Protocol Type: Transparent Ethernet bridging (0x6558)", decoded, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Geneve_frames_for_an_unknown_vni_another_tenant_or_an_unknown_mac_are_dropped_and_counted()
    {
        var underlay2 = _host2.Datapath.Underlay!;
        var (apiMac, apiIp) = _host2.Address("api");
        var web = _host1.Container("web");
        byte[] Inner(MacAddress dst) => Frames.Untagged(web.Mac, web.Ip, dst, apiIp);
        byte[] Datagram(uint vni, byte[] inner)
        {
            var d = new byte[GeneveLayout.HeaderLength + inner.Length];
            new GeneveRepr(vni).Emit(d);
            inner.CopyTo(d, GeneveLayout.HeaderLength);
            return d;
        }

        using var sender = new UdpUnderlayPort("test", 0, new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        var batch = new PacketBatch(capacity: 8);
        batch.TryAppend(Datagram(4242, Inner(apiMac)));
        batch.TryAppend(Datagram(1002, Inner(apiMac))); // green has no container on host-2
        batch.TryAppend(Datagram(1001, Inner(MacAddress.Parse("02:00:00:00:77:77"))));
        batch.TryAppend(new byte[] { 0x40, 0, 0x65, 0x58 }); // version 1, truncated
        sender.SendBatch(batch, underlay2.Local);
        // host-1 has green (other): a green datagram for web (blue) is another tenant's.
        var underlay1 = _host1.Datapath.Underlay!;
        batch.Clear();
        batch.TryAppend(Datagram(1002, Inner(web.Mac)));
        sender.SendBatch(batch, underlay1.Local);

        await Eventually.Holds(() => underlay2.Counters.TotalDrops == 4 && underlay1.Counters.TotalDrops == 1, TimeSpan.FromSeconds(5), "drops on both overlays");
        var drops = underlay2.Counters.DropsByName();
        Assert.Equal(2, drops["unknown-vni"]);
        Assert.Equal(1, drops["unknown-destination"]);
        Assert.Equal(1, drops["malformed"]);
        Assert.Equal(1, underlay1.Counters.Drops(MfeDrop.OtherTenant));
        Assert.Empty(_host1.SentTo("dcn-1"));
        Assert.Empty(_host2.SentTo("dcn-9"));
    }
    [Fact]
    public async Task Ghost_copies_cross_on_their_own_underlay_port_and_what_they_deliver_is_marked_ghost()
    {
        ushort ghostPort = (ushort)(Port + 1);
        using var ghost1 = new MfeRig("host-1", ghost: true, genevePort: ghostPort);
        using var ghost2 = new MfeRig("host-2", ghost: true, genevePort: ghostPort);
        using var plane1 = new SwitchingNode(ghost: true, genevePort: ghostPort);
        using var plane2 = new SwitchingNode(ghost: true, genevePort: ghostPort);
        plane1.EnsureUnderlay(ghost1.Spec.Underlay).Attach(ghost1.Datapath);
        plane2.EnsureUnderlay(ghost2.Spec.Underlay).Attach(ghost2.Datapath);

        ghost1.FromDcn("dcn-1", ghost1.Frame("web", "api"));
        await Eventually.Holds(() => !ghost2.Wires["dcn-9"].Sent.IsEmpty, TimeSpan.FromSeconds(5), "the ghost frame reaches host-2's ghost DCN");

        Assert.True(ghost2.Wires["dcn-9"].Sent.TryDequeue(out var delivered));
        Assert.True(delivered.Ghost);
        Assert.Equal(301, Frames.TagOf(delivered.Frame));
        // The main copies saw nothing of it.
        Assert.Equal(0, _host2.Datapath.Underlay!.Counters.RxFrames + _host2.Datapath.Underlay.Counters.TotalDrops);
        Assert.Empty(_host2.SentTo("dcn-9"));
    }
}
