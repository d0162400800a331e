using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Switching;

namespace Fabric.Tests.Switching;

/// <summary>The MFE data path on one host: classify by tag, pop, policy, push, answer ARP.</summary>
public sealed class MfeForwarderTests : IDisposable
{
    private readonly MfeRig _rig = new();

    public void Dispose() => _rig.Dispose();

    [Fact]
    public void A_frame_between_two_containers_of_one_dcn_hairpins_back_out_of_the_same_vnic_with_the_receivers_tag()
    {
        var sent = _rig.Frame("web", "db");

        _rig.FromDcn("dcn-1", sent);

        var delivered = Assert.Single(_rig.SentTo("dcn-1"));
        Assert.Equal(102, Frames.TagOf(delivered));
        // Only the VLAN id changed: same MACs, same payload.
        Assert.Equal(sent[..14], delivered[..14]);
        Assert.Equal(sent[16..], delivered[16..]);
        Assert.Empty(_rig.SentTo("dcn-2"));
        Assert.Equal((1, sent.Length - 4L), (_rig.Ports["web"].Counters.RxFrames, _rig.Ports["web"].Counters.RxBytes));
        Assert.Equal((1, sent.Length - 4L), (_rig.Ports["db"].Counters.TxFrames, _rig.Ports["db"].Counters.TxBytes));
    }

    [Fact]
    public void A_frame_for_a_container_of_another_dcn_leaves_on_that_dcns_vnic_tagged_for_it()
    {
        _rig.FromDcn("dcn-1", _rig.Frame("web", "cache"));

        Assert.Empty(_rig.SentTo("dcn-1"));
        var delivered = Assert.Single(_rig.SentTo("dcn-2"));
        Assert.Equal(101, Frames.TagOf(delivered)); // cache's tag on dcn-2 (the same number as web's on dcn-1)
        Assert.Equal(1, _rig.Ports["cache"].Counters.TxFrames);
    }

    [Fact]
    public void Untagged_frames_and_frames_with_an_unknown_tag_are_dropped_and_counted_by_name_on_the_vnic()
    {
        var (dbMac, dbIp) = _rig.Address("db");
        var web = _rig.Container("web");
        var untagged = Frames.Untagged(web.Mac, web.Ip, dbMac, dbIp);
        var unknown = Frames.Tagged(web.Mac, web.Ip, dbMac, dbIp, new VlanId(999));

        _rig.FromDcn("dcn-1", untagged, unknown, unknown);

        Assert.Empty(_rig.SentTo("dcn-1"));
        var drops = _rig.Vnics["dcn-1"].Counters.DropsByName();
        Assert.Equal(1, drops["untagged"]);
        Assert.Equal(2, drops["unknown-tag"]);
        Assert.Equal(0, _rig.Ports["web"].Counters.RxFrames);
    }

    [Fact]
    public void An_arp_request_for_a_known_container_is_answered_by_the_mfe_on_the_askers_tag()
    {
        var web = _rig.Container("web");
        var (dbMac, dbIp) = _rig.Address("db");

        _rig.FromDcn("dcn-1", Frames.ArpRequest(web.Mac, web.Ip, dbIp, web.Tag));

        var reply = Assert.Single(_rig.SentTo("dcn-1"));
        Assert.Equal(101, Frames.TagOf(reply));
        Assert.True(EthernetView.TryParse(reply, out var eth, out _));
        Assert.Equal((dbMac, web.Mac), (eth.Source, eth.Destination));
        Assert.True(ArpRepr.TryParse(reply.AsSpan(18), out var arp, out _));
        Assert.Equal(new ArpRepr(ArpOperation.Reply, dbMac, dbIp, web.Mac, web.Ip), arp);
        // Cross-check with an independent parser.
        var parsed = PacketDotNet.Packet.ParsePacket(PacketDotNet.LinkLayers.Ethernet, reply);
        var arpPacket = parsed.Extract<PacketDotNet.ArpPacket>();
        Assert.Equal(PacketDotNet.ArpOperation.Response, arpPacket.Operation);
        Assert.Equal("10.1.0.11", arpPacket.SenderProtocolAddress.ToString());
    }

