using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Collections.Immutable;
using Akka.Actor;
using Hyperion;

namespace Fabric.Messages.Serialization;

/// <summary>
/// The type allow-list of <see cref="FabricHyperionSerializer"/>: which types may be named in a
/// Hyperion payload, on the way out and on the way in.
/// </summary>
/// <remarks>
/// <para>Allowed:</para>
/// <list type="bullet">
/// <item>every type of the <c>Fabric.Messages</c> assembly whose namespace starts with
/// <c>Fabric.Messages</c>, except the serializer's own machinery;</item>
/// <item>the system types listed in <see cref="SystemTypes"/> (primitives, string, Guid, time
/// types, <see cref="IActorRef"/> as a declared type);</item>
/// <item>constructed generics whose definition is in <see cref="GenericDefinitions"/> (or is a
/// Fabric type) and whose every argument is allowed;</item>
/// <item>one-dimensional arrays of allowed types (so <c>byte[]</c>, <c>byte[][]</c>).</item>
/// </list>
/// <para>
/// Hyperion 0.12.2 asks a filter about two different spellings: <c>Serialize</c> passes the full
/// assembly-qualified name (with <c>Version</c>, <c>Culture</c>, <c>PublicKeyToken</c>), while
/// deserialization passes the wire name, where Hyperion's short form replaces the core library's
/// qualifiers with <c>,%core%</c> and drops the others. Hyperion's own <c>TypeFilter</c> compares
/// raw strings and so refuses every type on <c>Serialize</c>. This filter parses the name instead
/// and ignores exactly those qualifiers, at every generic nesting level. Names are judged as
/// strings only: a type is never loaded in order to decide whether it may be loaded.
/// </para>
/// </remarks>
public sealed class FabricTypeFilter : ITypeFilter
{
    /// <summary>Name of the one assembly whose types are allowed wholesale.</summary>
    public const string MessagesAssembly = "Fabric.Messages";

    /// <summary>Namespace prefix (with its dot) of the allowed Fabric types.</summary>
    public const string MessagesNamespacePrefix = "Fabric.Messages.";

    // Hostile wire names are bounded before parsing: a 128 KB frame could otherwise nest generic
    // brackets deep enough to overflow the stack, which no catch block survives.
    private const int MaxTypeNameLength = 4096;
    private const int MaxNestingDepth = 8;

    /// <summary>The filter FabricHyperionSerializer uses in production.</summary>
    public static FabricTypeFilter Default { get; } = new(alsoTrusted: null);

    /// <summary>
    /// Non-generic system types our messages legitimately contain. Primitives and string travel
    /// with one-byte Hyperion tags, but are named inside generic arguments and array types
    /// (<c>ImmutableArray`1[[System.Int32, ...]]</c>, <c>System.Int32[]</c>). <see cref="TimeSpan"/>
    /// is not a Hyperion primitive and is written by name. <see cref="IActorRef"/> is never on the
    /// wire itself (a surrogate carries its path) but appears as a generic argument, e.g.
    /// <c>ImmutableArray&lt;IActorRef&gt;</c>. <see cref="System.Collections.DictionaryEntry"/> is how
    /// Hyperion writes each entry of a <see cref="Dictionary{TKey,TValue}"/> (key and value as
    /// objects, themselves named and checked).
    /// </summary>
    public static ImmutableArray<Type> SystemTypes { get; } =
    [
        typeof(bool), typeof(byte), typeof(sbyte), typeof(char),
        typeof(short), typeof(ushort), typeof(int), typeof(uint), typeof(long), typeof(ulong),
        typeof(float), typeof(double), typeof(decimal),
        typeof(string), typeof(Guid),
        typeof(DateTime), typeof(DateTimeOffset), typeof(TimeSpan),
        typeof(IActorRef),
        typeof(System.Collections.DictionaryEntry),
    ];

    /// <summary>
    /// Generic type definitions allowed when every type argument is allowed. <see cref="KeyValuePair{TKey,TValue}"/>
    /// is here because Hyperion writes each dictionary entry as one, by name. <see cref="Nullable{T}"/>
    /// only ever appears as a declared field type (Hyperion writes the underlying value).
    /// </summary>
    public static ImmutableArray<Type> GenericDefinitions { get; } =
    [
        typeof(Nullable<>),
        typeof(KeyValuePair<,>),
        typeof(List<>),
        typeof(Dictionary<,>),
        typeof(ImmutableArray<>),
        typeof(ImmutableList<>),
        typeof(ImmutableDictionary<,>),
        typeof(ImmutableHashSet<>),
    ];

