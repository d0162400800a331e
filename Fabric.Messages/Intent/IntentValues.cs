using System.Globalization;

namespace Fabric.Messages.Intent;

// The intent's own small value types. They are deliberately not System.Net types: an intent
// document crosses the cluster (Hyperion, allow-listed to Fabric.Messages types), and their
// canonical text is what the canonical JSON writes. The data plane has its own wire types.

/// <summary>An IPv4 address, held in network order as one <see cref="uint"/>; text is dotted quad.</summary>
public readonly record struct Ipv4(uint Value)
{
    /// <summary>Strict dotted quad: four decimal octets 0..255, no leading zeros, nothing else.</summary>
    public static bool TryParse(string? text, out Ipv4 address)
    {
        address = default;
        if (string.IsNullOrEmpty(text)) return false;
        var parts = text.Split('.');
        if (parts.Length != 4) return false;
        uint value = 0;
        foreach (var part in parts)
        {
            if (part.Length is 0 or > 3 || (part.Length > 1 && part[0] == '0')) return false;
            if (!part.All(char.IsAsciiDigit)) return false;
            var octet = uint.Parse(part, CultureInfo.InvariantCulture);
            if (octet > 255) return false;
            value = (value << 8) | octet;
        }
        address = new Ipv4(value);
        return true;
    }

    public override string ToString() =>
        $"{Value >> 24}.{(Value >> 16) & 0xFF}.{(Value >> 8) & 0xFF}.{Value & 0xFF}";
}

/// <summary>
/// An IPv4 address with a prefix length, as in <c>10.1.0.1/24</c>. Host bits may be set: an
/// interface address (a gateway's address on its network) is written this way. Where only a
/// network makes sense the parser requires <see cref="IsNetwork"/>.
/// </summary>
public readonly record struct Ipv4Cidr(Ipv4 Address, int PrefixLength)
{
    public uint Mask => PrefixLength == 0 ? 0u : uint.MaxValue << (32 - PrefixLength);

    public Ipv4 Network => new(Address.Value & Mask);

    public Ipv4 Broadcast => new(Address.Value | ~Mask);

    /// <summary>True when no host bit is set (the address is the network itself).</summary>
    public bool IsNetwork => (Address.Value & ~Mask) == 0;

    public bool Contains(Ipv4 address) => (address.Value & Mask) == Network.Value;

    public bool Overlaps(Ipv4Cidr other)
    {
        var mask = PrefixLength < other.PrefixLength ? Mask : other.Mask;
        return (Address.Value & mask) == (other.Address.Value & mask);
    }

    /// <summary>Parses <c>a.b.c.d/n</c>; with <paramref name="bareAddressIsHost"/> a bare address means /32.</summary>
    public static bool TryParse(string? text, out Ipv4Cidr cidr, bool bareAddressIsHost = false)
    {
        cidr = default;
        if (string.IsNullOrEmpty(text)) return false;
        var slash = text.IndexOf('/');
        if (slash < 0)
        {
            if (!bareAddressIsHost || !Ipv4.TryParse(text, out var host)) return false;
            cidr = new Ipv4Cidr(host, 32);
            return true;
        }
        var lengthText = text[(slash + 1)..];
        if (!Ipv4.TryParse(text[..slash], out var address)) return false;
        if (lengthText.Length is 0 or > 2 || !lengthText.All(char.IsAsciiDigit)) return false;
        if (lengthText.Length > 1 && lengthText[0] == '0') return false;
        var length = int.Parse(lengthText, CultureInfo.InvariantCulture);
        if (length > 32) return false;
        cidr = new Ipv4Cidr(address, length);
        return true;
    }

    public override string ToString() => $"{Address}/{PrefixLength}";
}

/// <summary>A 48-bit IEEE MAC address; text is six lower-case hex pairs separated by colons.</summary>
public readonly record struct Mac48(ulong Value)
{
    /// <summary>Individual (unicast) and not all zeros: what an interface may own.</summary>
    public bool IsUnicast => Value != 0 && ((Value >> 40) & 0x01) == 0;

    /// <summary>Accepts <c>02:00:5e:10:00:01</c> or <c>02-00-5E-10-00-01</c>, either case.</summary>
    public static bool TryParse(string? text, out Mac48 mac)
    {
        mac = default;
        if (text is null || text.Length != 17) return false;
        var separator = text[2];
        if (separator is not (':' or '-')) return false;
        ulong value = 0;
        for (var i = 0; i < 6; i++)
        {
            var at = i * 3;
            if (i > 0 && text[at - 1] != separator) return false;
            if (!char.IsAsciiHexDigit(text[at]) || !char.IsAsciiHexDigit(text[at + 1])) return false;
            value = (value << 8) | byte.Parse(text.AsSpan(at, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        }
        mac = new Mac48(value);
        return true;
    }

    public override string ToString()
    {
        var value = Value;
        return string.Join(':', Enumerable.Range(0, 6).Select(i => ((byte)(value >> (40 - (8 * i)))).ToString("x2", CultureInfo.InvariantCulture)));
    }
}

/// <summary>An inclusive L4 port range; text is <c>80</c> or <c>8000-8080</c>.</summary>
public readonly record struct PortRange(ushort From, ushort To)
{
    public static bool TryParse(string? text, out PortRange range)
    {
        range = default;
        if (string.IsNullOrEmpty(text)) return false;
        var dash = text.IndexOf('-');
        var fromText = dash < 0 ? text : text[..dash];
        var toText = dash < 0 ? text : text[(dash + 1)..];
        if (!TryPort(fromText, out var from) || !TryPort(toText, out var to) || from > to) return false;
        range = new PortRange(from, to);
        return true;
    }

    public override string ToString() => From == To
        ? From.ToString(CultureInfo.InvariantCulture)
        : $"{From.ToString(CultureInfo.InvariantCulture)}-{To.ToString(CultureInfo.InvariantCulture)}";

    private static bool TryPort(string text, out ushort port)
    {
        port = 0;
        return text.Length is > 0 and <= 5 && text.All(char.IsAsciiDigit)
            && ushort.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port > 0;
    }
}