    [Fact]
    public void Arp_for_a_remote_container_is_answered_too_but_not_for_unknown_or_other_tenant_addresses()
    {
        var web = _rig.Container("web");
        var (apiMac, apiIp) = _rig.Address("api");
        var (_, otherIp) = _rig.Address("other");

        _rig.FromDcn("dcn-1",
            Frames.ArpRequest(web.Mac, web.Ip, apiIp, web.Tag),
            Frames.ArpRequest(web.Mac, web.Ip, otherIp, web.Tag),
            Frames.ArpRequest(web.Mac, web.Ip, Ipv4Address.Parse("10.1.0.99"), web.Tag));

        var reply = Assert.Single(_rig.SentTo("dcn-1"));
        Assert.True(EthernetView.TryParse(reply, out var eth, out _));
        Assert.Equal(apiMac, eth.Source);
        Assert.Equal(2, _rig.Ports["web"].Counters.Drops(MfeDrop.ArpUnknownTarget));
    }

    [Fact]
    public void The_senders_egress_acl_and_the_receivers_ingress_acl_drop_and_count_what_they_deny()
    {
        _rig.FromDcn("dcn-1", _rig.Frame("web", "db", port: 23, protocol: IpProtocol.Tcp, length: 98));
        _rig.FromDcn("dcn-2", _rig.Frame("cache", "db", port: 5432, protocol: IpProtocol.Tcp, length: 98));
        _rig.FromDcn("dcn-1", _rig.Frame("web", "db", port: 5432, protocol: IpProtocol.Tcp, length: 98));

        var delivered = Assert.Single(_rig.SentTo("dcn-1"));
        Assert.Equal(102, Frames.TagOf(delivered));
        Assert.Equal(1, _rig.Ports["web"].Counters.Drops(MfeDrop.EgressAcl));
        Assert.Equal(1, _rig.Ports["db"].Counters.Drops(MfeDrop.IngressAcl));
        Assert.Equal(1, _rig.Ports["db"].Counters.TxFrames);
    }

    [Fact]
    public void Tenants_are_isolated_spoofed_sources_are_dropped_and_nothing_is_flooded()
    {
        var web = _rig.Container("web");
        var (otherMac, otherIp) = _rig.Address("other");
        var (dbMac, dbIp) = _rig.Address("db");

        _rig.FromDcn("dcn-1",
            _rig.Frame("web", otherMac, otherIp),
            Frames.Tagged(MacAddress.Parse("02:00:00:00:99:99"), web.Ip, dbMac, dbIp, web.Tag),
            _rig.Frame("web", MacAddress.Broadcast, Ipv4Address.Broadcast),
            _rig.Frame("web", MacAddress.Parse("02:00:00:00:99:98"), dbIp));

        Assert.Empty(_rig.SentTo("dcn-1"));
        Assert.Empty(_rig.SentTo("dcn-2"));
        var drops = _rig.Ports["web"].Counters.DropsByName();
        Assert.Equal(1, drops["other-tenant"]);
        Assert.Equal(1, drops["source-mac-mismatch"]);
        Assert.Equal(1, drops["non-unicast"]);
        Assert.Equal(1, drops["unknown-destination"]);
        Assert.Equal(0, _rig.Ports["other"].Counters.TxFrames);
    }

    [Fact]
    public void Without_an_underlay_frames_for_another_host_are_counted_as_no_underlay()
    {
        _rig.FromDcn("dcn-1", _rig.Frame("web", "api"));

        Assert.Equal(1, _rig.Ports["web"].Counters.Drops(MfeDrop.NoUnderlay));
    }

