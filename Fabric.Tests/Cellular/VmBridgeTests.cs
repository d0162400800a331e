using Fabric.Actors.Cellular.Bridge;
using Fabric.Actors.Cellular.Emulator;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;
using static Fabric.Tests.Cellular.VmFrames;

namespace Fabric.Tests.Cellular;

/// <summary>The passthrough bridge of one VM, driven frame by frame (no threads).</summary>
public sealed class VmBridgeTests : IDisposable
{
    private static readonly MacAddress BridgeMac = MacAddress.Parse("02:00:00:00:20:01");
    private static readonly MacAddress VmMac = MacAddress.Parse("02:00:00:00:21:01");
    private static readonly Ipv4Address Cellular = Ipv4Address.Parse("100.64.7.10");
    private static readonly Ipv4Address Moved = Ipv4Address.Parse("100.64.7.11");
    private static readonly Ipv4Address Gateway = LeaseTerms.DefaultGateway;
    private static readonly Ipv4Address Server = SimulatedCarrier.ServerAddress;

    private readonly PacketBatchPool _pool = new(maxRetained: 8);
    private readonly MemoryPort _vm = new("vm-1", 1);
    private readonly MemoryPort _modem = new("modem-data", 2);
    private readonly VmBridge _bridge;

    public VmBridgeTests()
    {
        _bridge = new VmBridge("vm-1", BridgeMac, VmMac, new LeaseTerms(), _vm, _modem, _pool);
    }

    public void Dispose()
    {
        _vm.Dispose();
        _modem.Dispose();
    }

    private void FromVm(params byte[][] frames)
    {
        var batch = _pool.Rent();
        foreach (var f in frames) Assert.True(batch.TryAppend(f));
        _bridge.FromVm(batch);
    }

    private void FromModem(params byte[][] packets)
    {
        var batch = _pool.Rent();
        foreach (var p in packets) Assert.True(batch.TryAppend(p));
        _bridge.FromModem(batch);
    }

    private DhcpRepr LastDhcp()
    {
        Assert.True(TryDhcp(_vm.Sent[^1], out var dhcp));
        return dhcp;
    }

    /// <summary>DISCOVER, OFFER, REQUEST, ACK: the VM is bound to the cellular address.</summary>
    private void Bind(Ipv4Address address, uint xid = 1)
    {
        FromVm(Discover(VmMac, xid));
        Assert.Equal(address, LastDhcp().YourAddress);
        FromVm(Select(VmMac, address, Gateway, xid));
        Assert.Equal(DhcpMessageType.Ack, LastDhcp().MessageType);
    }

    [Fact]
    public void Offers_exactly_the_cellular_address_as_a_32_with_the_gateway_and_short_renewal()
    {
        _bridge.SetAddress(Cellular);
        FromVm(Discover(VmMac));

        var frame = Assert.Single(_vm.Sent);
        Assert.True(EthernetView.TryParse(frame, out var eth, out _));
        Assert.Equal((BridgeMac, VmMac), (eth.Source, eth.Destination));
        var offer = LastDhcp();
        Assert.Equal(DhcpMessageType.Offer, offer.MessageType);
        Assert.Equal(Cellular, offer.YourAddress);
        Assert.Equal(Ipv4Address.Broadcast, offer.SubnetMask);
        Assert.Equal(new DhcpAddressList([Gateway]), offer.Routers);
        Assert.Equal(Gateway, offer.ServerIdentifier);
        Assert.Equal((60u, 1u, 50u), (offer.LeaseTime!.Value, offer.RenewalTime!.Value, offer.RebindingTime!.Value));

        FromVm(Select(VmMac, Cellular, Gateway));
        Assert.Equal(DhcpMessageType.Ack, LastDhcp().MessageType);
        Assert.Equal(Cellular, _bridge.VmAddress);
        Assert.Equal((1, 1, 0), (_bridge.DhcpOffers, _bridge.DhcpAcks, _bridge.DhcpNaks));
    }

    [Fact]
    public void Answers_arp_and_ping_for_the_gateway_with_the_bridge_mac()
    {
        _bridge.SetAddress(Cellular);
        FromVm(ArpRequest(VmMac, Cellular, Gateway));
        Assert.True(ArpRepr.TryParse(_vm.Sent[^1].AsSpan(EthernetLayout.HeaderLength), out var arp, out _));
        Assert.Equal((ArpOperation.Reply, BridgeMac, Gateway), (arp.Operation, arp.SenderHardwareAddress, arp.SenderProtocolAddress));

        FromVm(Framed(VmMac, BridgeMac, EchoPacket(Cellular, Gateway)));
        Assert.True(IsEcho(Unframe(_vm.Sent[^1]), Gateway, Cellular, Icmpv4Type.EchoReply));
        Assert.Empty(_modem.Sent);
    }

