using System.Collections.Immutable;

namespace Fabric.Messages.Serialization;

/// <summary>
/// A small real message for the node's serialization health check
/// (<see cref="FabricSerialization.VerifyRoundTrip"/>): it must travel through
/// <see cref="FabricHyperionSerializer"/> and come back equal. It also keeps an
/// <see cref="ImmutableArray{T}"/> field in the round-trip test suite.
/// </summary>
public sealed record SerializationProbe(string Text, ImmutableArray<int> Values, DateTimeOffset At) : IFabricMessage
{
    /// <summary>Equal when the texts, the values element-wise and the instants (with offsets) are.</summary>
    public bool Equals(SerializationProbe? other) =>
        other is not null
        && Text == other.Text
        && Values.AsSpan().SequenceEqual(other.Values.AsSpan())
        && At.EqualsExact(other.At);

    public override int GetHashCode() => HashCode.Combine(Text, Values.Length, At);
}