    // Types of Fabric.Messages that are infrastructure, not data: never instantiate them from bytes.
    private static readonly FrozenSet<string> Machinery = new[]
    {
        typeof(FabricHyperionSerializer), typeof(FabricTypeFilter), typeof(FabricSerialization),
        typeof(AllowListEnforcingFactory), typeof(RefusedTypeSerializer), typeof(ImmutableArraySerializerFactory),
    }.Select(t => t.FullName!).ToFrozenSet(StringComparer.Ordinal);

    private static readonly FrozenSet<(string Name, string Assembly)> SystemTypeKeys =
        SystemTypes.Select(KeyOf).ToFrozenSet();

    private static readonly FrozenSet<(string Name, string Assembly)> GenericDefinitionKeys =
        GenericDefinitions.Select(KeyOf).ToFrozenSet();

    private readonly Func<string, string, bool>? _alsoTrusted;
    private readonly ConcurrentDictionary<Type, string?> _refusalByType = new();

    /// <param name="alsoTrusted">
    /// Tests only: an extra predicate over (full name, assembly simple name) of non-generic types,
    /// so test-assembly shapes can travel. Production uses <see cref="Default"/>.
    /// </param>
    internal FabricTypeFilter(Func<string, string, bool>? alsoTrusted) => _alsoTrusted = alsoTrusted;

    /// <summary>Hyperion's question, asked with either spelling of a type name (see remarks).</summary>
    public bool IsAllowed(string typeName) => Explain(typeName) is null;

    /// <summary>Whether values of <paramref name="type"/> may be written or read.</summary>
    public bool IsAllowed(Type type) => Explain(type) is null;

    /// <summary>Null when the type name is allowed; otherwise the refused part and why.</summary>
    public string? Explain(string typeName)
    {
        if (string.IsNullOrWhiteSpace(typeName))
            return "an empty type name";
        if (typeName.Length > MaxTypeNameLength)
            return $"a type name longer than {MaxTypeNameLength} characters";
        var parser = new NameParser(typeName, this);
        return parser.ParseTopLevel();
    }

    /// <summary>Null when the type is allowed; otherwise the refused part and why.</summary>
    public string? Explain(Type type) => _refusalByType.GetOrAdd(type, static (t, self) => self.ExplainUncached(t, 0), this);

    private string? ExplainUncached(Type type, int depth)
    {
        if (depth > MaxNestingDepth)
            return $"[{type}]: nested deeper than {MaxNestingDepth} levels";
        if (type.IsArray)
            return type.IsSZArray
                ? ExplainUncached(type.GetElementType()!, depth + 1)
                : $"[{type}]: only one-dimensional arrays are allowed";
        if (type.IsPointer || type.IsByRef || type.IsGenericParameter || type.IsGenericTypeDefinition)
            return $"[{type}]: not a serializable type";
        if (type.IsGenericType)
        {
            var definition = type.GetGenericTypeDefinition();
            if (!IsAllowedGenericDefinition(KeyOf(definition)))
                return $"[{definition}]: generic type definition not on the allow-list";
            foreach (var argument in type.GetGenericArguments())
            {
                if (ExplainUncached(argument, depth + 1) is { } refused)
                    return refused;
            }
            return null;
        }
        return IsAllowedLeaf(KeyOf(type)) ? null : $"[{type.FullName}, {type.Assembly.GetName().Name}]: not on the allow-list";
    }

    private static (string Name, string Assembly) KeyOf(Type type) => (type.FullName!, type.Assembly.GetName().Name!);

    private bool IsAllowedLeaf((string Name, string Assembly) key) =>
        SystemTypeKeys.Contains(key) || IsFabricType(key) || _alsoTrusted?.Invoke(key.Name, key.Assembly) == true;

    private static bool IsAllowedGenericDefinition((string Name, string Assembly) key) =>
        GenericDefinitionKeys.Contains(key) || IsFabricType(key);

    private static bool IsFabricType((string Name, string Assembly) key) =>
        string.Equals(key.Assembly, MessagesAssembly, StringComparison.Ordinal)
        && key.Name.StartsWith(MessagesNamespacePrefix, StringComparison.Ordinal)
        && !IsMachinery(key.Name);

    private static bool IsMachinery(string fullName)
    {
        var plus = fullName.IndexOf('+');
        return Machinery.Contains(plus < 0 ? fullName : fullName[..plus]);
    }

