using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Tests.DataPlane.Wire;

/// <summary>AT response lines as modems send them (captured from Quectel/Sierra/Telit logs and 27.007's examples).</summary>
public class AtTests
{
    private static AtLine Parse(string text)
    {
        Assert.True(AtLine.TryParse(text, out var line, out var error), $"'{text}': {error}");
        return line;
    }

    [Theory]
    [InlineData("OK", AtLineKind.Ok)]
    [InlineData("ERROR", AtLineKind.Error)]
    [InlineData("+CME ERROR: 10", AtLineKind.CmeError)]
    [InlineData("NO CARRIER", AtLineKind.NoCarrier)]
    [InlineData("CONNECT 150000000", AtLineKind.Connect)]
    [InlineData("+CSQ: 21,99", AtLineKind.Information)]
    [InlineData("AT+CSQ", AtLineKind.Echo)]
    [InlineData("866834041234567", AtLineKind.Text)]
    [InlineData("RDY", AtLineKind.Text)]
    [InlineData("   ", AtLineKind.Empty)]
    public void Classifies_each_kind_of_line(string text, AtLineKind kind) => Assert.Equal(kind, Parse(text).Kind);

    [Fact]
    public void Refuses_noise_and_overlong_lines_without_throwing()
    {
        Assert.False(AtLine.TryParse("+CSQ: 2\u00011,99", out _, out var error));
        Assert.Equal(AtParseError.NotPrintable, error);
        Assert.False(AtLine.TryParse("\u00ff\u00fe\u0000", out _, out error));
        Assert.Equal(AtParseError.NotPrintable, error);
        Assert.False(AtLine.TryParse(new string('A', 600), out _, out error));
        Assert.Equal(AtParseError.TooLong, error);
    }

    [Fact]
    public void Reads_the_eps_registration_read_answer_and_the_urc_apart()
    {
        Assert.True(AtRegistrationRepr.TryParse(Parse("+CEREG: 2,1,\"1A2B\",\"01A2B3C4\",7"), out var read));
        Assert.Equal(new AtRegistrationRepr("+CEREG", RegistrationStatus.Home) { Mode = 2, Area = "1A2B", CellId = "01A2B3C4", AccessTechnology = 7 }, read);
        Assert.False(read.IsUnsolicited);

        Assert.True(AtRegistrationRepr.TryParse(Parse("+CEREG: 5,\"1A2B\",\"01A2B3C4\",7"), out var urc));
        Assert.True(urc.IsUnsolicited);
        Assert.Equal(RegistrationStatus.Roaming, urc.Status);
        Assert.Equal("1A2B", urc.Area);

        Assert.True(AtRegistrationRepr.TryParse(Parse("+CEREG: 2"), out var searching));
        Assert.True(searching.IsUnsolicited);
        Assert.False(searching.Status.IsRegistered());

        Assert.True(AtRegistrationRepr.TryParse(Parse("+CREG: 0,1"), out var creg));
        Assert.True(creg.Status.IsRegistered());
    }

    [Theory]
    [InlineData("+CEREG: x,1")]
    [InlineData("+CEREG:")]
    [InlineData("+CEREG: 1,\"1A2B")]
    [InlineData("+CEREG: 9,1")]
    [InlineData("+CSQ: 21,99")]
    public void Refuses_a_malformed_registration(string text) =>
        Assert.False(AtRegistrationRepr.TryParse(Parse(text), out _));

    [Fact]
    public void Reads_signal_quality_in_dbm()
    {
        Assert.True(AtSignalRepr.TryParse(Parse("+CSQ: 21,99"), out var csq));
        Assert.Equal(-71, csq.Dbm);
        Assert.True(AtSignalRepr.TryParse(Parse("+CSQ: 99,99"), out var unknown));
        Assert.Null(unknown.Dbm);
        Assert.False(AtSignalRepr.TryParse(Parse("+CSQ: 40,99"), out _));
        Assert.False(AtSignalRepr.TryParse(Parse("+CSQ: 21"), out _));
        Assert.False(AtSignalRepr.TryParse(Parse("+CSQ: 21,99,4"), out _));
    }

    [Fact]
    public void Reads_the_pdp_address_quoted_bare_or_absent()
    {
        Assert.True(AtPdpAddressRepr.TryParse(Parse("+CGPADDR: 1,\"100.64.3.10\""), out var quoted));
        Assert.Equal(new AtPdpAddressRepr(1, Ipv4Address.Parse("100.64.3.10")), quoted);
        Assert.True(AtPdpAddressRepr.TryParse(Parse("+CGPADDR: 1,10.0.0.5"), out var bare));
        Assert.Equal(Ipv4Address.Parse("10.0.0.5"), bare.Address);
        Assert.True(AtPdpAddressRepr.TryParse(Parse("+CGPADDR: 1"), out var none));
        Assert.Null(none.Address);
        Assert.True(AtPdpAddressRepr.TryParse(Parse("+CGPADDR: 1,\"0.0.0.0\""), out var zero));
        Assert.Null(zero.Address);
        Assert.False(AtPdpAddressRepr.TryParse(Parse("+CGPADDR: 1,\"300.1.1.1\""), out _));
        Assert.False(AtPdpAddressRepr.TryParse(Parse("+CGPADDR: one"), out _));
    }

