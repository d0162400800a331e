using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Runtime.Serialization;
using System.Text;
using Akka.Actor;
using Fabric.Messages.Serialization;
using Fabric.Tests.Serialization.Shapes;

namespace Fabric.Tests.Serialization;

/// <summary>
/// A type that is not on the allow-list is refused when written (fail fast on the sender) and
/// when read (a crafted or foreign payload), with an error naming it; the serializer keeps working.
/// </summary>
public sealed class ForeignTypeRefusalTests(SerializationSystem fixture) : IClassFixture<SerializationSystem>
{
    private static readonly DateTimeOffset At = new(2026, 11, 24, 16, 0, 0, TimeSpan.Zero);

    private ExtendedActorSystem System => (ExtendedActorSystem)fixture.System;

    private FabricHyperionSerializer Fabric => new(System);

    [Fact]
    public void Writing_a_foreign_root_type_fails_fast_naming_it()
    {
        var error = Assert.Throws<SerializationException>(() => Fabric.ToBinary(new ForeignCommand("rm -rf /")));

        Assert.Contains(typeof(ForeignCommand).FullName!, error.Message);
    }

    [Fact]
    public void Writing_a_dangerous_system_type_fails_fast()
    {
        var error = Assert.Throws<SerializationException>(() => Fabric.ToBinary(new FileInfo("/etc/passwd")));

        Assert.Contains("System.IO.FileInfo", error.Message);
    }

    [Fact]
    public void Writing_an_allowed_type_that_is_no_message_is_refused()
    {
        var error = Assert.Throws<SerializationException>(() => Fabric.ToBinary(ImmutableArray.Create(1, 2, 3)));

        Assert.Contains("IFabricMessage", error.Message);
    }

    [Theory]
    [InlineData("foreign record")]
    [InlineData("file info")]
    [InlineData("list of uri")]
    [InlineData("array of objects")]
    public void Writing_a_message_that_carries_a_foreign_value_deep_inside_fails_fast(string payloadKind)
    {
        object payload = payloadKind switch
        {
            "foreign record" => new ForeignCommand("x"),
            "file info" => new FileInfo("/etc/passwd"),
            "list of uri" => new List<Uri> { new("http://example.com") },
            _ => new object[] { 1, "two" },
        };
        var trusting = new ShapeTrustingSerializer(System);

        var error = Assert.Throws<SerializationException>(() => trusting.ToBinary(new Carrier(new Carrier(payload))));

        Assert.Contains("refuses to serialize", error.Message);
    }

    [Fact]
    public void Reading_a_forged_payload_of_a_foreign_type_is_refused_naming_it()
    {
        var forged = new ForgingSerializer(System).ToBinary(new ForeignCommand("rm -rf /"));

        var error = Assert.Throws<SerializationException>(() => Fabric.FromBinary(forged, typeof(object)));

        Assert.Contains(typeof(ForeignCommand).FullName!, error.Message);
    }

    [Fact]
    public void Reading_a_forged_message_with_a_foreign_value_deep_inside_is_refused_naming_it()
    {
        var forged = new ForgingSerializer(System).ToBinary(new Carrier(new Carrier(new ForeignCommand("x"))));

        var error = Assert.Throws<SerializationException>(() => new ShapeTrustingSerializer(System).FromBinary(forged, typeof(object)));

        Assert.Contains(typeof(ForeignCommand).FullName!, error.Message);
    }

    [Fact]
    public void Reading_a_forged_payload_whose_root_is_no_message_is_refused()
    {
        var forged = new ForgingSerializer(System).ToBinary(ImmutableArray.Create(1, 2, 3));

        var error = Assert.Throws<SerializationException>(() => Fabric.FromBinary(forged, typeof(object)));

        Assert.Contains("IFabricMessage", error.Message);
    }

    [Theory]
    [InlineData("System.Diagnostics.Process, System.Diagnostics.Process")]
    [InlineData("System.IO.FileInfo, System.Private.CoreLib,%core%")]
    [InlineData("System.Uri, System.Private.Uri")]
    [InlineData("System.Object[], System.Private.CoreLib,%core%")]
    [InlineData("System.Int32[,], System.Private.CoreLib,%core%")]
    [InlineData("System.Collections.Generic.SortedSet`1[[System.Int32, System.Private.CoreLib,%core%]], System.Collections")]
    [InlineData("System.Collections.Generic.List`1[[System.Uri, System.Private.Uri]], System.Private.CoreLib,%core%")]
    [InlineData("Fabric.Tests.Serialization.ForeignCommand, Fabric.Tests")]
    [InlineData("Fabric.Messages.Serialization.FabricHyperionSerializer, Fabric.Messages")]
    [InlineData("Fabric.Messages.Serialization.SerializationProbe, Fabric.Messages, ProcessorArchitecture=MSIL")]
    public void Reading_crafted_bytes_that_name_a_refused_type_fails_naming_it(string typeName)
    {
        var error = Assert.Throws<SerializationException>(() => Fabric.FromBinary(Crafted(typeName), typeof(object)));

        Assert.Contains(typeName, error.Message);
    }

    [Fact]
    public void A_refused_payload_does_not_poison_the_serializer()
    {
        var fabric = Fabric;
        var probe = new SerializationProbe("still fine", [1, 2], At);

        Assert.Throws<SerializationException>(() => fabric.FromBinary(Crafted("System.Uri, System.Private.Uri"), typeof(object)));
        Assert.Throws<SerializationException>(() => fabric.ToBinary(new ForeignCommand("x")));

        Assert.Equal(probe, fabric.FromBinary(fabric.ToBinary(probe), typeof(SerializationProbe)));
    }

    [Fact]
    public void Truncated_or_garbage_payloads_fail_with_a_SerializationException()
    {
        var bytes = Fabric.ToBinary(new SerializationProbe("truncate me", [1, 2, 3], At));

        Assert.Throws<SerializationException>(() => Fabric.FromBinary(bytes[..(bytes.Length / 2)], typeof(object)));
        Assert.Throws<SerializationException>(() => Fabric.FromBinary([0xFF, 0xFF, 0xFF, 0xFF, 0x7F], typeof(object)));
        Assert.Throws<SerializationException>(() => Fabric.FromBinary([], typeof(object)));
    }

    // Hyperion's object manifest: 255, the UTF-8 type name with an Int32 length, then the fields
    // (here a few zero bytes: the name must be refused before any of them is read).
    private static byte[] Crafted(string typeName)
    {
        var name = Encoding.UTF8.GetBytes(typeName);
        var bytes = new byte[1 + 4 + name.Length + 16];
        bytes[0] = 255;
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(1), name.Length);
        name.CopyTo(bytes.AsSpan(5));
        return bytes;
    }
}
