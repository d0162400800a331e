using static Fabric.Tests.Intent.IntentTestDocs;

namespace Fabric.Tests.Intent;

/// <summary>A gateway's uplink and downlink may name their MTU; a value no IPv4 link has is refused at its line.</summary>
public class GatewayMtuIntentTests
{
    // IntentTestDocs.Gateway: the tenant's networks are line 12, its uplink lines 13-15.
    private static string WithMtus(string? uplink, string? downlink)
    {
        var doc = Gateway;
        if (uplink is not null) doc = doc.Inserting(16, $"          mtu: {uplink}");
        if (downlink is not null) doc = doc.Inserting(13, $"        downlink: {{kind: tap, name: tap-down, mtu: {downlink}}}");
        return doc;
    }

    [Fact]
    public void Uplink_and_downlink_mtus_are_read_and_round_trip_through_json()
    {
        var document = Valid(WithMtus("1400", "9000"));
        var tenant = document.Gateways.Single().Tenants.Single();
        Assert.Equal(1400, tenant.Uplink!.Mtu);
        Assert.Equal(9000, tenant.DownlinkMtu);
        var again = Valid(Fabric.Messages.Intent.IntentJson.Write(document)).Gateways.Single().Tenants.Single();
        Assert.Equal((1400, 9000), (again.Uplink!.Mtu, again.DownlinkMtu));

        var unset = Valid(Gateway).Gateways.Single().Tenants.Single();
        Assert.Null(unset.Uplink!.Mtu);
        Assert.Null(unset.DownlinkMtu);
    }

    [Fact]
    public void An_uplink_mtu_below_68_or_above_65535_is_refused_at_its_line()
    {
        SingleError(WithMtus("67", null), 16, "gateways[0].tenants[0].uplink.mtu", "mtu 67 is out of range 68..65535");
        SingleError(WithMtus("65536", null), 16, "gateways[0].tenants[0].uplink.mtu", "mtu 65536 is out of range 68..65535");
        SingleError(WithMtus("big", null), 16, "gateways[0].tenants[0].uplink.mtu", "expected an integer, got the string 'big'");
    }

    [Fact]
    public void A_downlink_mtu_out_of_range_is_refused_at_its_line()
    {
        SingleError(WithMtus(null, "40"), 13, "gateways[0].tenants[0].downlink.mtu", "mtu 40 is out of range 68..65535");
    }
}
