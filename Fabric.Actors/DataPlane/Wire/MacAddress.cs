using System.Runtime.CompilerServices;

namespace Fabric.Actors.DataPlane.Wire;

/// <summary>
/// An IEEE 802 48-bit MAC address, held as the 48 low bits of a ulong in transmission order
/// (first octet in bits 47..40), so equality, hashing and flow keys are one integer operation.
/// Text form: six hex pairs separated by ':' or '-' (parse), ':' (format).
/// </summary>
public readonly struct MacAddress : IEquatable<MacAddress>, IComparable<MacAddress>, ISpanFormattable
{
    public const int Length = 6;
    private const ulong Mask = 0xFFFF_FFFF_FFFFUL;

    private readonly ulong _value;

    /// <summary>Builds an address from the 48 low bits of <paramref name="value"/>; higher bits are ignored.</summary>
    public MacAddress(ulong value) => _value = value & Mask;

    public MacAddress(byte b0, byte b1, byte b2, byte b3, byte b4, byte b5)
        => _value = ((ulong)b0 << 40) | ((ulong)b1 << 32) | ((ulong)b2 << 24) | ((ulong)b3 << 16) | ((ulong)b4 << 8) | b5;

    public static MacAddress Zero => default;
    public static MacAddress Broadcast => new(Mask);

    /// <summary>The address as a 48-bit integer, first octet most significant.</summary>
    public ulong ToUInt64() => _value;

    /// <summary>Individual/group bit (IEEE 802 §8.2): set for multicast and broadcast.</summary>
    public bool IsMulticast => (_value & 0x0100_0000_0000UL) != 0;
    public bool IsBroadcast => _value == Mask;
    public bool IsUnicast => !IsMulticast;
    /// <summary>Universal/local bit: set for locally administered addresses (what we generate).</summary>
    public bool IsLocallyAdministered => (_value & 0x0200_0000_0000UL) != 0;
    public bool IsZero => _value == 0;

    /// <summary>Reads 6 bytes. Returns false (and Zero) if <paramref name="source"/> is shorter.</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out MacAddress address)
    {
        if (source.Length < Length)
        {
            address = default;
            return false;
        }
        address = ReadUnchecked(source, 0);
        return true;
    }

    /// <summary>Reads 6 bytes; throws if <paramref name="source"/> is shorter. For tests and edges.</summary>
    public static MacAddress Read(ReadOnlySpan<byte> source) =>
        TryRead(source, out var address) ? address : throw new ArgumentException("MAC address needs 6 bytes", nameof(source));

    /// <summary>Bounds already proved by the caller's TryParse.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static MacAddress ReadUnchecked(ReadOnlySpan<byte> buffer, int offset) =>
        new(((ulong)BigEndian.U16(buffer, offset) << 32) | BigEndian.U32(buffer, offset + 2), 0);

    private MacAddress(ulong value, int _) => _value = value; // already masked

    /// <summary>Writes 6 bytes; throws if <paramref name="destination"/> is shorter.</summary>
    public void WriteTo(Span<byte> destination)
    {
        var d = destination[..Length];
        d[0] = (byte)(_value >> 40);
        d[1] = (byte)(_value >> 32);
        d[2] = (byte)(_value >> 24);
        d[3] = (byte)(_value >> 16);
        d[4] = (byte)(_value >> 8);
        d[5] = (byte)_value;
    }

    public static MacAddress Parse(string text) =>
        TryParse(text, out var address) ? address : throw new FormatException($"Not a MAC address: '{text}'");

    /// <summary>Parses "aa:bb:cc:dd:ee:ff" or "aa-bb-cc-dd-ee-ff" (hex digits in either case).</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out MacAddress address)
    {
        address = default;
        if (text.Length != 17)
        {
            return false;
        }
        var separator = text[2];
        if (separator is not (':' or '-'))
        {
            return false;
        }
        ulong value = 0;
        for (var i = 0; i < 6; i++)
        {
            var at = i * 3;
            if (i > 0 && text[at - 1] != separator)
            {
                return false;
            }
            var hi = HexValue(text[at]);
            var lo = HexValue(text[at + 1]);
            if ((hi | lo) < 0)
            {
                return false;
            }
            value = (value << 8) | (uint)((hi << 4) | lo);
        }
        address = new MacAddress(value);
        return true;
    }

    private static int HexValue(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        >= 'A' and <= 'F' => c - 'A' + 10,
        _ => -1,
    };

    public bool TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format = default, IFormatProvider? provider = null)
    {
        charsWritten = 0;
        if (destination.Length < 17)
        {
            return false;
        }
        const string hex = "0123456789abcdef";
        for (var i = 0; i < 6; i++)
        {
            var b = (byte)(_value >> (40 - (8 * i)));
            var at = i * 3;
            destination[at] = hex[b >> 4];
            destination[at + 1] = hex[b & 0xF];
            if (i < 5)
            {
                destination[at + 2] = ':';
            }
        }
        charsWritten = 17;
        return true;
    }

    public string ToString(string? format, IFormatProvider? formatProvider) => ToString();

    public override string ToString() => string.Create(17, this, static (span, mac) => mac.TryFormat(span, out _));

    public bool Equals(MacAddress other) => _value == other._value;
    public override bool Equals(object? obj) => obj is MacAddress other && Equals(other);
    public override int GetHashCode() => _value.GetHashCode();
    public int CompareTo(MacAddress other) => _value.CompareTo(other._value);
    public static bool operator ==(MacAddress left, MacAddress right) => left._value == right._value;
    public static bool operator !=(MacAddress left, MacAddress right) => left._value != right._value;
}
