using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Tests.DataPlane.Wire;

public class DhcpTests
{
    private static readonly MacAddress Client = MacAddress.Parse("52:54:00:12:34:56");

    private static byte[] Dhcp(byte[] frame) => frame.AsSpan(14 + 20 + 8).ToArray();

    [Fact]
    public void Parses_a_captured_discover()
    {
        Assert.True(DhcpView.TryParse(Dhcp(WireFixtures.DhcpDiscover), out var message, out _));
        Assert.Equal(DhcpOperation.BootRequest, message.Operation);
        Assert.Equal(DhcpMessageType.Discover, message.MessageType);
        Assert.Equal(0x3903F326u, message.TransactionId);
        Assert.True(message.Broadcast);
        Assert.Equal(Client, message.ClientHardwareAddress);
        Assert.True(message.TryGetOption(DhcpOptionCode.ParameterRequestList, out var prl));
        Assert.Equal(new byte[] { 1, 3, 6, 51, 54 }, prl.ToArray());

        Assert.True(DhcpRepr.TryParse(message, out var repr, out _));
        Assert.Equal(Ipv4Address.Parse("10.0.0.50"), repr.RequestedAddress);
        Assert.Equal(DhcpClientId.FromMac(Client), repr.ClientIdentifier);
    }

    [Fact]
    public void Parses_a_captured_offer_with_every_server_option()
    {
        Assert.True(DhcpRepr.TryParse(Dhcp(WireFixtures.DhcpOffer), out var offer, out _));
        Assert.Equal(DhcpMessageType.Offer, offer.MessageType);
        Assert.Equal(DhcpOperation.BootReply, offer.Operation);
        Assert.Equal(Ipv4Address.Parse("10.0.0.50"), offer.YourAddress);
        Assert.Equal(Ipv4Address.Parse("10.0.0.254"), offer.ServerIdentifier);
        Assert.Equal(3600u, offer.LeaseTime);
        Assert.Equal(Ipv4Address.Parse("255.255.255.0"), offer.SubnetMask);
        Assert.Equal(new DhcpAddressList([Ipv4Address.Parse("10.0.0.254")]), offer.Routers);
        Assert.Equal(2, offer.DnsServers.Count);
        Assert.Equal(Ipv4Address.Parse("8.8.8.8"), offer.DnsServers[1]);
    }

    [Theory]
    [InlineData(nameof(WireFixtures.DhcpDiscover))]
    [InlineData(nameof(WireFixtures.DhcpOffer))]
    public void Round_trips_captured_messages_byte_for_byte(string fixture)
    {
        var bytes = Dhcp((byte[])typeof(WireFixtures).GetProperty(fixture)!.GetValue(null)!);
        Assert.True(DhcpRepr.TryParse(bytes, out var repr, out _));
        var emitted = new byte[repr.BufferLength];
        repr.Emit(emitted);
        if (fixture == nameof(WireFixtures.DhcpDiscover))
        {
            // Our emitter does not send option 55 (a server never does): compare without it.
            Assert.True(DhcpRepr.TryParse(emitted, out var again, out _));
            Assert.Equal(repr, again);
            return;
        }
        Assert.Equal(bytes, emitted);
    }

    [Fact]
    public void Builds_an_ack_and_a_nak_a_server_would_send()
    {
        var ack = new DhcpRepr(DhcpMessageType.Ack, 0x1234, Client)
        {
            YourAddress = Ipv4Address.Parse("10.0.0.50"),
            ServerIdentifier = Ipv4Address.Parse("10.0.0.254"),
            LeaseTime = 86400,
            SubnetMask = Ipv4Address.Parse("255.255.255.0"),
            Routers = new DhcpAddressList([Ipv4Address.Parse("10.0.0.254")]),
            DnsServers = new DhcpAddressList([Ipv4Address.Parse("1.1.1.1"), Ipv4Address.Parse("9.9.9.9")]),
        };
        var nak = new DhcpRepr(DhcpMessageType.Nak, 0x1234, Client) { ServerIdentifier = Ipv4Address.Parse("10.0.0.254") };
        foreach (var repr in new[] { ack, nak })
        {
            var bytes = new byte[repr.BufferLength];
            repr.Emit(bytes);
            Assert.Equal(300, bytes.Length);
            Assert.True(DhcpRepr.TryParse(bytes, out var parsed, out _));
            Assert.Equal(repr, parsed);
        }
    }

