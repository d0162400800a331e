namespace Fabric.Benchmarks;

/// <summary>
/// End-to-end scenarios (`-- scenario &lt;name&gt; [args]`), as opposed to BenchmarkDotNet micro
/// benchmarks. Each entry takes the remaining arguments and returns the process exit code.
/// </summary>
public static class Scenarios
{
    private static readonly Dictionary<string, Func<string[], int>> All = new(StringComparer.Ordinal)
    {
        // "name" = args => exit code.
        ["underlay"] = UnderlayScenario.Run,
    };

    public static int Run(string[] args)
    {
        if (args.Length == 0 || !All.TryGetValue(args[0], out var scenario))
        {
            var known = All.Count == 0 ? "(none registered yet)" : string.Join(", ", All.Keys.Order());
            Console.Error.WriteLine(args.Length == 0
                ? $"usage: scenario <name> [args]; known scenarios: {known}"
                : $"unknown scenario '{args[0]}'; known scenarios: {known}");
            return 2;
        }
        return scenario(args[1..]);
    }
}
