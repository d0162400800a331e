using System.Collections.Immutable;
using System.Reflection;
using Akka.Actor;

namespace Fabric.Tests.Serialization;

/// <summary>
/// Builds a deterministic, fully populated sample of a message type by reflection, so that every
/// message type (including ones added later) gets a round-trip test without hand-written samples.
/// Records: the public constructor with the most parameters, then any settable (init) property
/// still at its default. Abstract and interface types get the first concrete implementation
/// found in <paramref name="candidateAssemblies"/>. Collections get two elements.
/// </summary>
internal sealed class SampleValues(IActorRef actorRef, params Assembly[] candidateAssemblies)
{
    private const int MaxDepth = 6;
    private int _counter;

    public object Create(Type type) =>
        Create(type, depth: 0) ?? throw new InvalidOperationException($"SampleValues built null for {type}.");

    private object? Create(Type type, int depth)
    {
        var n = ++_counter;
        if (Nullable.GetUnderlyingType(type) is { } underlying)
            return Create(underlying, depth);
        if (type == typeof(string))
            return $"text-{n}";
        if (type == typeof(bool))
            return true;
        if (type == typeof(char))
            return (char)('a' + n % 26);
        if (type.IsEnum)
            return NonDefaultValue(type, n);
        if (type.IsPrimitive || type == typeof(decimal))
            return Convert.ChangeType(n % 100 + 1, type, System.Globalization.CultureInfo.InvariantCulture);
        if (type == typeof(Guid))
            return new Guid(n, 0x1234, 0x5678, 1, 2, 3, 4, 5, 6, 7, (byte)n);
        if (type == typeof(DateTimeOffset))
            return new DateTimeOffset(2026, 3, 4, 5, 6, 7, 890, TimeSpan.FromHours(2)).AddTicks(n);
        if (type == typeof(DateTime))
            return new DateTime(2026, 3, 4, 5, 6, 7, 890, DateTimeKind.Utc).AddTicks(n);
        if (type == typeof(TimeSpan))
            return TimeSpan.FromMilliseconds(1500 + n);
        if (typeof(IActorRef).IsAssignableFrom(type))
            return actorRef;
        if (type == typeof(object))
            return $"payload-{n}";

        if (type.IsArray)
        {
            var element = type.GetElementType()!;
            var array = Array.CreateInstance(element, depth >= MaxDepth ? 0 : 2);
            for (var i = 0; i < array.Length; i++)
                array.SetValue(Create(element, depth + 1), i);
            return array;
        }
        if (type.IsGenericType && CreateCollection(type, depth) is { } collection)
            return collection;
        if (depth >= MaxDepth && !type.IsValueType)
            return null;
        if (type.IsInterface || type.IsAbstract)
            return Create(ConcreteImplementationOf(type), depth);
        return CreateObject(type, depth);
    }

    private object? CreateCollection(Type type, int depth)
    {
        var definition = type.GetGenericTypeDefinition();
        var arguments = type.GetGenericArguments();
        var count = depth >= MaxDepth ? 0 : 2;

        if (definition == typeof(KeyValuePair<,>))
            return Activator.CreateInstance(type, Create(arguments[0], depth + 1), Create(arguments[1], depth + 1));
        if (arguments.Length == 1 && SequenceFactories.TryGetValue(definition, out var sequenceFactory))
        {
            var items = Enumerable.Range(0, count).Select(_ => Create(arguments[0], depth + 1)).ToArray();
            return Invoke(sequenceFactory, arguments, items);
        }
        if (arguments.Length == 2 && MapFactories.TryGetValue(definition, out var mapFactory))
        {
            var keys = Enumerable.Range(0, count).Select(_ => Create(arguments[0], depth + 1)).Distinct().ToArray();
            var values = keys.Select(_ => Create(arguments[1], depth + 1)).ToArray();
            return Invoke(mapFactory, arguments, keys, values);
        }
        return null;
    }

    private object CreateObject(Type type, int depth)
    {
        // The widest usable public constructor (a record's primary one), skipping record copy
        // constructors and parameters no reflection call can pass (spans, pointers, refs).
        var constructor = type.GetConstructors(BindingFlags.Public | BindingFlags.Instance)
            .Where(c => !(c.GetParameters() is [var only] && only.ParameterType == type))
            .Where(c => c.GetParameters().All(p => p.ParameterType is { IsByRefLike: false, IsPointer: false, IsByRef: false }))
            .OrderByDescending(c => c.GetParameters().Length)
            .FirstOrDefault();
        object instance;
        if (constructor is null)
        {
            instance = type.IsValueType
                ? Activator.CreateInstance(type)!
                : throw new InvalidOperationException($"SampleValues: {type} has no usable public constructor; add a case for it.");
        }
        else
        {
            var arguments = constructor.GetParameters().Select(p => Create(p.ParameterType, depth + 1)).ToArray();
            instance = constructor.Invoke(arguments);
        }

