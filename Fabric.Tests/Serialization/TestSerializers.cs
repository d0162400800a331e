using Akka.Actor;
using Fabric.Messages.Serialization;

namespace Fabric.Tests.Serialization;

/// <summary>
/// FabricHyperionSerializer (same identifier, same wire format) that also trusts the test shape
/// types of <c>Fabric.Tests.Serialization.Shapes</c>, so their round trips can be checked.
/// </summary>
public sealed class ShapeTrustingSerializer(ExtendedActorSystem system) : Akka.Serialization.Serializer(system)
{
    public const string ShapesNamespacePrefix = "Fabric.Tests.Serialization.Shapes.";

    public static FabricTypeFilter Filter { get; } = new((name, assembly) =>
        assembly == "Fabric.Tests" && name.StartsWith(ShapesNamespacePrefix, StringComparison.Ordinal));

    private readonly FabricHyperionSerializer _inner = new(system, Filter, fabricMessageRootsOnly: true);

    public override int Identifier => _inner.Identifier;

    public override bool IncludeManifest => false;

    public override byte[] ToBinary(object obj) => _inner.ToBinary(obj);

    public override object FromBinary(byte[] bytes, Type type) => _inner.FromBinary(bytes, type);
}

/// <summary>
/// A hostile sender: FabricHyperionSerializer's identifier and wire format, but it writes any
/// non-generic type, with any root. Its payloads name types the real serializer must refuse.
/// </summary>
public sealed class ForgingSerializer(ExtendedActorSystem system) : Akka.Serialization.Serializer(system)
{
    private readonly FabricHyperionSerializer _inner = new(system, new FabricTypeFilter((_, _) => true), fabricMessageRootsOnly: false);

    public override int Identifier => _inner.Identifier;

    public override bool IncludeManifest => false;

    public override byte[] ToBinary(object obj) => _inner.ToBinary(obj);

    public override object FromBinary(byte[] bytes, Type type) => _inner.FromBinary(bytes, type);
}

/// <summary>A test-assembly type that is no Fabric message: what a hostile or confused peer sends.</summary>
public sealed record ForeignCommand(string Text);
