using System.Globalization;

namespace Fabric.Actors.DataPlane.Wire;

// Values of the 3GPP TS 27.007 responses the modem dialogue uses, each with TryParse (false on
// anything malformed, never an exception) and Format (the line a modem would send: the emulator
// speaks with these). Control path: Format allocates a string.

/// <summary>Registration state, &lt;stat&gt; of +CREG/+CGREG/+CEREG (27.007 §7.2, §10.1.22). Unknown values are kept.</summary>
public enum RegistrationStatus : byte
{
    NotRegistered = 0,
    Home = 1,
    Searching = 2,
    Denied = 3,
    Unknown = 4,
    Roaming = 5,
}

public static class RegistrationStatusExtensions
{
    /// <summary>Registered for data, at home or roaming.</summary>
    public static bool IsRegistered(this RegistrationStatus status) => status is RegistrationStatus.Home or RegistrationStatus.Roaming;

    public static string Describe(this RegistrationStatus status) => status switch
    {
        RegistrationStatus.NotRegistered => "not registered",
        RegistrationStatus.Home => "registered (home)",
        RegistrationStatus.Searching => "searching",
        RegistrationStatus.Denied => "denied",
        RegistrationStatus.Unknown => "unknown",
        RegistrationStatus.Roaming => "registered (roaming)",
        _ => $"status {(byte)status}",
    };
}

/// <summary>
/// +CEREG / +CREG / +CGREG: the answer to a read (<c>+CEREG: &lt;n&gt;,&lt;stat&gt;[,&lt;tac&gt;,&lt;ci&gt;[,&lt;AcT&gt;]]</c>)
/// or the URC (<c>+CEREG: &lt;stat&gt;[,&lt;tac&gt;,&lt;ci&gt;[,&lt;AcT&gt;]]</c>). The two are told apart by
/// shape: a read answer starts with two integers, the URC's second parameter (if any) is quoted.
/// </summary>
public readonly record struct AtRegistrationRepr(string Name, RegistrationStatus Status)
{
    public const string Eps = "+CEREG";
    public const string CircuitSwitched = "+CREG";
    public const string Gprs = "+CGREG";

    /// <summary>&lt;n&gt; (URC mode) of a read answer; null for a URC.</summary>
    public int? Mode { get; init; }

    /// <summary>Tracking/location area code, hex text.</summary>
    public string? Area { get; init; }

    /// <summary>Cell id, hex text.</summary>
    public string? CellId { get; init; }

    /// <summary>&lt;AcT&gt;: 7 = E-UTRAN, 2 = UTRAN, 0 = GSM, ...</summary>
    public int? AccessTechnology { get; init; }

    public bool IsUnsolicited => Mode is null;

    public static bool TryParse(AtLine line, out AtRegistrationRepr repr)
    {
        repr = default;
        if (line.Kind != AtLineKind.Information || !(line.IsNamed(Eps) || line.IsNamed(CircuitSwitched) || line.IsNamed(Gprs)))
        {
            return false;
        }
        var reader = line.ReadParameters();
        if (!reader.TryReadInteger(out var first) || first > 255)
        {
            return false;
        }
        int? mode = null;
        var status = first;
        if (reader.TryReadInteger(out var second))
        {
            if (second > 255 || first > 5)
            {
                return false;
            }
            mode = first;
            status = second;
        }
        string? area = null, cell = null;
        int? act = null;
        if (!reader.AtEnd)
        {
            if (!reader.TryReadText(out var a) || !reader.TryReadText(out var c))
            {
                return false;
            }
            area = a.IsEmpty ? null : a.ToString();
            cell = c.IsEmpty ? null : c.ToString();
            if (!reader.AtEnd && reader.TryReadInteger(out var t))
            {
                act = t;
            }
        }
        repr = new AtRegistrationRepr(line.Name.ToString(), (RegistrationStatus)status)
        {
            Mode = mode,
            Area = area,
            CellId = cell,
            AccessTechnology = act,
        };
        return true;
    }

    public string Format()
    {
        var head = Mode is { } n ? $"{Name}: {n},{(byte)Status}" : $"{Name}: {(byte)Status}";
        if (Area is null && CellId is null)
        {
            return head;
        }
        return $"{head},\"{Area}\",\"{CellId}\"" + (AccessTechnology is { } t ? $",{t}" : "");
    }
}

