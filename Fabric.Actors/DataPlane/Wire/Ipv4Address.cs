using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace Fabric.Actors.DataPlane.Wire;

/// <summary>
/// An IPv4 address held as a uint in host order with the first octet most significant
/// (10.0.0.1 == 0x0A000001), so comparisons and prefix masks are plain integer operations.
/// <see cref="IPAddress"/> is for API and configuration edges only (<see cref="FromIPAddress"/>).
/// </summary>
public readonly struct Ipv4Address : IEquatable<Ipv4Address>, IComparable<Ipv4Address>, ISpanFormattable
{
    public const int Length = 4;

    private readonly uint _value;

    public Ipv4Address(uint value) => _value = value;

    public Ipv4Address(byte a, byte b, byte c, byte d) => _value = ((uint)a << 24) | ((uint)b << 16) | ((uint)c << 8) | d;

    public static Ipv4Address Any => default;
    public static Ipv4Address Broadcast => new(0xFFFF_FFFF);
    public static Ipv4Address Loopback => new(127, 0, 0, 1);

    /// <summary>The address as an integer, first octet most significant.</summary>
    public uint ToUInt32() => _value;

    public bool IsUnspecified => _value == 0;
    /// <summary>The limited broadcast 255.255.255.255 (RFC 919).</summary>
    public bool IsBroadcast => _value == 0xFFFF_FFFF;
    /// <summary>224.0.0.0/4 (RFC 5771).</summary>
    public bool IsMulticast => (_value & 0xF000_0000) == 0xE000_0000;
    /// <summary>127.0.0.0/8 (RFC 1122).</summary>
    public bool IsLoopback => (_value & 0xFF00_0000) == 0x7F00_0000;
    /// <summary>169.254.0.0/16 (RFC 3927).</summary>
    public bool IsLinkLocal => (_value & 0xFFFF_0000) == 0xA9FE_0000;

    /// <summary>The network mask of a prefix length 0..32 (e.g. 24 → 255.255.255.0).</summary>
    public static Ipv4Address MaskOf(int prefixLength) =>
        (uint)prefixLength switch
        {
            0 => default,
            <= 32 => new Ipv4Address(uint.MaxValue << (32 - prefixLength)),
            _ => throw new ArgumentOutOfRangeException(nameof(prefixLength)),
        };

    /// <summary>True when this address lies in <paramref name="network"/>/<paramref name="prefixLength"/>.</summary>
    public bool IsInSubnet(Ipv4Address network, int prefixLength)
    {
        var mask = MaskOf(prefixLength)._value;
        return (_value & mask) == (network._value & mask);
    }

    public static bool TryRead(ReadOnlySpan<byte> source, out Ipv4Address address)
    {
        if (source.Length < Length)
        {
            address = default;
            return false;
        }
        address = new Ipv4Address(BinaryPrimitives.ReadUInt32BigEndian(source));
        return true;
    }

    public static Ipv4Address Read(ReadOnlySpan<byte> source) =>
        TryRead(source, out var address) ? address : throw new ArgumentException("IPv4 address needs 4 bytes", nameof(source));

    /// <summary>Bounds already proved by the caller's TryParse.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Ipv4Address ReadUnchecked(ReadOnlySpan<byte> buffer, int offset) => new(BigEndian.U32(buffer, offset));

    public void WriteTo(Span<byte> destination) => BinaryPrimitives.WriteUInt32BigEndian(destination, _value);

    public static Ipv4Address FromIPAddress(IPAddress address)
    {
        if (address.AddressFamily != AddressFamily.InterNetwork)
        {
            throw new ArgumentException($"Not an IPv4 address: {address}", nameof(address));
        }
        Span<byte> bytes = stackalloc byte[4];
        address.TryWriteBytes(bytes, out _);
        return new Ipv4Address(BinaryPrimitives.ReadUInt32BigEndian(bytes));
    }

    public IPAddress ToIPAddress()
    {
        Span<byte> bytes = stackalloc byte[4];
        WriteTo(bytes);
        return new IPAddress(bytes);
    }

    public static Ipv4Address Parse(string text) =>
        TryParse(text, out var address) ? address : throw new FormatException($"Not an IPv4 address: '{text}'");

    /// <summary>
    /// Parses strict dotted decimal: four parts 0..255, no leading zeros (so "010" is refused
    /// rather than guessed to be octal, as inet_aton would).
    /// </summary>
    public static bool TryParse(ReadOnlySpan<char> text, out Ipv4Address address)
    {
        address = default;
        uint value = 0;
        var parts = 0;
        var i = 0;
        while (parts < 4)
        {
            var start = i;
            uint part = 0;
            while (i < text.Length && text[i] is >= '0' and <= '9' && i - start < 3)
            {
                part = (part * 10) + (uint)(text[i] - '0');
                i++;
            }
            var digits = i - start;
            if (digits == 0 || part > 255 || (digits > 1 && text[start] == '0'))
            {
                return false;
            }
            value = (value << 8) | part;
            parts++;
            if (parts < 4)
            {
                if (i >= text.Length || text[i] != '.')
                {
                    return false;
                }
                i++;
            }
        }
        if (i != text.Length)
        {
            return false;
        }
        address = new Ipv4Address(value);
        return true;
    }

    public bool TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format = default, IFormatProvider? provider = null)
    {
        charsWritten = 0;
        for (var i = 0; i < 4; i++)
        {
            if (i > 0)
            {
                if (charsWritten >= destination.Length)
                {
                    return false;
                }
                destination[charsWritten++] = '.';
            }
            var octet = (byte)(_value >> (24 - (8 * i)));
            if (!octet.TryFormat(destination[charsWritten..], out var n, default, System.Globalization.CultureInfo.InvariantCulture))
            {
                return false;
            }
            charsWritten += n;
        }
        return true;
    }

    public string ToString(string? format, IFormatProvider? formatProvider) => ToString();

    public override string ToString()
    {
        Span<char> buffer = stackalloc char[15];
        TryFormat(buffer, out var n);
        return new string(buffer[..n]);
    }

    public bool Equals(Ipv4Address other) => _value == other._value;
    public override bool Equals(object? obj) => obj is Ipv4Address other && Equals(other);
    public override int GetHashCode() => (int)_value;
    public int CompareTo(Ipv4Address other) => _value.CompareTo(other._value);
    public static bool operator ==(Ipv4Address left, Ipv4Address right) => left._value == right._value;
    public static bool operator !=(Ipv4Address left, Ipv4Address right) => left._value != right._value;
}