    [Theory]
    [InlineData(DhcpMessageType.Request)]
    [InlineData(DhcpMessageType.Release)]
    public void Round_trips_client_requests_and_releases(DhcpMessageType type)
    {
        var repr = new DhcpRepr(type, 0xCAFE, Client)
        {
            ClientAddress = type == DhcpMessageType.Release ? Ipv4Address.Parse("10.0.0.50") : default,
            RequestedAddress = type == DhcpMessageType.Request ? Ipv4Address.Parse("10.0.0.50") : null,
            ServerIdentifier = Ipv4Address.Parse("10.0.0.254"),
            ClientIdentifier = DhcpClientId.FromMac(Client),
        };
        var bytes = new byte[repr.BufferLength];
        repr.Emit(bytes);
        Assert.True(DhcpRepr.TryParse(bytes, out var parsed, out _));
        Assert.Equal(repr, parsed);
        Assert.Equal(DhcpOperation.BootRequest, parsed.Operation);
    }

    [Fact]
    public void Refuses_a_missing_magic_cookie_a_truncated_message_and_an_overrunning_option()
    {
        var bytes = Dhcp(WireFixtures.DhcpDiscover);
        bytes[236] = 0;
        Assert.False(DhcpView.TryParse(bytes, out _, out var reason));
        Assert.Equal(DropReason.BadMagicCookie, reason);

        Assert.False(DhcpView.TryParse(Dhcp(WireFixtures.DhcpDiscover).AsSpan(0, 239), out _, out reason));
        Assert.Equal(DropReason.Truncated, reason);

        bytes = Dhcp(WireFixtures.DhcpDiscover).AsSpan(0, 246).ToArray();
        bytes[244] = 61;
        bytes[245] = 200; // client id claims 200 bytes, the buffer ends
        Assert.False(DhcpView.TryParse(bytes, out _, out reason));
        Assert.Equal(DropReason.BadOption, reason);
    }

    [Fact]
    public void Treats_plain_bootp_without_message_type_as_missing_message_type()
    {
        var bytes = Dhcp(WireFixtures.DhcpDiscover);
        bytes[240] = DhcpOptionCode.Pad;
        bytes[241] = DhcpOptionCode.Pad;
        bytes[242] = DhcpOptionCode.Pad;
        Assert.True(DhcpView.TryParse(bytes, out var message, out _));
        Assert.Equal((DhcpMessageType)0, message.MessageType);
        Assert.False(DhcpRepr.TryParse(message, out _, out var reason));
        Assert.Equal(DropReason.MissingMessageType, reason);
    }

    [Fact]
    public void Renewal_and_rebinding_times_round_trip_and_are_emitted_as_options_58_and_59()
    {
        var ack = new DhcpRepr(DhcpMessageType.Ack, 42, Client)
        {
            YourAddress = Ipv4Address.Parse("100.64.1.10"),
            ServerIdentifier = Ipv4Address.Parse("169.254.0.1"),
            LeaseTime = 60,
            RenewalTime = 1,
            RebindingTime = 50,
        };
        var bytes = new byte[ack.BufferLength];
        ack.Emit(bytes);
        Assert.True(DhcpView.TryParse(bytes, out var view, out _));
        Assert.True(view.TryGetOption(DhcpOptionCode.RenewalTime, out var t1));
        Assert.Equal(new byte[] { 0, 0, 0, 1 }, t1.ToArray());
        Assert.True(view.TryGetOption(DhcpOptionCode.RebindingTime, out var t2));
        Assert.Equal(new byte[] { 0, 0, 0, 50 }, t2.ToArray());
        Assert.True(DhcpRepr.TryParse(bytes, out var parsed, out _));
        Assert.Equal(ack, parsed);
    }
}