        // Init-only and settable properties not covered by the constructor.
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.SetMethod is not { IsPublic: true } || property.GetIndexParameters().Length > 0)
                continue;
            if (!IsDefault(property.GetValue(instance), property.PropertyType))
                continue;
            property.SetValue(instance, Create(property.PropertyType, depth + 1));
        }
        return instance;
    }

    private Type ConcreteImplementationOf(Type type)
    {
        var candidates = candidateAssemblies
            .SelectMany(a => a.GetTypes())
            .Where(t => t is { IsAbstract: false, IsInterface: false, ContainsGenericParameters: false } && type.IsAssignableFrom(t))
            .OrderBy(t => t.FullName, StringComparer.Ordinal)
            .ToList();
        return candidates.FirstOrDefault()
            ?? throw new InvalidOperationException($"SampleValues: no concrete implementation of {type}; add a case for it.");
    }

    private static bool IsDefault(object? value, Type type) =>
        value is null
        || (type.IsValueType && value.Equals(Activator.CreateInstance(type)))
        || (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(ImmutableArray<>)
            && (bool)type.GetProperty(nameof(ImmutableArray<int>.IsDefaultOrEmpty))!.GetValue(value)!);

    // A defined value other than the default where there is one (so a lost field shows),
    // varying with n (so dictionary keys can differ).
    private static object NonDefaultValue(Type enumType, int n)
    {
        var values = Enum.GetValues(enumType).Cast<object>()
            .Where(v => !v.Equals(Activator.CreateInstance(enumType)))
            .ToArray();
        return values.Length == 0 ? Activator.CreateInstance(enumType)! : values[n % values.Length];
    }

    private static object Invoke(string factory, Type[] typeArguments, params object?[][] itemLists) =>
        typeof(SampleValues).GetMethod(factory, BindingFlags.NonPublic | BindingFlags.Static)!
            .MakeGenericMethod(typeArguments)
            .Invoke(null, itemLists.Cast<object?>().ToArray())!;

    private static readonly Dictionary<Type, string> SequenceFactories = new()
    {
        [typeof(ImmutableArray<>)] = nameof(MakeImmutableArray),
        [typeof(ImmutableList<>)] = nameof(MakeImmutableList),
        [typeof(ImmutableHashSet<>)] = nameof(MakeImmutableHashSet),
        [typeof(List<>)] = nameof(MakeList),
        [typeof(IReadOnlyList<>)] = nameof(MakeImmutableArray),
        [typeof(IReadOnlyCollection<>)] = nameof(MakeImmutableArray),
        [typeof(IEnumerable<>)] = nameof(MakeImmutableArray),
        [typeof(IImmutableList<>)] = nameof(MakeImmutableList),
        [typeof(IImmutableSet<>)] = nameof(MakeImmutableHashSet),
    };

    private static readonly Dictionary<Type, string> MapFactories = new()
    {
        [typeof(ImmutableDictionary<,>)] = nameof(MakeImmutableDictionary),
        [typeof(IImmutableDictionary<,>)] = nameof(MakeImmutableDictionary),
        [typeof(IReadOnlyDictionary<,>)] = nameof(MakeImmutableDictionary),
        [typeof(Dictionary<,>)] = nameof(MakeDictionary),
    };

    private static ImmutableArray<T> MakeImmutableArray<T>(object?[] items) => items.Cast<T>().ToImmutableArray();

    private static ImmutableList<T> MakeImmutableList<T>(object?[] items) => items.Cast<T>().ToImmutableList();

    private static ImmutableHashSet<T> MakeImmutableHashSet<T>(object?[] items) => items.Cast<T>().ToImmutableHashSet();

    private static List<T> MakeList<T>(object?[] items) => items.Cast<T>().ToList();

    private static ImmutableDictionary<TKey, TValue> MakeImmutableDictionary<TKey, TValue>(object?[] keys, object?[] values)
        where TKey : notnull =>
        keys.Zip(values).ToImmutableDictionary(kv => (TKey)kv.Item1!, kv => (TValue)kv.Item2!);

    private static Dictionary<TKey, TValue> MakeDictionary<TKey, TValue>(object?[] keys, object?[] values)
        where TKey : notnull =>
        keys.Zip(values).ToDictionary(kv => (TKey)kv.Item1!, kv => (TValue)kv.Item2!);
}
