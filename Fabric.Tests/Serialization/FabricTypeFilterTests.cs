using System.Collections.Immutable;
using System.Reflection;
using Akka.Actor;
using Fabric.Messages.Serialization;
using Fabric.Tests.Serialization.Shapes;

namespace Fabric.Tests.Serialization;

public sealed class FabricTypeFilterTests
{
    private static readonly FabricTypeFilter Filter = FabricTypeFilter.Default;

    // Hyperion's own spelling of a wire type name (Hyperion.Extensions.TypeEx is internal).
    private static readonly MethodInfo HyperionShortName = typeof(Hyperion.Serializer).Assembly
        .GetType("Hyperion.Extensions.TypeEx", throwOnError: true)!
        .GetMethod("GetShortAssemblyQualifiedName", BindingFlags.Public | BindingFlags.Static)!;

    public static TheoryData<Type> AllowedTypes => new()
    {
        typeof(SerializationProbe), typeof(ActorRefSurrogate), typeof(int), typeof(string), typeof(Guid),
        typeof(DateTimeOffset), typeof(TimeSpan), typeof(byte[]), typeof(byte[][]), typeof(int?), typeof(IActorRef),
        typeof(ImmutableArray<int>), typeof(ImmutableArray<SerializationProbe>), typeof(ImmutableList<string>),
        typeof(ImmutableHashSet<Guid>), typeof(ImmutableDictionary<string, ImmutableArray<long>>),
        typeof(KeyValuePair<string, SerializationProbe>), typeof(List<SerializationProbe[]>),
        typeof(Dictionary<Guid, ImmutableList<string>>), typeof(ImmutableArray<IActorRef>),
    };

    public static TheoryData<Type> RefusedTypes => new()
    {
        typeof(FileInfo), typeof(System.Diagnostics.Process), typeof(Uri), typeof(object), typeof(object[]),
        typeof(ForeignCommand), typeof(Leaf), typeof(int[,]), typeof(List<Uri>), typeof(ImmutableArray<ForeignCommand>),
        typeof(ImmutableDictionary<string, FileInfo>), typeof(SortedSet<int>), typeof(HashSet<int>),
        typeof(Func<string>), typeof(Type), typeof(FabricHyperionSerializer), typeof(FabricTypeFilter),
    };

    [Theory]
    [MemberData(nameof(AllowedTypes))]
    public void Allowed_types_pass_in_every_spelling_Hyperion_uses(Type type)
    {
        Assert.Null(Filter.Explain(type));
        Assert.Null(Filter.Explain(type.AssemblyQualifiedName!)); // what Serialize asks
        Assert.Null(Filter.Explain(ShortName(type))); // what deserialization asks
    }

    [Theory]
    [MemberData(nameof(RefusedTypes))]
    public void Refused_types_fail_in_every_spelling_Hyperion_uses(Type type)
    {
        Assert.NotNull(Filter.Explain(type));
        Assert.NotNull(Filter.Explain(type.AssemblyQualifiedName!));
        Assert.NotNull(Filter.Explain(ShortName(type)));
    }

    [Fact]
    public void Version_culture_and_token_are_ignored_at_every_generic_level()
    {
        const string name =
            "System.Collections.Immutable.ImmutableDictionary`2[[System.String, System.Private.CoreLib, Version=4.0.0.0, Culture=neutral, PublicKeyToken=7cec85d7bea7798e]," +
            "[Fabric.Messages.Serialization.SerializationProbe, Fabric.Messages, Version=9.9.9.9, Culture=neutral, PublicKeyToken=null]], " +
            "System.Collections.Immutable, Version=1.2.3.4, Culture=neutral, PublicKeyToken=b03f5f7f11d50a3a";

        Assert.Null(Filter.Explain(name));
    }

    [Fact]
    public void A_refusal_names_the_refused_part_even_inside_generic_arguments()
    {
        var reason = Filter.Explain(typeof(ImmutableDictionary<string, FileInfo>).AssemblyQualifiedName!);

        Assert.Contains("System.IO.FileInfo", reason);
    }

    [Theory]
    [InlineData("")]
    [InlineData("System.Int32")] // no assembly: Type.GetType would search wherever it likes
    [InlineData("System.Collections.Generic.List`1[System.Int32], System.Private.CoreLib")] // unqualified argument
    [InlineData("System.Collections.Generic.List`1, System.Private.CoreLib")] // open generic
    [InlineData("System.Int32*, System.Private.CoreLib")]
    [InlineData("System.Int32&, System.Private.CoreLib")]
    [InlineData("System.Int32[*], System.Private.CoreLib")]
    [InlineData("System.Int32, System.Private.CoreLib, ProcessorArchitecture=MSIL")]
    [InlineData("Fabric.Messages.Serialization.SerializationProbe, Fabric.Messages.Evil")]
    [InlineData("Fabric.MessagesEvil.Thing, Fabric.Messages")]
    [InlineData("Fabric.Messages.Serialization.SerializationProbe, Fabric.Messages]")]
    public void Malformed_or_unqualified_names_are_refused(string name)
    {
        Assert.NotNull(Filter.Explain(name));
    }

    [Fact]
    public void Deeply_nested_or_huge_names_are_refused_without_exhausting_the_stack()
    {
        const string open = "System.Collections.Generic.List`1[[";
        const string close = "]], System.Private.CoreLib";
        var deep = string.Concat(Enumerable.Repeat(open, 40)) + "System.Int32, System.Private.CoreLib" +
                   string.Concat(Enumerable.Repeat(close, 40));
        var huge = new string('A', 100_000) + ", Fabric.Messages";

        Assert.Contains("deeper", Filter.Explain(deep));
        Assert.Contains("longer", Filter.Explain(huge));
    }

    [Fact]
    public void The_filter_is_what_Hyperion_calls_an_ITypeFilter()
    {
        Hyperion.ITypeFilter filter = Filter;

        Assert.True(filter.IsAllowed(typeof(SerializationProbe).AssemblyQualifiedName!));
        Assert.False(filter.IsAllowed(typeof(FileInfo).AssemblyQualifiedName!));
    }

    private static string ShortName(Type type) => (string)HyperionShortName.Invoke(null, [type])!;
}
