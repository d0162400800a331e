namespace Fabric.Benchmarks.Scenarios;

/// <summary>The scenarios' options: <c>--name N</c>, <c>--name a,b</c>.</summary>
internal static class ScenarioArgs
{
    public static int Option(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], out var v) ? v : fallback;
    }

    /// <summary>A comma-separated list (null when the option is absent).</summary>
    public static HashSet<string>? List(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal) : null;
    }
}