/// <summary>+CSQ: &lt;rssi&gt;,&lt;ber&gt; (27.007 §8.5): rssi 0..31 (-113..-51 dBm), 99 = unknown.</summary>
public readonly record struct AtSignalRepr(int Rssi, int BitErrorRate)
{
    public const string Name = "+CSQ";
    public const int NotKnown = 99;

    /// <summary>Received signal strength in dBm, or null when the modem does not know it.</summary>
    public int? Dbm => Rssi is >= 0 and <= 31 ? -113 + (2 * Rssi) : null;

    public static bool TryParse(AtLine line, out AtSignalRepr repr)
    {
        repr = default;
        if (line.Kind != AtLineKind.Information || !line.IsNamed(Name))
        {
            return false;
        }
        var reader = line.ReadParameters();
        if (!reader.TryReadInteger(out var rssi) || !reader.TryReadInteger(out var ber) || !reader.AtEnd)
        {
            return false;
        }
        if (rssi is > 31 and not NotKnown || ber is > 7 and not NotKnown)
        {
            return false;
        }
        repr = new AtSignalRepr(rssi, ber);
        return true;
    }

    public string Format() => $"{Name}: {Rssi},{BitErrorRate}";
}

/// <summary>
/// +CGPADDR: &lt;cid&gt;[,&lt;PDP_addr&gt;] (27.007 §10.1.14): the address of a PDP context, absent
/// (or 0.0.0.0) while the context is inactive. Only IPv4 contexts are read.
/// </summary>
public readonly record struct AtPdpAddressRepr(int ContextId, Ipv4Address? Address)
{
    public const string Name = "+CGPADDR";

    public static bool TryParse(AtLine line, out AtPdpAddressRepr repr)
    {
        repr = default;
        if (line.Kind != AtLineKind.Information || !line.IsNamed(Name))
        {
            return false;
        }
        var reader = line.ReadParameters();
        if (!reader.TryReadInteger(out var cid))
        {
            return false;
        }
        Ipv4Address? address = null;
        if (!reader.AtEnd)
        {
            if (!reader.TryReadText(out var text))
            {
                return false;
            }
            if (!text.IsEmpty)
            {
                if (!Ipv4Address.TryParse(text, out var parsed))
                {
                    return false;
                }
                address = parsed.IsUnspecified ? null : parsed;
            }
        }
        repr = new AtPdpAddressRepr(cid, address);
        return true;
    }

    public string Format() => Address is { } a ? $"{Name}: {ContextId},\"{a}\"" : $"{Name}: {ContextId}";
}

/// <summary>The packet-domain events of +CGEV (27.007 §10.1.19) the dialogue acts on.</summary>
public enum AtPdpEvent : byte
{
    /// <summary>An event we do not act on (kept, not refused).</summary>
    Other,

    /// <summary><c>ME PDN ACT &lt;cid&gt;</c>: the modem activated a context.</summary>
    MePdnActivated,

    /// <summary><c>ME PDN DEACT &lt;cid&gt;</c>: the modem deactivated a context.</summary>
    MePdnDeactivated,

    /// <summary><c>NW PDN ACT &lt;cid&gt;</c>.</summary>
    NetworkPdnActivated,

    /// <summary><c>NW PDN DEACT &lt;cid&gt;</c>: the network tore the bearer down.</summary>
    NetworkPdnDeactivated,

    /// <summary><c>NW DEACT ...</c> / <c>ME DEACT ...</c> (the pre-EPS forms).</summary>
    Deactivated,

    /// <summary><c>NW DETACH</c> / <c>ME DETACH</c>: the packet domain is gone altogether.</summary>
    Detached,
}

