namespace Fabric.Messages.Intent.Parsing;

/// <summary>Value checks with the reason an operator reads when they fail.</summary>
internal static class Checks
{
    public static Ipv4Cidr? InterfaceAddress(string raw, out string? reason)
    {
        reason = null;
        if (!Ipv4Cidr.TryParse(raw, out var cidr))
        {
            reason = $"'{raw}' is not an IPv4 address with a prefix length (a.b.c.d/n)";
            return null;
        }
        // /31 (RFC 3021) and /32 have no network or broadcast address to avoid.
        if (cidr.PrefixLength <= 30 && (cidr.IsNetwork || cidr.Address == cidr.Broadcast))
        {
            reason = $"'{raw}' is the {(cidr.IsNetwork ? "network" : "broadcast")} address of its subnet; an interface needs a host address";
            return null;
        }
        return cidr;
    }

    public static Ipv4Cidr? Network(string raw, bool bareAddressIsHost, out string? reason)
    {
        reason = null;
        if (!Ipv4Cidr.TryParse(raw, out var cidr, bareAddressIsHost))
        {
            reason = bareAddressIsHost
                ? $"'{raw}' is not an IPv4 address or CIDR (a.b.c.d/n)"
                : $"'{raw}' is not an IPv4 CIDR (a.b.c.d/n)";
            return null;
        }
        if (!cidr.IsNetwork)
        {
            reason = $"'{raw}' has host bits set; the network is {cidr.Network}/{cidr.PrefixLength}";
            return null;
        }
        return cidr;
    }

    public static Mac48? UnicastMac(string raw, out string? reason)
    {
        reason = null;
        if (!Mac48.TryParse(raw, out var mac))
        {
            reason = $"'{raw}' is not a MAC address (xx:xx:xx:xx:xx:xx)";
            return null;
        }
        if (!mac.IsUnicast)
        {
            reason = $"'{raw}' is not a unicast MAC address (zero, or the group bit is set)";
            return null;
        }
        return mac;
    }

    /// <summary>Linux interface names: at most 15 bytes (IFNAMSIZ - 1), no '/', ':' or whitespace.</summary>
    /// <summary>
    /// Why <paramref name="netns"/> is not acceptable as a port's network namespace, or null. The
    /// node opens <c>/run/netns/NAME</c>, so the name must stay one plain file name there.
    /// </summary>
    public static string? NamespaceProblem(string netns)
    {
        const string grammar = "1..63 ASCII letters, digits, '.', '_' or '-', not '.' or '..'; the node opens /run/netns/NAME";
        if (netns.Contains('/'))
            return $"'{Printable(netns)}' is not a network namespace name: it contains '/' ({grammar})";
        if (netns is "." or ".." || netns.Contains(".."))
            return $"'{Printable(netns)}' is not a network namespace name: it contains '..' ({grammar})";
        if (netns.Length is 0 or > 63 || !netns.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
            return $"'{Printable(netns)}' is not a network namespace name ({grammar})";
        return null;
    }

    private static string Printable(string text) =>
        new(text.Take(64).Select(c => char.IsControl(c) ? '?' : c).ToArray());

    public static bool IsTapName(string name) =>
        name.Length is > 0 and <= 15 && name is not ("." or "..")
        && name.All(c => char.IsAscii(c) && !char.IsWhiteSpace(c) && c is not ('/' or ':') && !char.IsControl(c));

    /// <summary>
    /// Why <paramref name="path"/> is not acceptable as a modem's serial device, or null. Checked
    /// as written (the document is validated away from the node that runs the modem): absolute,
    /// under /dev/, no empty, <c>.</c> or <c>..</c> segment, printable. The node resolves
    /// symlinks again when it opens the device and refuses a target outside /dev/.
    /// </summary>
    public static string? DevicePath(string path)
    {
        const string hint = "a serial device path under /dev/ (like /dev/ttyUSB2) or 'simulated'";
        if (!path.StartsWith("/dev/", StringComparison.Ordinal))
            return $"'{path}' is neither a serial device path under /dev/ (like /dev/ttyUSB2) nor 'simulated'";
        if (path.Any(c => c <= ' ' || c == 0x7F))
            return $"'{path}' holds a space or control character; expected {hint}";
        var segments = path["/dev/".Length..].Split('/');
        if (segments.Any(s => s is ".." or "."))
            return $"'{path}' leaves /dev/ or is not canonical: '.' and '..' are not allowed in a device path";
        if (segments.Any(s => s.Length == 0))
            return $"'{path}' has an empty path segment; expected {hint}";
        return null;
    }

    /// <summary>Why <paramref name="apn"/> is not an APN network identifier (3GPP TS 23.003 §9.1), or null.</summary>
    public static string? Apn(string apn)
    {
        var labels = apn.Split('.');
        var valid = apn.Length <= 100 && labels.All(l => l.Length > 0 && char.IsAsciiLetterOrDigit(l[0]) && char.IsAsciiLetterOrDigit(l[^1])
            && l.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'));
        return valid ? null : $"'{apn}' is not an APN: labels of letters, digits and '-' separated by '.', at most 100 characters (3GPP TS 23.003 §9.1)";
    }
}
