using System.Collections.Immutable;

namespace Fabric.Messages.Intent.Parsing;

/// <summary>
/// What one parse collects: the errors (at most one per field path, so a bad value is not
/// reported again by every check that reads it) and where each element came from, so checks
/// that run on the built model can still point at a line. It also holds the parse's budget
/// (<see cref="IntentParseLimits"/>): values left to read and the time left.
/// </summary>
internal sealed class ReadContext(IntentParseLimits limits)
{
    private readonly List<IntentError> _errors = [];
    private readonly HashSet<string> _failedPaths = [];
    // Every failed path and each of its ancestors (`a.b[1].c` also gives `a`, `a.b`, `a.b[1]`),
    // so "did anything inside this path fail" is one look-up, not a scan of every failure.
    private readonly HashSet<string> _failedWithin = [];
    private readonly Dictionary<object, Fields> _origins = new(ReferenceEqualityComparer.Instance);
    private readonly HashSet<string> _incompleteLists = [];
    private readonly long _deadline = limits.Timeout == Timeout.InfiniteTimeSpan
        ? long.MaxValue
        : System.Diagnostics.Stopwatch.GetTimestamp() + (long)(limits.Timeout.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);
    private int _valuesLeft = limits.MaxValues;
    private int _untilClock = 1;
    private const int ClockStride = 32;

    public ReadContext()
        : this(IntentParseLimits.Default)
    {
    }

    /// <summary>Guards against runaway nesting in hostile input.</summary>
    public const int MaxDepth = 64;

    public IntentParseLimits Limits => limits;

    public bool HasErrors => _errors.Count > 0;

    /// <summary>Every error found, sorted by position (ties keep the order found).</summary>
    public ImmutableArray<IntentError> Errors =>
        [.. _errors.Select((e, i) => (e, i)).OrderBy(x => x.e.Line).ThenBy(x => x.e.Column).ThenBy(x => x.i).Select(x => x.e)];

    /// <summary>The first <see cref="IntentParseLimits.MaxErrors"/> errors by position, and how many more there were.</summary>
    public (ImmutableArray<IntentError> Errors, int Omitted) FirstErrors()
    {
        var all = Errors;
        return all.Length <= limits.MaxErrors ? (all, 0) : ([.. all.Take(limits.MaxErrors)], all.Length - limits.MaxErrors);
    }

    /// <summary>Takes <paramref name="values"/> from the budget; past it the parse stops with a reason at the position given.</summary>
    public void Spend(int values, int line, int column)
    {
        _valuesLeft -= values;
        if (_valuesLeft < 0)
            throw new IntentLimitExceededException(line, column, TooManyValues);
        CheckClock(line, column);
    }

    /// <summary>Takes <paramref name="values"/> from the budget if it has them; false (and nothing taken) otherwise.</summary>
    public bool TrySpend(int values)
    {
        if (_valuesLeft - values < 0) return false;
        _valuesLeft -= values;
        return true;
    }

    /// <summary>The reason a document over the value budget is refused.</summary>
    public string TooManyValues => $"the document has more than {limits.MaxValues} values (fabric.intent.max-values); it is refused";

    /// <summary>
    /// Stops the parse when its time is up (the caller checks often enough: per value read, per
    /// element checked). The clock itself is read every <see cref="ClockStride"/> calls: a few
    /// microseconds of work apart, and a parse calls this for each of its ~100,000 values.
    /// </summary>
    public void CheckClock(int line = 1, int column = 1)
    {
        if (--_untilClock > 0) return;
        _untilClock = ClockStride;
        if (System.Diagnostics.Stopwatch.GetTimestamp() > _deadline)
            throw new IntentLimitExceededException(line, column,
                $"reading the document took longer than {limits.Timeout.TotalSeconds:0.###} s (fabric.intent.parse-timeout); it is refused");
    }

    public bool HasFailed(string path) => _failedPaths.Contains(path);

    /// <summary>True when <paramref name="path"/> or anything inside it (<c>port.name</c>) failed.</summary>
    public bool HasFailedWithin(string path) => _failedWithin.Contains(path);

    /// <summary>Notes that a list lost items (or all of them) while reading, so its names are not all known.</summary>
    public void MarkIncomplete(string listPath) => _incompleteLists.Add(listPath);

