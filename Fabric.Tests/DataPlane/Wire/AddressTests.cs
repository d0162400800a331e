using System.Net;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Tests.DataPlane.Wire;

public class MacAddressTests
{
    [Theory]
    [InlineData("52:54:00:12:34:56", 0x5254_0012_3456UL)]
    [InlineData("52-54-00-AB-CD-EF", 0x5254_00AB_CDEFUL)]
    [InlineData("ff:ff:ff:ff:ff:ff", 0xFFFF_FFFF_FFFFUL)]
    public void Parses_colon_or_dash_separated_hex(string text, ulong expected)
    {
        Assert.True(MacAddress.TryParse(text, out var mac));
        Assert.Equal(expected, mac.ToUInt64());
    }

    [Theory]
    [InlineData("")]
    [InlineData("52:54:00:12:34")]
    [InlineData("52:54:00:12:34:5g")]
    [InlineData("52:54-00:12:34:56")]
    [InlineData("52:54:00:12:34:56:")]
    [InlineData("5254.0012.3456xx")]
    public void Refuses_malformed_text(string text) => Assert.False(MacAddress.TryParse(text, out _));

    [Fact]
    public void Formats_lowercase_with_colons_and_round_trips() =>
        Assert.Equal("52:54:00:ab:cd:ef", MacAddress.Parse("52:54:00:AB:CD:EF").ToString());

    [Fact]
    public void Reads_and_writes_six_bytes_in_transmission_order()
    {
        var bytes = new byte[] { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
        var mac = MacAddress.Read(bytes);
        Assert.Equal(MacAddress.Parse("52:54:00:12:34:56"), mac);
        var written = new byte[6];
        mac.WriteTo(written);
        Assert.Equal(bytes, written);
        Assert.False(MacAddress.TryRead(bytes.AsSpan(0, 5), out _));
    }

    [Fact]
    public void Knows_broadcast_multicast_and_locally_administered_bits()
    {
        Assert.True(MacAddress.Broadcast.IsBroadcast);
        Assert.True(MacAddress.Broadcast.IsMulticast);
        Assert.True(MacAddress.Parse("01:00:5e:00:00:16").IsMulticast);
        Assert.True(MacAddress.Parse("52:54:00:12:34:56").IsUnicast);
        Assert.True(MacAddress.Parse("02:00:00:00:00:01").IsLocallyAdministered);
        Assert.False(MacAddress.Parse("00:1b:21:00:00:01").IsLocallyAdministered);
    }

    [Fact]
    public void Ignores_bits_above_48_when_built_from_an_integer() =>
        Assert.Equal(MacAddress.Broadcast, new MacAddress(ulong.MaxValue));
}

public class Ipv4AddressTests
{
    [Theory]
    [InlineData("10.0.0.1", 0x0A00_0001u)]
    [InlineData("0.0.0.0", 0u)]
    [InlineData("255.255.255.255", 0xFFFF_FFFFu)]
    [InlineData("192.168.100.200", 0xC0A8_64C8u)]
    public void Parses_dotted_decimal(string text, uint expected)
    {
        Assert.True(Ipv4Address.TryParse(text, out var address));
        Assert.Equal(expected, address.ToUInt32());
        Assert.Equal(text, address.ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("10.0.0")]
    [InlineData("10.0.0.1.")]
    [InlineData("10.0.0.256")]
    [InlineData("10.0.0.-1")]
    [InlineData("010.0.0.1")]
    [InlineData("10..0.1")]
    [InlineData("1000.0.0.1")]
    [InlineData(" 10.0.0.1")]
    public void Refuses_anything_but_strict_dotted_decimal(string text) => Assert.False(Ipv4Address.TryParse(text, out _));

    [Fact]
    public void Converts_to_and_from_IPAddress_at_the_edges()
    {
        var address = Ipv4Address.FromIPAddress(IPAddress.Parse("172.16.5.4"));
        Assert.Equal(new Ipv4Address(172, 16, 5, 4), address);
        Assert.Equal(IPAddress.Parse("172.16.5.4"), address.ToIPAddress());
        Assert.Throws<ArgumentException>(() => Ipv4Address.FromIPAddress(IPAddress.IPv6Loopback));
    }

    [Fact]
    public void Matches_subnets_by_prefix()
    {
        var address = Ipv4Address.Parse("10.1.2.3");
        Assert.True(address.IsInSubnet(Ipv4Address.Parse("10.1.0.0"), 16));
        Assert.False(address.IsInSubnet(Ipv4Address.Parse("10.2.0.0"), 16));
        Assert.True(address.IsInSubnet(Ipv4Address.Any, 0));
        Assert.Equal(Ipv4Address.Parse("255.255.255.0"), Ipv4Address.MaskOf(24));
        Assert.Equal(Ipv4Address.Broadcast, Ipv4Address.MaskOf(32));
    }

    [Fact]
    public void Classifies_special_ranges()
    {
        Assert.True(Ipv4Address.Parse("224.0.0.22").IsMulticast);
        Assert.True(Ipv4Address.Parse("127.0.0.1").IsLoopback);
        Assert.True(Ipv4Address.Parse("169.254.1.1").IsLinkLocal);
        Assert.True(Ipv4Address.Broadcast.IsBroadcast);
        Assert.True(Ipv4Address.Any.IsUnspecified);
    }
}
