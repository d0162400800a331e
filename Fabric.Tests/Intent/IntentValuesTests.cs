using Fabric.Messages.Intent;

namespace Fabric.Tests.Intent;

public class IntentValuesTests
{
    [Theory]
    [InlineData("10.0.0.1", true)]
    [InlineData("255.255.255.255", true)]
    [InlineData("0.0.0.0", true)]
    [InlineData("10.0.0", false)]
    [InlineData("10.0.0.256", false)]
    [InlineData("10.0.0.01", false)]
    [InlineData("10.0.0.1 ", false)]
    [InlineData("+1.0.0.1", false)]
    public void An_ipv4_address_is_a_strict_dotted_quad(string text, bool valid)
    {
        Assert.Equal(valid, Ipv4.TryParse(text, out var address));
        if (valid) Assert.Equal(text, address.ToString());
    }

    [Fact]
    public void A_cidr_knows_its_network_and_what_it_contains()
    {
        Assert.True(Ipv4Cidr.TryParse("10.1.0.1/24", out var cidr));
        Assert.False(cidr.IsNetwork);
        Assert.Equal("10.1.0.0", cidr.Network.ToString());
        Assert.Equal("10.1.0.255", cidr.Broadcast.ToString());
        Assert.True(cidr.Contains(new Ipv4(0x0A0100FE)));
        Assert.False(cidr.Contains(new Ipv4(0x0A0101FE)));
        Assert.True(Ipv4Cidr.TryParse("0.0.0.0/0", out var any) && any.IsNetwork && any.Contains(new Ipv4(0xC0000201)));
        Assert.True(Ipv4Cidr.TryParse("10.0.0.0/8", out var wide) && wide.Overlaps(cidr) && cidr.Overlaps(wide));
        Assert.False(Ipv4Cidr.TryParse("10.1.0.1/33", out _));
        Assert.False(Ipv4Cidr.TryParse("10.1.0.1", out _));
        Assert.True(Ipv4Cidr.TryParse("10.1.0.1", out var host, bareAddressIsHost: true) && host.PrefixLength == 32);
    }

    [Theory]
    [InlineData("02:00:5e:10:00:01", "02:00:5e:10:00:01", true)]
    [InlineData("02-00-5E-10-00-01", "02:00:5e:10:00:01", true)]
    [InlineData("01:00:5e:00:00:01", "01:00:5e:00:00:01", false)]
    [InlineData("00:00:00:00:00:00", "00:00:00:00:00:00", false)]
    public void A_mac_prints_as_lower_case_colon_pairs_and_knows_if_it_is_unicast(string text, string canonical, bool unicast)
    {
        Assert.True(Mac48.TryParse(text, out var mac));
        Assert.Equal(canonical, mac.ToString());
        Assert.Equal(unicast, mac.IsUnicast);
    }

    [Theory]
    [InlineData("02:00:5e:10:00")]
    [InlineData("02:00-5e:10:00:01")]
    [InlineData("0g:00:5e:10:00:01")]
    public void A_malformed_mac_is_refused(string text) => Assert.False(Mac48.TryParse(text, out _));

    [Theory]
    [InlineData("443", 443, 443)]
    [InlineData("8000-8080", 8000, 8080)]
    public void A_port_range_is_one_port_or_two_ends(string text, int from, int to)
    {
        Assert.True(PortRange.TryParse(text, out var range));
        Assert.Equal((from, to), (range.From, range.To));
        Assert.Equal(text, range.ToString());
    }

    [Theory]
    [InlineData("0")]
    [InlineData("65536")]
    [InlineData("8080-8000")]
    [InlineData("80-")]
    public void A_bad_port_range_is_refused(string text) => Assert.False(PortRange.TryParse(text, out _));
}