/// <summary>+CGEV: an unsolicited packet-domain event, with the context id where the event names one.</summary>
public readonly record struct AtPdpEventRepr(AtPdpEvent Event, int? ContextId)
{
    public const string Name = "+CGEV";

    public bool EndsBearer => Event is AtPdpEvent.MePdnDeactivated or AtPdpEvent.NetworkPdnDeactivated
        or AtPdpEvent.Deactivated or AtPdpEvent.Detached;

    public static bool TryParse(AtLine line, out AtPdpEventRepr repr)
    {
        repr = default;
        if (line.Kind != AtLineKind.Information || !line.IsNamed(Name))
        {
            return false;
        }
        var text = line.Parameters;
        (string Prefix, AtPdpEvent Event)[] withContext =
        [
            ("ME PDN ACT ", AtPdpEvent.MePdnActivated),
            ("ME PDN DEACT ", AtPdpEvent.MePdnDeactivated),
            ("NW PDN ACT ", AtPdpEvent.NetworkPdnActivated),
            ("NW PDN DEACT ", AtPdpEvent.NetworkPdnDeactivated),
        ];
        foreach (var (prefix, kind) in withContext)
        {
            if (text.StartsWith(prefix, StringComparison.Ordinal))
            {
                var reader = new AtParameterReader(text[prefix.Length..]);
                if (!reader.TryReadInteger(out var cid))
                {
                    return false;
                }
                repr = new AtPdpEventRepr(kind, cid);
                return true;
            }
        }
        if (text.SequenceEqual("NW DETACH") || text.SequenceEqual("ME DETACH"))
        {
            repr = new AtPdpEventRepr(AtPdpEvent.Detached, null);
            return true;
        }
        if (text.StartsWith("NW DEACT ", StringComparison.Ordinal) || text.StartsWith("ME DEACT ", StringComparison.Ordinal))
        {
            repr = new AtPdpEventRepr(AtPdpEvent.Deactivated, LastInteger(text[9..]));
            return true;
        }
        repr = new AtPdpEventRepr(AtPdpEvent.Other, null);
        return true;
    }

    public string Format() => Event switch
    {
        AtPdpEvent.MePdnActivated => $"{Name}: ME PDN ACT {ContextId}",
        AtPdpEvent.MePdnDeactivated => $"{Name}: ME PDN DEACT {ContextId}",
        AtPdpEvent.NetworkPdnActivated => $"{Name}: NW PDN ACT {ContextId}",
        AtPdpEvent.NetworkPdnDeactivated => $"{Name}: NW PDN DEACT {ContextId}",
        AtPdpEvent.Detached => $"{Name}: NW DETACH",
        AtPdpEvent.Deactivated => $"{Name}: NW DEACT \"IP\",\"\",{ContextId}",
        _ => $"{Name}: REJECT",
    };

    private static int? LastInteger(ReadOnlySpan<char> parameters)
    {
        var reader = new AtParameterReader(parameters);
        int? last = null;
        for (var i = 0; i < 8 && !reader.AtEnd; i++)
        {
            if (reader.TryReadInteger(out var n))
            {
                last = n;
            }
            else if (!reader.TryReadText(out _))
            {
                break;
            }
        }
        return last;
    }
}

/// <summary>+CPIN: &lt;code&gt; (27.007 §8.3): READY, or what the SIM waits for (SIM PIN, SIM PUK, ...).</summary>
public readonly record struct AtSimRepr(string Code)
{
    public const string Name = "+CPIN";
    public const string Ready = "READY";

    public bool IsReady => Code == Ready;

    public static bool TryParse(AtLine line, out AtSimRepr repr)
    {
        repr = default;
        if (line.Kind != AtLineKind.Information || !line.IsNamed(Name))
        {
            return false;
        }
        var reader = line.ReadParameters();
        if (!reader.TryReadText(out var code) || code.IsEmpty)
        {
            return false;
        }
        repr = new AtSimRepr(code.ToString());
        return true;
    }

    public string Format() => $"{Name}: {Code}";
}

/// <summary>+CME ERROR: &lt;err&gt; (27.007 §9.2): a numeric code (AT+CMEE=1) or its text (AT+CMEE=2).</summary>
public readonly record struct AtCmeErrorRepr(int? Code, string? Text)
{
    public const string Name = "+CME ERROR";

    // A few codes of 27.007 §9.2.1 / §9.2.2 the dialogue names.
    public const int SimNotInserted = 10;
    public const int SimPinRequired = 11;
    public const int SimFailure = 13;
    public const int NoNetworkService = 30;
    public const int UnspecifiedGprsError = 148;
    public const int MissingOrUnknownApn = 533;

    public static bool TryParse(AtLine line, out AtCmeErrorRepr repr)
    {
        repr = default;
        if (line.Kind != AtLineKind.CmeError)
        {
            return false;
        }
        var reader = line.ReadParameters();
        if (reader.TryReadInteger(out var code))
        {
            repr = new AtCmeErrorRepr(code, null);
            return true;
        }
        if (!line.Parameters.IsEmpty)
        {
            repr = new AtCmeErrorRepr(null, line.Parameters.ToString());
            return true;
        }
        return false;
    }

    public string Format() => Code is { } c ? $"{Name}: {c}" : $"{Name}: {Text}";

    public override string ToString() => Code is { } c ? $"+CME ERROR {c}" : $"+CME ERROR '{Text}'";
}

