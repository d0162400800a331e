using System.Collections;
using System.Collections.Immutable;
using System.Reflection;
using Akka.Actor;
using Xunit.Sdk;

namespace Fabric.Tests.Serialization;

/// <summary>
/// Structural equality for round-trip checks. Records holding <see cref="ImmutableArray{T}"/>
/// (or arrays, lists) compare those fields by reference, so <c>Equals</c> cannot tell whether a
/// deserialized copy is right. This compares public properties and fields recursively,
/// sequences element-wise, dictionaries by key, sets by membership, instants with their offsets,
/// and actor references by path. Fails with the path of the first difference.
/// </summary>
internal static class DeepEquality
{
    private const int MaxDepth = 32;

    public static void AssertEqual(object? expected, object? actual) => Compare(expected, actual, "$", 0);

    private static void Compare(object? expected, object? actual, string path, int depth)
    {
        if (depth > MaxDepth)
            Fail(path, $"deeper than {MaxDepth} levels (a cycle?)");
        if (expected is null || actual is null)
        {
            if (expected is not null || actual is not null)
                Fail(path, $"expected {Show(expected)}, got {Show(actual)}");
            return;
        }
        if (expected is IActorRef expectedRef)
        {
            if (actual is not IActorRef actualRef || !expectedRef.Path.Equals(actualRef.Path))
                Fail(path, $"expected actor {expectedRef.Path}, got {Show(actual)}");
            return;
        }

        var type = expected.GetType();
        if (actual.GetType() != type)
            Fail(path, $"expected type {type}, got {actual.GetType()}");

        switch (expected)
        {
            case DateTimeOffset at when actual is DateTimeOffset actualAt:
                if (!at.EqualsExact(actualAt))
                    Fail(path, $"expected {at:O}, got {actualAt:O}");
                return;
            case DateTime moment when actual is DateTime actualWhen:
                if (moment.Ticks != actualWhen.Ticks || moment.Kind != actualWhen.Kind)
                    Fail(path, $"expected {moment:O} ({moment.Kind}), got {actualWhen:O} ({actualWhen.Kind})");
                return;
            case string or decimal or Guid or TimeSpan or Enum:
            case var _ when type.IsPrimitive:
                if (!expected.Equals(actual))
                    Fail(path, $"expected {Show(expected)}, got {Show(actual)}");
                return;
        }

        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(ImmutableArray<>))
        {
            var isDefault = type.GetProperty(nameof(ImmutableArray<int>.IsDefault))!;
            var (expectedDefault, actualDefault) = ((bool)isDefault.GetValue(expected)!, (bool)isDefault.GetValue(actual)!);
            if (expectedDefault || actualDefault)
            {
                if (expectedDefault != actualDefault)
                    Fail(path, $"expected IsDefault={expectedDefault}, got IsDefault={actualDefault}");
                return;
            }
        }

        if (expected is IDictionary expectedMap)
        {
            var actualMap = (IDictionary)actual;
            if (expectedMap.Count != actualMap.Count)
                Fail(path, $"expected {expectedMap.Count} entries, got {actualMap.Count}");
            foreach (DictionaryEntry entry in expectedMap)
            {
                if (!actualMap.Contains(entry.Key))
                    Fail(path, $"missing key {Show(entry.Key)}");
                Compare(entry.Value, actualMap[entry.Key], $"{path}[{Show(entry.Key)}]", depth + 1);
            }
            return;
        }

        if (expected is IEnumerable expectedItems)
        {
            var expectedList = expectedItems.Cast<object?>().ToList();
            var actualList = ((IEnumerable)actual).Cast<object?>().ToList();
            if (expectedList.Count != actualList.Count)
                Fail(path, $"expected {expectedList.Count} elements, got {actualList.Count}");
            if (IsSet(type))
            {
                foreach (var item in expectedList)
                {
                    if (!actualList.Any(candidate => Matches(item, candidate)))
                        Fail(path, $"set is missing {Show(item)}");
                }
                return;
            }
            for (var i = 0; i < expectedList.Count; i++)
                Compare(expectedList[i], actualList[i], $"{path}[{i}]", depth + 1);
            return;
        }

        var members = 0;
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetMethod is not { IsPublic: true } || property.GetIndexParameters().Length > 0)
                continue;
            members++;
            Compare(property.GetValue(expected), property.GetValue(actual), $"{path}.{property.Name}", depth + 1);
        }
        foreach (var field in type.GetFields(BindingFlags.Public | BindingFlags.Instance))
        {
            members++;
            Compare(field.GetValue(expected), field.GetValue(actual), $"{path}.{field.Name}", depth + 1);
        }
        if (members == 0 && !expected.Equals(actual))
            Fail(path, $"expected {Show(expected)}, got {Show(actual)}");
    }

    private static bool Matches(object? expected, object? actual)
    {
        try
        {
            Compare(expected, actual, "", 0);
            return true;
        }
        catch (XunitException)
        {
            return false;
        }
    }

    private static bool IsSet(Type type) =>
        type.GetInterfaces().Any(i => i.IsGenericType
            && (i.GetGenericTypeDefinition() == typeof(ISet<>) || i.GetGenericTypeDefinition() == typeof(IReadOnlySet<>)));

    private static string Show(object? value) => value switch
    {
        null => "null",
        string s => $"\"{s}\"",
        _ => $"{value} ({value.GetType().Name})",
    };

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void Fail(string path, string message) =>
        throw new XunitException($"Round trip differs at {path}: {message}");
}
