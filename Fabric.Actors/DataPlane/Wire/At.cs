namespace Fabric.Actors.DataPlane.Wire;

// AT command responses (ITU-T V.250 §5.7, 3GPP TS 27.007 §4 and §9), as a modem's serial control
// device sends them: lines of printable ASCII separated by CR LF.
//
//   <CR><LF>+CSQ: 21,99<CR><LF>             information text of an extended command: "+NAME: params"
//   <CR><LF>OK<CR><LF>                      final result code (also ERROR, +CME ERROR: <err>, NO CARRIER)
//   <CR><LF>+CGEV: ME PDN ACT 1<CR><LF>     unsolicited result code (URC): same shape, no command pending
//   <CR><LF>866834041234567<CR><LF>         plain information text (AT+CGSN without the + form)
//   AT+CSQ<CR>                              the modem echoing our command (ATE1, or after a reboot)
//
// Parameters are comma separated: integers, "quoted strings" (no escapes are decoded), or bare
// tokens (READY, ME PDN ACT 1). Empty parameters are allowed (",,"). Lines arrive already split
// by the serial link (it cuts at CR or LF); this file only classifies and reads one line.

public static class AtLayout
{
    /// <summary>Longest line we accept (V.250 has no limit; real modems stay well under it).</summary>
    public const int MaximumLineLength = 512;

    public const string Ok = "OK";
    public const string Error = "ERROR";
    public const string CmeError = "+CME ERROR";
    public const string NoCarrier = "NO CARRIER";
    public const string Connect = "CONNECT";
}

/// <summary>What a line is, as far as the dialogue cares.</summary>
public enum AtLineKind : byte
{
    /// <summary>A blank line (the CR LF around every response makes many).</summary>
    Empty,

    /// <summary>A command echoed back by the modem (starts with AT).</summary>
    Echo,

    /// <summary>Final result: success.</summary>
    Ok,

    /// <summary>Final result: plain failure.</summary>
    Error,

    /// <summary>Final result: failure with a 27.007 §9.2 error code or text.</summary>
    CmeError,

    /// <summary>Final result of a data call that ended (V.250 §5.7.1).</summary>
    NoCarrier,

    /// <summary>Intermediate result: the link switched to data mode.</summary>
    Connect,

    /// <summary><c>+NAME: parameters</c>: a command's information text, or a URC.</summary>
    Information,

    /// <summary>Any other printable line: an IMEI, RDY, a vendor banner.</summary>
    Text,
}

/// <summary>Why a line was refused.</summary>
public enum AtParseError : byte
{
    None,

    /// <summary>Longer than <see cref="AtLayout.MaximumLineLength"/>.</summary>
    TooLong,

    /// <summary>A control character or a byte outside printable ASCII (line noise, a baud-rate mismatch).</summary>
    NotPrintable,
}

/// <summary>
/// One checked line. After <see cref="TryParse"/> succeeds the accessors cannot fail; a line of
/// noise is refused with a reason, never thrown on.
/// </summary>
public readonly ref struct AtLine
{
    private AtLine(ReadOnlySpan<char> text, AtLineKind kind, ReadOnlySpan<char> name, ReadOnlySpan<char> parameters)
    {
        Text = text;
        Kind = kind;
        Name = name;
        Parameters = parameters;
    }

    /// <summary>The whole line without surrounding spaces.</summary>
    public ReadOnlySpan<char> Text { get; }

    public AtLineKind Kind { get; }

    /// <summary>For <see cref="AtLineKind.Information"/> and <see cref="AtLineKind.CmeError"/>: the name before the colon (<c>+CSQ</c>).</summary>
    public ReadOnlySpan<char> Name { get; }

    /// <summary>What follows <c>NAME:</c>, trimmed; empty for other kinds.</summary>
    public ReadOnlySpan<char> Parameters { get; }

    /// <summary>True for a line that ends a command: OK, ERROR, +CME ERROR, NO CARRIER.</summary>
    public bool IsFinal => Kind is AtLineKind.Ok or AtLineKind.Error or AtLineKind.CmeError or AtLineKind.NoCarrier;

    public bool IsNamed(string name) => Name.SequenceEqual(name);

    public AtParameterReader ReadParameters() => new(Parameters);

    public static bool TryParse(ReadOnlySpan<char> line, out AtLine parsed, out AtParseError error)
    {
        parsed = default;
        if (line.Length > AtLayout.MaximumLineLength)
        {
            error = AtParseError.TooLong;
            return false;
        }
        foreach (var c in line)
        {
            if (c is < ' ' or > '~' && c != '\t')
            {
                error = AtParseError.NotPrintable;
                return false;
            }
        }
        error = AtParseError.None;
        var text = line.Trim();
        if (text.IsEmpty)
        {
            parsed = new AtLine(text, AtLineKind.Empty, default, default);
            return true;
        }
        if (text.SequenceEqual(AtLayout.Ok))
        {
            parsed = new AtLine(text, AtLineKind.Ok, default, default);
        }
        else if (text.SequenceEqual(AtLayout.Error))
        {
            parsed = new AtLine(text, AtLineKind.Error, default, default);
        }
        else if (text.SequenceEqual(AtLayout.NoCarrier))
        {
            parsed = new AtLine(text, AtLineKind.NoCarrier, default, default);
        }
        else if (text.StartsWith(AtLayout.Connect, StringComparison.Ordinal))
        {
            parsed = new AtLine(text, AtLineKind.Connect, default, text[AtLayout.Connect.Length..].Trim());
        }
        else if (text.Length >= 2 && (text[0] is 'A' or 'a') && (text[1] is 'T' or 't'))
        {
            parsed = new AtLine(text, AtLineKind.Echo, default, default);
        }
        else if (text[0] == '+' && text.IndexOf(':') is var colon and > 1)
        {
            var name = text[..colon].TrimEnd();
            var kind = name.SequenceEqual(AtLayout.CmeError) ? AtLineKind.CmeError : AtLineKind.Information;
            parsed = new AtLine(text, kind, name, text[(colon + 1)..].Trim());
        }
        else
        {
            parsed = new AtLine(text, AtLineKind.Text, default, default);
        }
        return true;
    }
}

