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
    public static bool IsTapName(string name) =>
        name.Length is > 0 and <= 15 && name is not ("." or "..")
        && name.All(c => char.IsAscii(c) && !char.IsWhiteSpace(c) && c is not ('/' or ':') && !char.IsControl(c));

    /// <summary>
    /// A serial device path, canonical and under <c>/dev/</c>: <c>.</c> and <c>..</c> segments and
    /// repeated slashes are resolved lexically (the device lives on the hypervisor's node, so
    /// links cannot be followed here), and a path that then leaves /dev is refused. A prefix test
    /// alone let <c>/dev/../etc/passwd</c> through.
    /// </summary>
    public static string? DevicePath(string raw, out string? reason)
    {
        reason = null;
        if (!raw.StartsWith('/'))
        {
            reason = $"'{raw}' is neither a device path under /dev/ nor '{ModemIntent.SimulatedDevice}'";
            return null;
        }
        if (raw.Any(char.IsControl))
        {
            reason = "a device path must not contain control characters";
            return null;
        }
        var segments = new List<string>();
        foreach (var segment in raw.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (segment == ".") continue;
            if (segment == "..")
            {
                if (segments.Count > 0) segments.RemoveAt(segments.Count - 1);
                continue;
            }
            segments.Add(segment);
        }
        var canonical = "/" + string.Join('/', segments);
        if (segments.Count < 2 || segments[0] != "dev")
        {
            reason = canonical == raw
                ? $"'{raw}' is not a device path under /dev/"
                : $"'{raw}' resolves to '{canonical}', which is not a device under /dev/";
            return null;
        }
        return canonical;
    }
}