    public bool IsIncomplete(string listPath) => _incompleteLists.Contains(listPath);

    /// <summary>Longest reason and field path an error keeps: a quoted hostile value must not make the reply huge.</summary>
    public const int MaxReasonLength = 400;

    public const int MaxPathLength = 200;

    public void Error(int line, int column, string path, string reason)
    {
        if (reason.Length > MaxReasonLength) reason = reason[..(MaxReasonLength - 1)] + "…";
        if (path.Length > 0)
        {
            if (!_failedPaths.Add(path)) return;
            for (var i = 1; i < path.Length; i++)
            {
                if (path[i] is '.' or '[') _failedWithin.Add(path[..i]);
            }
            _failedWithin.Add(path);
        }
        _errors.Add(new IntentError(line, column, path.Length > MaxPathLength ? path[..(MaxPathLength - 1)] + "…" : path, reason));
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
        // Most mappings have a handful of keys: duplicates are found by a scan of the earlier ones
        // (no dictionary per mapping), a larger one gets a dictionary. The key's path and shown
        // form are only built for an error: this runs for every mapping of the document.
        var entries = map.Entries;
        var seen = entries.Length > SmallMapping ? new Dictionary<string, SourceEntry>(entries.Length) : null;
        for (var i = 0; i < entries.Length; i++)
        {
            var entry = entries[i];
            if (entry.Key.Contains('\0'))
            {
                Error(entry.KeyLine, entry.KeyColumn, KeyPath(path, entry.Key), "a key must not contain a NUL character (U+0000)");
                continue;
            }
            if (FirstOf(entries, i, seen) is { } first)
            {
                Error(entry.KeyLine, entry.KeyColumn, KeyPath(path, entry.Key), $"duplicate key '{Shown(entry.Key)}' (first at line {first.KeyLine})");
                continue;
            }
            seen?.Add(entry.Key, entry);
            if (!allowed.Contains(entry.Key))
                Error(entry.KeyLine, entry.KeyColumn, KeyPath(path, entry.Key), FieldHints.Unknown(entry.Key, Shown(entry.Key), allowed));
        }
        return new Fields(this, map, path);
    }

    /// <summary>Mappings up to this many keys find duplicates by scanning, larger ones by a dictionary.</summary>
    private const int SmallMapping = 16;

    /// <summary>The earlier entry (a key before <paramref name="index"/> that was not itself refused) with the same key, or null.</summary>
    private static SourceEntry? FirstOf(ImmutableArray<SourceEntry> entries, int index, Dictionary<string, SourceEntry>? seen)
    {
        var key = entries[index].Key;
        if (seen is not null) return seen.GetValueOrDefault(key);
        for (var j = 0; j < index; j++)
        {
            // A key with a NUL was refused and never counted as seen: the scan skips it as the dictionary did.
            if (entries[j].Key == key && !key.Contains('\0')) return entries[j];
        }
        return null;
    }

    private static string Shown(string key) => key.Length <= SourceScalar.QuotedLength ? key : key[..SourceScalar.QuotedLength] + "…";

    private static string KeyPath(string path, string key) => path.Length == 0 ? Shown(key) : $"{path}.{Shown(key)}";

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
    public static string Unknown(string key, string shown, IReadOnlyList<string> allowed)
    {
        // A key longer than any field is no typo of one, and its distance would cost length squared.
        if (key.Length > 64)
            return allowed.Count == 0 ? $"unknown field '{shown}'" : $"unknown field '{shown}'; expected one of: {string.Join(", ", allowed)}";
        var best = allowed
            .Select(a => (a, d: string.Equals(a, key, StringComparison.OrdinalIgnoreCase) ? 0 : Distance(a, key)))
            .OrderBy(x => x.d)
            .FirstOrDefault();
        if (best.a is not null && best.d <= Math.Max(1, key.Length / 3))
            return $"unknown field '{shown}'; did you mean '{best.a}'?";
        return allowed.Count == 0
            ? $"unknown field '{shown}'"
            : $"unknown field '{shown}'; expected one of: {string.Join(", ", allowed)}";
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

/// <summary>A parse ran out of its budget (values or time); the parser reports it as the document's error.</summary>
internal sealed class IntentLimitExceededException(int line, int column, string reason) : Exception(reason)
{
    public int Line { get; } = line;

    public int Column { get; } = column;
}