    [Fact]
    public void Strips_vm_frames_to_raw_ip_towards_the_modem_and_frames_the_modem_packets_to_the_vm_mac()
    {
        _bridge.SetAddress(Cellular);
        var request = EchoPacket(Cellular, Server);
        FromVm(Framed(VmMac, BridgeMac, request));
        Assert.Equal(request, Assert.Single(_modem.Sent)); // exactly the IP packet: padding and Ethernet gone

        var reply = EchoPacket(Server, Cellular, type: Icmpv4Type.EchoReply);
        FromModem(reply);
        var frame = Assert.Single(_vm.Sent);
        Assert.True(EthernetView.TryParse(frame, out var eth, out _));
        Assert.Equal((BridgeMac, VmMac, EtherType.Ipv4), (eth.Source, eth.Destination, eth.EtherType));
        Assert.Equal(reply, eth.Payload[..reply.Length].ToArray());
        Assert.Equal((1, 1), (_bridge.ToModem, _bridge.ToVm));
    }

    [Fact]
    public void Only_the_mapped_vm_mac_and_the_cellular_source_pass()
    {
        _bridge.SetAddress(Cellular);
        var other = MacAddress.Parse("02:00:00:00:99:99");
        FromVm(
            Framed(other, BridgeMac, EchoPacket(Cellular, Server)),
            Discover(other),
            Framed(VmMac, BridgeMac, EchoPacket(Ipv4Address.Parse("10.0.0.5"), Server)),
            Framed(VmMac, MacAddress.Parse("02:00:00:00:77:77"), EchoPacket(Cellular, Server)),
            [1, 2, 3]);
        FromModem(EchoPacket(Server, Ipv4Address.Parse("100.64.7.99")), [0x45, 0, 0]);

        Assert.Empty(_modem.Sent);
        Assert.Empty(_vm.Sent);
        Assert.Equal(2, _bridge.Dropped(BridgeDrop.ForeignMac));
        Assert.Equal(1, _bridge.Dropped(BridgeDrop.WrongSource));
        Assert.Equal(1, _bridge.Dropped(BridgeDrop.NotForBridge));
        Assert.Equal(2, _bridge.Dropped(BridgeDrop.Malformed));
        Assert.Equal(1, _bridge.Dropped(BridgeDrop.NotForVm));
    }

    [Fact]
    public void Without_a_bearer_nothing_is_offered_and_a_bound_vm_keeps_its_lease_until_it_comes_back()
    {
        FromVm(Discover(VmMac));
        Assert.Empty(_vm.Sent);

        _bridge.SetAddress(Cellular);
        Bind(Cellular);
        _bridge.SetAddress(null);
        FromVm(Renew(VmMac, BridgeMac, Cellular, Gateway), Framed(VmMac, BridgeMac, EchoPacket(Cellular, Server)));
        Assert.Equal(2, _vm.Sent.Count); // no answer to the renewal: no NAK while the modem re-dials
        Assert.Equal(1, _bridge.Dropped(BridgeDrop.NoAddress));

        _bridge.SetAddress(Cellular);
        FromVm(Renew(VmMac, BridgeMac, Cellular, Gateway));
        Assert.Equal(DhcpMessageType.Ack, LastDhcp().MessageType);
    }

    [Fact]
    public void When_the_address_moves_the_renewal_is_refused_the_vm_moves_and_traffic_is_carried_across_meanwhile()
    {
        _bridge.SetAddress(Cellular);
        Bind(Cellular);
        _vm.ClearSent();

        _bridge.SetAddress(Moved);
        Assert.Equal(Moved, _bridge.Address);

        // Until the VM renews, its old-address packets go out from the new address, and replies come back.
        FromVm(Framed(VmMac, BridgeMac, EchoPacket(Cellular, Server, sequence: 9)));
        Assert.True(IsEcho(_modem.Sent[^1], Moved, Server, Icmpv4Type.EchoRequest));
        FromModem(EchoPacket(Server, Moved, sequence: 9, type: Icmpv4Type.EchoReply));
        Assert.True(IsEcho(Unframe(_vm.Sent[^1]), Server, Cellular, Icmpv4Type.EchoReply));
        Assert.Equal(2, _bridge.Translated);

        // T1: the renewal of the old address is refused; the VM starts over and gets the new one.
        FromVm(Renew(VmMac, BridgeMac, Cellular, Gateway));
        var nak = LastDhcp();
        Assert.Equal(DhcpMessageType.Nak, nak.MessageType);
        Assert.Equal(Gateway, nak.ServerIdentifier);
        Bind(Moved, xid: 2);
        Assert.Equal(Moved, _bridge.VmAddress);
        Assert.InRange(_bridge.LastMoveMs, 0, 5_000);

        // Moved: the old address is no longer carried.
        FromVm(Framed(VmMac, BridgeMac, EchoPacket(Cellular, Server)));
        Assert.Equal(1, _bridge.Dropped(BridgeDrop.WrongSource));
        FromVm(Framed(VmMac, BridgeMac, EchoPacket(Moved, Server)));
        Assert.True(IsEcho(_modem.Sent[^1], Moved, Server, Icmpv4Type.EchoRequest));
    }

    [Fact]
    public void A_request_for_another_server_is_ignored()
    {
        _bridge.SetAddress(Cellular);
        FromVm(Select(VmMac, Cellular, Ipv4Address.Parse("192.0.2.1")));
        Assert.Empty(_vm.Sent);
    }
}