    /// <summary>
    /// Recursive-descent reader of CLR type names as Hyperion writes them:
    /// <c>Name[[Arg, Asm],[Arg, Asm]][], Assembly[, Version=..][, Culture=..][, PublicKeyToken=..]</c>,
    /// where Hyperion's wire form replaces the core library qualifiers with <c>,%core%</c>.
    /// Anything outside that grammar (unbracketed generic arguments, multi-dimensional arrays,
    /// pointers, escapes, other assembly attributes, a missing assembly) is refused.
    /// </summary>
    private ref struct NameParser(string text, FabricTypeFilter filter)
    {
        private readonly ReadOnlySpan<char> _s = text;
        private int _pos;

        public string? ParseTopLevel()
        {
            var refused = ParseQualified(depth: 0, out _);
            if (refused is null && _pos != _s.Length)
                return $"[{text}]: unexpected text at position {_pos}";
            return refused;
        }

        // QualifiedName := TypeSpec ',' AssemblySpec ; stops before ']' or at the end.
        private string? ParseQualified(int depth, out string display)
        {
            display = "";
            if (depth > MaxNestingDepth)
                return $"[{text}]: generic arguments nested deeper than {MaxNestingDepth} levels";

            var nameStart = _pos;
            while (_pos < _s.Length && _s[_pos] is not ('[' or ']' or ','))
                _pos++;
            var name = _s[nameStart.._pos].Trim().ToString();
            display = name;
            if (name.Length == 0 || name.AsSpan().IndexOfAny("\\*&") >= 0)
                return $"[{text}]: malformed type name";

            var arity = DeclaredArity(name);
            var argumentCount = 0;
            if (Peek('[') && Peek('[', 1))
            {
                _pos++; // the '[' opening the argument list
                while (true)
                {
                    if (!Take('['))
                        return $"[{text}]: generic arguments must be assembly-qualified";
                    // The first refused argument decides: stop reading there.
                    if (ParseQualified(depth + 1, out _) is { } argumentRefused)
                        return argumentRefused;
                    argumentCount++;
                    if (!Take(']'))
                        return $"[{text}]: malformed generic argument";
                    if (Take(','))
                        continue;
                    if (Take(']'))
                        break;
                    return $"[{text}]: malformed generic argument list";
                }
            }
            if (argumentCount != arity)
                return $"[{display}]: open or malformed generic type";

            while (Peek('['))
            {
                if (!Peek(']', 1))
                    return $"[{display}]: only one-dimensional arrays are allowed";
                _pos += 2;
            }

            if (!Take(','))
                return $"[{display}]: type name without an assembly";
            var assembly = ParseAssembly(out var assemblyRefused);
            if (assemblyRefused is not null)
                return assemblyRefused;

            var key = (name, assembly);
            display = $"{name}, {assembly}";
            // Arrays are allowed exactly when their element type is, so the rank does not matter.
            if (argumentCount > 0)
                return IsAllowedGenericDefinition(key) ? null : $"[{display}]: generic type definition not on the allow-list";
            return filter.IsAllowedLeaf(key) ? null : $"[{display}]: not on the allow-list";
        }

        // AssemblySpec := SimpleName { ',' ( '%core%' | Version=.. | Culture=.. | PublicKeyToken=.. ) }
        private string ParseAssembly(out string? refused)
        {
            refused = null;
            string? simpleName = null;
            while (true)
            {
                var start = _pos;
                while (_pos < _s.Length && _s[_pos] is not (',' or ']' or '['))
                    _pos++;
                var part = _s[start.._pos].Trim();
                if (simpleName is null)
                {
                    simpleName = part.ToString();
                    if (simpleName.Length == 0 || simpleName.Contains('='))
                        refused = $"[{text}]: malformed assembly name";
                }
                else if (!IsIgnorableQualifier(part))
                {
                    refused ??= $"[{text}]: unexpected assembly qualifier '{part}'";
                }
                if (!Take(','))
                    break;
            }
            if (Peek('['))
                refused ??= $"[{text}]: malformed assembly name";
            return simpleName;
        }

        private static bool IsIgnorableQualifier(ReadOnlySpan<char> part) =>
            part.SequenceEqual("%core%")
            || part.StartsWith("Version=", StringComparison.OrdinalIgnoreCase)
            || part.StartsWith("Culture=", StringComparison.OrdinalIgnoreCase)
            || part.StartsWith("PublicKeyToken=", StringComparison.OrdinalIgnoreCase);

        // The number of generic arguments a name declares: the sum of its `N suffixes
        // (a nested type of a generic type repeats its outer type's arguments).
        private static int DeclaredArity(string name)
        {
            var total = 0;
            var tick = name.IndexOf('`');
            while (tick >= 0)
            {
                var end = tick + 1;
                while (end < name.Length && char.IsAsciiDigit(name[end]))
                    end++;
                if (end > tick + 1 && int.TryParse(name.AsSpan(tick + 1, end - tick - 1), out var n))
                    total += n;
                tick = name.IndexOf('`', end);
            }
            return total;
        }

        private readonly bool Peek(char c, int ahead = 0) => _pos + ahead < _s.Length && _s[_pos + ahead] == c;

        private bool Take(char c)
        {
            if (!Peek(c))
                return false;
            _pos++;
            return true;
        }
    }
}