    [Fact]
    public void A_batch_mixing_destinations_leaves_once_per_vnic_in_arrival_order()
    {
        var frames = Enumerable.Range(0, 300).Select(i => (i % 3) switch
        {
            0 => _rig.Frame("web", "db", port: (ushort)(1000 + i)),
            1 => _rig.Frame("web", "cache", port: (ushort)(1000 + i)),
            _ => _rig.Frame("web", "db", port: (ushort)(1000 + i)),
        }).ToArray();

        _rig.FromDcn("dcn-1", frames[..200]);
        _rig.FromDcn("dcn-1", frames[200..]);

        var toDb = _rig.SentTo("dcn-1");
        var toCache = _rig.SentTo("dcn-2");
        Assert.Equal(200, toDb.Count);
        Assert.Equal(100, toCache.Count);
        Assert.True(toDb.Select(DestinationPort).SequenceEqual(toDb.Select(DestinationPort).Order()), "frames keep their order");
        Assert.Equal(200, _rig.Ports["db"].Counters.TxFrames);
    }

    [Fact]
    public void A_port_capture_holds_the_containers_frames_untagged_both_ways()
    {
        var webCapture = new MemoryStream();
        var dbCapture = new MemoryStream();
        _rig.Ports["web"] = new ContainerPort(_rig.Container("web"), new PcapWriter(webCapture, leaveOpen: true));
        _rig.Ports["db"] = new ContainerPort(_rig.Container("db"), new PcapWriter(dbCapture, leaveOpen: true));
        _rig.Rebuild();
        var sent = _rig.Frame("web", "db");

        _rig.FromDcn("dcn-1", sent);
        _rig.Ports["web"].Dispose();
        _rig.Ports["db"].Dispose();

        var untagged = new byte[sent.Length - 4];
        Assert.True(VlanTagging.TryCopyUntagged(sent, new VlanId(101), untagged, out _));
        Assert.Equal(untagged, Assert.Single(PcapFrames(webCapture)));
        Assert.Equal(untagged, Assert.Single(PcapFrames(dbCapture)));
        _rig.Ports["web"].WriteCapture(untagged); // a late frame after the port went: ignored
    }

    /// <summary>The frames of a classic pcap (24-byte file header, 16-byte record headers).</summary>
    private static List<byte[]> PcapFrames(MemoryStream stream)
    {
        var bytes = stream.ToArray();
        var frames = new List<byte[]>();
        for (int at = 24; at + 16 <= bytes.Length;)
        {
            int length = BitConverter.ToInt32(bytes, at + 8);
            frames.Add(bytes[(at + 16)..(at + 16 + length)]);
            at += 16 + length;
        }

        return frames;
    }

    [Fact]
    public void Forwarding_a_warm_batch_allocates_nothing()
    {
        var pool = new PacketBatchPool(maxRetained: 8);
        var vnic = _rig.Vnics["dcn-1"];
        var frames = Enumerable.Range(0, 256).Select(i => _rig.Frame(i % 2 == 0 ? "web" : "db", i % 2 == 0 ? "db" : "web", port: 80, protocol: IpProtocol.Tcp, length: 60)).ToArray();
        var web = _rig.Container("web");
        var arp = Frames.ArpRequest(web.Mac, web.Ip, Ipv4Address.Parse("10.1.0.11"), web.Tag);
        var silent = new SimulatedPort("sink", 9); // a sink that keeps nothing: the FramePort would allocate copies
        var dp = new MfeDatapath("host-1", pool, ghost: false);
        var quiet = new DcnVnic(vnic.Spec, silent, dp);
        var ports = _rig.Ports;
        dp.Table = MfeTable.Build(_rig.Spec, new Dictionary<string, DcnVnic> { ["dcn-1"] = quiet }, ports, 1);
        var table = dp.Table;

        void Run()
        {
            for (int round = 0; round < 20; round++)
            {
                var batch = pool.Rent();
                for (int i = 0; i < 255; i++)
                {
                    batch.TryAppend(frames[i]);
                }

                batch.TryAppend(arp);
                quiet.Forwarder.FromVnic(quiet, table, batch);
            }
        }

        Run();
        long before = GC.GetAllocatedBytesForCurrentThread();
        Run();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(40 * 256, silent.Counters.TxFrames); // 255 data frames + 1 ARP reply per batch
    }

    private static int DestinationPort(byte[] frame) => BigEndian.U16(frame, 18 + 20 + 2);
}
