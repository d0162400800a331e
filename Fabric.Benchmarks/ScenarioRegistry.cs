using Fabric.Benchmarks.Scenarios;

// UnderlayScenario lives in Fabric.Benchmarks; the others in Fabric.Benchmarks.Scenarios.

namespace Fabric.Benchmarks;

/// <summary>
/// End-to-end scenarios: each prints what it measured and, as its last line, one JSON object.
/// </summary>
public static class ScenarioRegistry
{
    private static readonly Dictionary<string, Func<string[], int>> All = new()
    {
        ["underlay"] = UnderlayScenario.Run,
        ["cluster"] = ClusterScenario.Run,
        ["gateway"] = GatewayScenario.Run,
        ["pw-trunk"] = PwTrunkScenario.Run,
        ["ghost"] = GhostScenario.Run,
        ["mfe"] = MfeScenario.Run,
        ["cellular"] = CellularScenario.Run,
        ["crr"] = CrrScenario.Run,
        ["tap"] = TapScenario.Run,
        ["overload"] = OverloadScenario.Run,
        ["pw-share"] = PwShareScenario.Run,
        ["scale"] = ScaleScenario.Run,
        ["parse"] = ParseScenario.Run,
    };

    public static int Run(string[] args)
    {
        if (args.Length == 0 || !All.TryGetValue(args[0], out var scenario))
        {
            Console.Error.WriteLine($"usage: Fabric.Benchmarks scenario <{string.Join("|", All.Keys)}> [options]");
            return 2;
        }
        return scenario(args[1..]);
    }
}
