using System.Globalization;

namespace Fabric.Actors.DataPlane.Wire;

/// <summary>
/// A 12-bit IEEE 802.1Q VLAN identifier. 0 means "no VLAN" (a priority-only tag) and 4095 is
/// reserved (802.1Q table 9-2); 1..4094 name VLANs. Text form: decimal.
/// </summary>
public readonly struct VlanId : IEquatable<VlanId>, IComparable<VlanId>, ISpanFormattable
{
    public const ushort MaxValue = 0x0FFF;

    private readonly ushort _value;

    /// <summary>Builds a VLAN id; throws if <paramref name="value"/> does not fit 12 bits (configuration edge).</summary>
    public VlanId(int value)
    {
        if ((uint)value > MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, "A VLAN id is 0..4095");
        }
        _value = (ushort)value;
    }

    private VlanId(ushort value, bool _) => _value = value;

    /// <summary>The 12 low bits of a Tag Control Information word (the wire never fails).</summary>
    public static VlanId FromTci(ushort tci) => new((ushort)(tci & MaxValue), false);

    public static VlanId None => default;

    public ushort Value => _value;
    /// <summary>True for 1..4094, the ids that name a VLAN.</summary>
    public bool IsAssignable => _value is > 0 and < MaxValue;

    public static bool TryParse(ReadOnlySpan<char> text, out VlanId id)
    {
        if (ushort.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value <= MaxValue)
        {
            id = new VlanId(value, false);
            return true;
        }
        id = default;
        return false;
    }

    public static VlanId Parse(string text) =>
        TryParse(text, out var id) ? id : throw new FormatException($"Not a VLAN id: '{text}'");

    public bool TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format = default, IFormatProvider? provider = null) =>
        _value.TryFormat(destination, out charsWritten, default, CultureInfo.InvariantCulture);

    public string ToString(string? format, IFormatProvider? formatProvider) => ToString();
    public override string ToString() => _value.ToString(CultureInfo.InvariantCulture);

    public bool Equals(VlanId other) => _value == other._value;
    public override bool Equals(object? obj) => obj is VlanId other && Equals(other);
    public override int GetHashCode() => _value;
    public int CompareTo(VlanId other) => _value.CompareTo(other._value);
    public static bool operator ==(VlanId left, VlanId right) => left._value == right._value;
    public static bool operator !=(VlanId left, VlanId right) => left._value != right._value;
}