/// <summary>The product serial number (IMEI, 27.007 §5.4): the plain line of AT+CGSN, or its +CGSN: form.</summary>
public static class AtSerialNumber
{
    public const string Name = "+CGSN";

    public static bool TryParse(AtLine line, out string serial)
    {
        serial = "";
        ReadOnlySpan<char> digits;
        if (line.Kind == AtLineKind.Text)
        {
            digits = line.Text;
        }
        else if (line.Kind == AtLineKind.Information && line.IsNamed(Name))
        {
            var reader = line.ReadParameters();
            if (!reader.TryReadText(out digits))
            {
                return false;
            }
        }
        else
        {
            return false;
        }
        if (digits.Length is < 14 or > 17)
        {
            return false;
        }
        foreach (var c in digits)
        {
            if (c is < '0' or > '9')
            {
                return false;
            }
        }
        serial = digits.ToString();
        return true;
    }
}

/// <summary>The kind of an AT command line (V.250 §5.3, §6.1): <c>AT+X</c>, <c>AT+X?</c>, <c>AT+X=?</c>, <c>AT+X=...</c>.</summary>
public enum AtCommandForm : byte
{
    Action,
    Read,
    Test,
    Set,
}

/// <summary>
/// One command line as the modem (our emulator) receives it: <c>AT</c>, a basic command
/// (<c>ATE0</c>) or one extended command (<c>AT+CGDCONT=1,"IP","internet"</c>). Concatenated
/// commands (<c>AT+A;+B</c>) are not split.
/// </summary>
public readonly ref struct AtCommandLine
{
    private AtCommandLine(ReadOnlySpan<char> name, AtCommandForm form, ReadOnlySpan<char> parameters)
    {
        Name = name;
        Form = form;
        Parameters = parameters;
    }

    /// <summary><c>+CGDCONT</c>, <c>E0</c>, or empty for a bare <c>AT</c>.</summary>
    public ReadOnlySpan<char> Name { get; }

    public AtCommandForm Form { get; }

    public ReadOnlySpan<char> Parameters { get; }

    public bool IsNamed(string name) => Name.Equals(name, StringComparison.OrdinalIgnoreCase);

    public AtParameterReader ReadParameters() => new(Parameters);

    public static bool TryParse(ReadOnlySpan<char> line, out AtCommandLine command)
    {
        command = default;
        if (!AtLine.TryParse(line, out var parsed, out _) || parsed.Kind != AtLineKind.Echo)
        {
            return false;
        }
        var body = parsed.Text[2..];
        if (body.IsEmpty || body[0] != '+')
        {
            command = new AtCommandLine(body, AtCommandForm.Action, default);
            return true;
        }
        var at = body.IndexOfAny('=', '?');
        if (at < 0)
        {
            command = new AtCommandLine(body, AtCommandForm.Action, default);
            return true;
        }
        var name = body[..at];
        var rest = body[at..];
        if (rest.SequenceEqual("?"))
        {
            command = new AtCommandLine(name, AtCommandForm.Read, default);
        }
        else if (rest.SequenceEqual("=?"))
        {
            command = new AtCommandLine(name, AtCommandForm.Test, default);
        }
        else if (rest[0] == '=')
        {
            command = new AtCommandLine(name, AtCommandForm.Set, rest[1..]);
        }
        else
        {
            return false;
        }
        return true;
    }
}

/// <summary>The commands the dialogue sends, spelled once.</summary>
public static class AtCommands
{
    public const string Attention = "AT";
    public const string EchoOff = "ATE0";
    public const string NumericErrors = "AT+CMEE=1";
    public const string SerialNumber = "AT+CGSN";
    public const string SimStatus = "AT+CPIN?";
    public const string EpsRegistrationUrcs = "AT+CEREG=2";
    public const string EpsRegistration = "AT+CEREG?";
    public const string Registration = "AT+CREG?";
    public const string PacketEventUrcs = "AT+CGEREP=2,1";
    public const string SignalQuality = "AT+CSQ";

    public static string DefineContext(int cid, string apn) =>
        string.Create(CultureInfo.InvariantCulture, $"AT+CGDCONT={cid},\"IP\",\"{apn}\"");

    public static string Activate(int cid) => string.Create(CultureInfo.InvariantCulture, $"AT+CGACT=1,{cid}");

    public static string Deactivate(int cid) => string.Create(CultureInfo.InvariantCulture, $"AT+CGACT=0,{cid}");

    public static string Address(int cid) => string.Create(CultureInfo.InvariantCulture, $"AT+CGPADDR={cid}");
}
