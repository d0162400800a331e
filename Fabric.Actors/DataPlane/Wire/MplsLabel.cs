using System.Globalization;

namespace Fabric.Actors.DataPlane.Wire;

/// <summary>
/// A 20-bit MPLS label (RFC 3032 §2.1). Labels 0..15 are reserved (RFC 3032, RFC 7274);
/// text form: decimal.
/// </summary>
public readonly struct MplsLabel : IEquatable<MplsLabel>, IComparable<MplsLabel>, ISpanFormattable
{
    public const uint MaxValue = 0xF_FFFF;
    /// <summary>Labels below this are reserved and never allocated to a PW or LSP.</summary>
    public const uint FirstUnreserved = 16;

    public static MplsLabel Ipv4ExplicitNull => new(0u, false);
    public static MplsLabel RouterAlert => new(1u, false);
    public static MplsLabel Ipv6ExplicitNull => new(2u, false);
    public static MplsLabel ImplicitNull => new(3u, false);
    /// <summary>Entropy Label Indicator (RFC 6790).</summary>
    public static MplsLabel EntropyLabelIndicator => new(7u, false);
    /// <summary>Generic Associated Channel Label (RFC 5586).</summary>
    public static MplsLabel GenericAssociatedChannel => new(13u, false);

    private readonly uint _value;

    /// <summary>Builds a label; throws if <paramref name="value"/> does not fit 20 bits (configuration edge).</summary>
    public MplsLabel(uint value)
    {
        if (value > MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, "An MPLS label is 0..1048575");
        }
        _value = value;
    }

    private MplsLabel(uint value, bool _) => _value = value;

    /// <summary>The label of an encoded label stack entry (its 20 high bits).</summary>
    public static MplsLabel FromEntry(uint entry) => new(entry >> 12, false);

    public uint Value => _value;
    public bool IsReserved => _value < FirstUnreserved;

    public static bool TryParse(ReadOnlySpan<char> text, out MplsLabel label)
    {
        if (uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value <= MaxValue)
        {
            label = new MplsLabel(value, false);
            return true;
        }
        label = default;
        return false;
    }

    public static MplsLabel Parse(string text) =>
        TryParse(text, out var label) ? label : throw new FormatException($"Not an MPLS label: '{text}'");

    public bool TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format = default, IFormatProvider? provider = null) =>
        _value.TryFormat(destination, out charsWritten, default, CultureInfo.InvariantCulture);

    public string ToString(string? format, IFormatProvider? formatProvider) => ToString();
    public override string ToString() => _value.ToString(CultureInfo.InvariantCulture);

    public bool Equals(MplsLabel other) => _value == other._value;
    public override bool Equals(object? obj) => obj is MplsLabel other && Equals(other);
    public override int GetHashCode() => (int)_value;
    public int CompareTo(MplsLabel other) => _value.CompareTo(other._value);
    public static bool operator ==(MplsLabel left, MplsLabel right) => left._value == right._value;
    public static bool operator !=(MplsLabel left, MplsLabel right) => left._value != right._value;
}