    [Theory]
    [InlineData("+CGEV: ME PDN ACT 1", AtPdpEvent.MePdnActivated, 1)]
    [InlineData("+CGEV: ME PDN DEACT 1", AtPdpEvent.MePdnDeactivated, 1)]
    [InlineData("+CGEV: NW PDN DEACT 3", AtPdpEvent.NetworkPdnDeactivated, 3)]
    [InlineData("+CGEV: NW PDN ACT 2,0", AtPdpEvent.NetworkPdnActivated, 2)]
    [InlineData("+CGEV: NW DETACH", AtPdpEvent.Detached, null)]
    [InlineData("+CGEV: NW DEACT \"IP\",\"10.1.1.1\",1", AtPdpEvent.Deactivated, 1)]
    [InlineData("+CGEV: NW CLASS \"B\"", AtPdpEvent.Other, null)]
    public void Reads_packet_domain_events(string text, AtPdpEvent expected, int? cid)
    {
        Assert.True(AtPdpEventRepr.TryParse(Parse(text), out var ev));
        Assert.Equal(new AtPdpEventRepr(expected, cid), ev);
    }

    [Fact]
    public void Reads_sim_state_errors_and_the_serial_number()
    {
        Assert.True(AtSimRepr.TryParse(Parse("+CPIN: READY"), out var ready));
        Assert.True(ready.IsReady);
        Assert.True(AtSimRepr.TryParse(Parse("+CPIN: SIM PIN"), out var pin));
        Assert.False(pin.IsReady);

        Assert.True(AtCmeErrorRepr.TryParse(Parse("+CME ERROR: 10"), out var numeric));
        Assert.Equal(AtCmeErrorRepr.SimNotInserted, numeric.Code);
        Assert.True(AtCmeErrorRepr.TryParse(Parse("+CME ERROR: SIM not inserted"), out var verbose));
        Assert.Equal("SIM not inserted", verbose.Text);

        Assert.True(AtSerialNumber.TryParse(Parse("866834041234567"), out var imei));
        Assert.Equal("866834041234567", imei);
        Assert.True(AtSerialNumber.TryParse(Parse("+CGSN: \"866834041234567\""), out imei));
        Assert.Equal("866834041234567", imei);
        Assert.False(AtSerialNumber.TryParse(Parse("RDY"), out _));
    }

    [Fact]
    public void Every_repr_formats_a_line_that_parses_back_to_itself()
    {
        var registration = new AtRegistrationRepr("+CEREG", RegistrationStatus.Home) { Mode = 2, Area = "1A2B", CellId = "01A2B3C4", AccessTechnology = 7 };
        Assert.True(AtRegistrationRepr.TryParse(Parse(registration.Format()), out var r));
        Assert.Equal(registration, r);
        var signal = new AtSignalRepr(17, 0);
        Assert.True(AtSignalRepr.TryParse(Parse(signal.Format()), out var s));
        Assert.Equal(signal, s);
        var address = new AtPdpAddressRepr(1, Ipv4Address.Parse("100.64.9.11"));
        Assert.True(AtPdpAddressRepr.TryParse(Parse(address.Format()), out var a));
        Assert.Equal(address, a);
        foreach (var ev in new[] { new AtPdpEventRepr(AtPdpEvent.MePdnActivated, 1), new AtPdpEventRepr(AtPdpEvent.NetworkPdnDeactivated, 1), new AtPdpEventRepr(AtPdpEvent.Detached, null) })
        {
            Assert.True(AtPdpEventRepr.TryParse(Parse(ev.Format()), out var e));
            Assert.Equal(ev, e);
        }
    }

    [Fact]
    public void Splits_a_command_line_into_name_form_and_parameters()
    {
        Assert.True(AtCommandLine.TryParse("AT+CGDCONT=1,\"IP\",\"inter,net\"", out var set));
        Assert.True(set.IsNamed("+CGDCONT"));
        Assert.Equal(AtCommandForm.Set, set.Form);
        var reader = set.ReadParameters();
        Assert.True(reader.TryReadInteger(out var cid));
        Assert.Equal(1, cid);
        Assert.True(reader.TryReadQuoted(out var type));
        Assert.Equal("IP", type.ToString());
        Assert.True(reader.TryReadQuoted(out var apn));
        Assert.Equal("inter,net", apn.ToString());
        Assert.True(reader.AtEnd);

        Assert.True(AtCommandLine.TryParse("AT+CEREG?", out var read));
        Assert.Equal(AtCommandForm.Read, read.Form);
        Assert.True(AtCommandLine.TryParse("AT+CEREG=?", out var test));
        Assert.Equal(AtCommandForm.Test, test.Form);
        Assert.True(AtCommandLine.TryParse("ATE0", out var basic));
        Assert.Equal("E0", basic.Name.ToString());
        Assert.False(AtCommandLine.TryParse("HELLO", out _));
    }

    [Fact]
    public void The_parameter_reader_keeps_empty_parameters_and_never_reads_past_the_end()
    {
        var reader = new AtParameterReader("1,,\"x\",");
        Assert.True(reader.TryReadInteger(out _));
        Assert.True(reader.TryReadText(out var empty));
        Assert.True(empty.IsEmpty);
        Assert.False(reader.TryReadInteger(out _)); // a string is not an integer, and is not consumed
        Assert.True(reader.TryReadQuoted(out var x));
        Assert.Equal("x", x.ToString());
        Assert.False(reader.AtEnd);
        Assert.True(reader.TryReadText(out var last));
        Assert.True(last.IsEmpty);
        Assert.True(reader.AtEnd);
        Assert.False(reader.TryReadText(out _));
        Assert.False(new AtParameterReader("\"open").TryReadText(out _));
    }
}
