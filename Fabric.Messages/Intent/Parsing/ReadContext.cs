using System.Collections.Immutable;

namespace Fabric.Messages.Intent.Parsing;

/// <summary>
/// What one parse collects: the errors (at most one per field path, so a bad value is not
/// reported again by every check that reads it) and where each element came from, so checks
/// that run on the built model can still point at a line.
/// </summary>
internal sealed class ReadContext
{
    private readonly List<IntentError> _errors = [];
    private readonly HashSet<string> _failedPaths = [];
    private readonly Dictionary<object, Fields> _origins = new(ReferenceEqualityComparer.Instance);
    private readonly HashSet<string> _incompleteLists = [];

    /// <summary>Guards against alias bombs and runaway nesting in hostile input.</summary>
    public const int MaxDepth = 64;

    public const int MaxNodes = 200_000;

    public bool HasErrors => _errors.Count > 0;

    public ImmutableArray<IntentError> Errors =>
        [.. _errors.Select((e, i) => (e, i)).OrderBy(x => x.e.Line).ThenBy(x => x.e.Column).ThenBy(x => x.i).Select(x => x.e)];

    public bool HasFailed(string path) => _failedPaths.Contains(path);

    /// <summary>True when <paramref name="path"/> or anything inside it (<c>port.name</c>) failed.</summary>
    public bool HasFailedWithin(string path) =>
        _failedPaths.Any(p => p == path || (p.StartsWith(path, StringComparison.Ordinal) && p.Length > path.Length && p[path.Length] is '.' or '['));

    /// <summary>Notes that a list lost items (or all of them) while reading, so its names are not all known.</summary>
    public void MarkIncomplete(string listPath) => _incompleteLists.Add(listPath);

    public bool IsIncomplete(string listPath) => _incompleteLists.Contains(listPath);

    public void Error(int line, int column, string path, string reason)
    {
        if (path.Length > 0 && !_failedPaths.Add(path)) return;
        _errors.Add(new IntentError(line, column, path, reason));
    }

    public void Error(SourceNode at, string path, string reason) => Error(at.Line, at.Column, path, reason);

    /// <summary>Opens a mapping that may hold only <paramref name="allowed"/> keys; reports anything else.</summary>
    public Fields? Open(SourceNode node, string path, IReadOnlyList<string> allowed)
    {
        if (node is not SourceMap map)
        {
            Error(node, path, $"expected a mapping, got {node.Describe}");
            return null;
        }
        var seen = new Dictionary<string, SourceEntry>();
        foreach (var entry in map.Entries)
        {
            var keyPath = path.Length == 0 ? entry.Key : $"{path}.{entry.Key}";
            if (seen.TryGetValue(entry.Key, out var first))
            {
                Error(entry.KeyLine, entry.KeyColumn, keyPath, $"duplicate key '{entry.Key}' (first at line {first.KeyLine})");
                continue;
            }
            seen[entry.Key] = entry;
            if (!allowed.Contains(entry.Key))
                Error(entry.KeyLine, entry.KeyColumn, keyPath, FieldHints.Unknown(entry.Key, allowed));
        }
        return new Fields(this, map, path);
    }

    public void Remember(object element, Fields origin) => _origins[element] = origin;

    public Fields Origin(object element) => _origins[element];

    public bool TryOrigin(object element, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Fields? origin) =>
        _origins.TryGetValue(element, out origin);

    /// <summary>Reports at <paramref name="field"/> of <paramref name="element"/> (its value, else the element).</summary>
    public void ErrorAt(object element, string field, string reason)
    {
        var origin = Origin(element);
        SourceNode at = origin.Map.Find(field)?.Value ?? origin.Map;
        Error(at, origin.PathOf(field), reason);
    }

    /// <summary>Reports at item <paramref name="index"/> of the list <paramref name="field"/> of <paramref name="element"/>.</summary>
    public void ErrorAtItem(object element, string field, int index, string reason)
    {
        var origin = Origin(element);
        SourceNode at = origin.Map.Find(field)?.Value is SourceSequence seq && index < seq.Items.Length
            ? seq.Items[index]
            : origin.Map;
        Error(at, $"{origin.PathOf(field)}[{index}]", reason);
    }

    /// <summary>Line of an element's field, for "first at line N" in duplicate messages.</summary>
    public int LineOf(object element, string field)
    {
        var origin = Origin(element);
        return (origin.Map.Find(field)?.Value ?? origin.Map).Line;
    }
}

/// <summary>Suggests the field an operator probably meant.</summary>
internal static class FieldHints
{
    public static string Unknown(string key, IReadOnlyList<string> allowed)
    {
        var best = allowed
            .Select(a => (a, d: string.Equals(a, key, StringComparison.OrdinalIgnoreCase) ? 0 : Distance(a, key)))
            .OrderBy(x => x.d)
            .FirstOrDefault();
        if (best.a is not null && best.d <= Math.Max(1, key.Length / 3))
            return $"unknown field '{key}'; did you mean '{best.a}'?";
        return allowed.Count == 0
            ? $"unknown field '{key}'"
            : $"unknown field '{key}'; expected one of: {string.Join(", ", allowed)}";
    }

    /// <summary>Levenshtein distance, case-insensitive.</summary>
    private static int Distance(string a, string b)
    {
        a = a.ToLowerInvariant();
        b = b.ToLowerInvariant();
        var previous = Enumerable.Range(0, b.Length + 1).ToArray();
        var current = new int[b.Length + 1];
        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
            }
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }
}