/// <summary>
/// Reads comma-separated parameters left to right. Every read returns false (and consumes
/// nothing) when the next parameter is missing or of another type.
/// </summary>
public ref struct AtParameterReader
{
    private ReadOnlySpan<char> _rest;
    private bool _done;

    public AtParameterReader(ReadOnlySpan<char> parameters)
    {
        _rest = parameters;
        _done = parameters.Trim().IsEmpty;
    }

    /// <summary>True when every parameter has been read.</summary>
    public readonly bool AtEnd => _done;

    /// <summary>The next parameter as a decimal integer (0..int.MaxValue).</summary>
    public bool TryReadInteger(out int value)
    {
        value = 0;
        if (!TryPeek(out var raw, out var next, out var more) || raw.IsEmpty || raw[0] == '"')
        {
            return false;
        }
        foreach (var c in raw)
        {
            if (c is < '0' or > '9' || value > (int.MaxValue - 9) / 10)
            {
                value = 0;
                return false;
            }
            value = (value * 10) + (c - '0');
        }
        Advance(next, more);
        return true;
    }

    /// <summary>The next parameter as a quoted string (without its quotes).</summary>
    public bool TryReadQuoted(out ReadOnlySpan<char> value)
    {
        value = default;
        if (!TryPeek(out var raw, out var next, out var more) || raw.Length < 2 || raw[0] != '"' || raw[^1] != '"')
        {
            return false;
        }
        value = raw[1..^1];
        Advance(next, more);
        return true;
    }

    /// <summary>The next parameter as written: a bare token or a quoted string without its quotes; empty for ",,".</summary>
    public bool TryReadText(out ReadOnlySpan<char> value)
    {
        value = default;
        if (!TryPeek(out var raw, out var next, out var more))
        {
            return false;
        }
        value = raw.Length >= 2 && raw[0] == '"' && raw[^1] == '"' ? raw[1..^1] : raw;
        Advance(next, more);
        return true;
    }

    /// <summary>
    /// The next raw parameter (quotes kept, trimmed), what follows its comma, and whether a comma
    /// followed at all ("1," has an empty last parameter after the 1).
    /// </summary>
    private readonly bool TryPeek(out ReadOnlySpan<char> raw, out ReadOnlySpan<char> next, out bool more)
    {
        raw = default;
        next = default;
        more = false;
        if (_done)
        {
            return false;
        }
        // A comma inside quotes does not separate (an APN or operator name may hold one).
        var quoted = false;
        for (var i = 0; i < _rest.Length; i++)
        {
            var c = _rest[i];
            if (c == '"')
            {
                quoted = !quoted;
            }
            else if (c == ',' && !quoted)
            {
                raw = _rest[..i].Trim();
                next = _rest[(i + 1)..];
                more = true;
                return true;
            }
        }
        if (quoted)
        {
            return false;
        }
        raw = _rest.Trim();
        return true;
    }

    private void Advance(ReadOnlySpan<char> next, bool more)
    {
        _rest = next;
        _done = !more;
    }
}
