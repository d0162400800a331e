using Fabric.Messages.Intent;
using static Fabric.Tests.Intent.IntentTestDocs;

namespace Fabric.Tests.Intent;

/// <summary>A PW's MTU is part of its intent; both ends of a PW pair must agree (RFC 4447 §5.1).</summary>
public class PwMtuIntentTests
{
    // Lines of IntentTestDocs.Pseudowires: pw-1 (pe-a -> pe-b, labels 1001/2001) is lines 15-19,
    // its other end pw-3 (pe-b -> pe-a, 2001/1001) lines 25-29.
    private static string MtuOnPw1AndPw3(string? pw1, string? pw3)
    {
        var doc = Pseudowires;
        if (pw3 is not null) doc = doc.Inserting(30, $"    mtu: {pw3}");
        if (pw1 is not null) doc = doc.Inserting(20, $"    mtu: {pw1}");
        return doc;
    }

    [Fact]
    public void Both_ends_with_the_same_mtu_are_valid_and_the_mtu_round_trips_through_json()
    {
        var document = Valid(MtuOnPw1AndPw3("1400", "1400"));
        Assert.Equal(1400, document.Pws.Single(p => p.Name == "pw-1").Mtu);
        Assert.Equal(1400, document.Pws.Single(p => p.Name == "pw-3").Mtu);
        Assert.Null(document.Pws.Single(p => p.Name == "pw-2").Mtu);
        var again = Valid(IntentJson.Write(document));
        Assert.Equal(1400, again.Pws.Single(p => p.Name == "pw-1").Mtu);
        Assert.Null(again.Pws.Single(p => p.Name == "pw-2").Mtu);
    }

    [Fact]
    public void Different_mtus_on_the_two_ends_are_refused_once_per_pair_at_the_first_end()
    {
        SingleError(MtuOnPw1AndPw3("1400", "1500"), 20, "pws[0].mtu",
            "mtu 1400 differs from 1500 on pw 'pw-3', its other end: both ends of a pw must have the same mtu");
    }

    [Fact]
    public void An_mtu_on_one_end_only_is_refused()
    {
        SingleError(MtuOnPw1AndPw3("1400", null), 20, "pws[0].mtu",
            "mtu 1400 differs from (unset) on pw 'pw-3', its other end: both ends of a pw must have the same mtu");
        SingleError(MtuOnPw1AndPw3(null, "1400"), 15, "pws[0].name",
            "mtu (unset) differs from 1400 on pw 'pw-3', its other end: both ends of a pw must have the same mtu");
    }

    [Fact]
    public void An_mtu_outside_576_to_1902_is_refused()
    {
        var errors = Refused(MtuOnPw1AndPw3("9000", "9000"));
        Assert.Contains(errors, e => e.Field == "pws[0].mtu" && e.Line == 20);
    }
}
