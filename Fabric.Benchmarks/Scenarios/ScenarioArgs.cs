namespace Fabric.Benchmarks.Scenarios;

/// <summary>The scenarios' numeric options: <c>--name N</c>.</summary>
internal static class ScenarioArgs
{
    public static int Option(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], out var v) ? v : fallback;
    }
}
