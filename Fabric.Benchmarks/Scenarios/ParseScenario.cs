using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Fabric.Actors.Config;
using Fabric.Messages.Intent;

namespace Fabric.Benchmarks.Scenarios;

/// <summary>
/// `scenario parse` (issue 13 part 5): the time from a proposal's bytes to its canonical form, on
/// the intent `scenario scale` proposes (500 PE pairs, 20 x 10 gateway tenants: ~1.1 MB of YAML).
/// Three stages, each timed over <c>--runs</c> runs after one warm-up, in process (no node):
/// <c>parse</c> (the YAML bytes through <see cref="IntentParser"/>, every check included),
/// <c>normalize</c> (what the management API does: parse and write the canonical JSON) and
/// <c>canonical_parse</c> (the canonical JSON parsed again, as the ghost verifier and every
/// applying node do). The first (cold) run is reported apart: a node parses its first proposal
/// with code the JIT has not optimized yet. Options: <c>--pairs N --gateways N --tenants N --runs N --out FILE</c>
/// (where the YAML is written, default a temporary file).
/// </summary>
public static class ParseScenario
{
    public static int Run(string[] args)
    {
        int pairs = ScenarioArgs.Option(args, "--pairs", 500);
        int gateways = ScenarioArgs.Option(args, "--gateways", 20);
        int tenants = ScenarioArgs.Option(args, "--tenants", 10);
        int runs = Math.Max(1, ScenarioArgs.Option(args, "--runs", 5));
        var outIndex = Array.IndexOf(args, "--out");
        var file = outIndex >= 0 && outIndex + 1 < args.Length ? args[outIndex + 1] : Path.Combine(Path.GetTempPath(), $"fabric-parse-{Environment.ProcessId}.yaml");

        File.WriteAllText(file, ScaleScenario.ScaleIntent("127.0.77.100", pairs, gateways, tenants, changedWeight: false));
        var yaml = File.ReadAllBytes(file);
        // The scale scenario's node runs with fabric.intent.max-bytes = 2 MiB: the same here.
        var limits = IntentParseLimits.Default with { MaxBytes = 2 << 20 };
        Console.WriteLine($"parse: {yaml.Length} bytes of YAML in {file} ({pairs * 2} PEs, {pairs * 4} PWs, {pairs * 2} trunks, {gateways} x {tenants} gateway tenants)");

        string canonical = "";
        var parse = Time(runs, () =>
        {
            var result = IntentParser.Parse(yaml, limits);
            if (!result.IsValid) throw new InvalidOperationException($"the scale intent does not parse: {string.Join(" | ", result.Errors.Take(3).Select(e => $"{e.Line}:{e.Column} {e.Reason}"))}");
        });
        var normalize = Time(runs, () =>
        {
            var normalized = IntentNormalizer.Normalize(yaml, limits);
            canonical = normalized.Canonical ?? throw new InvalidOperationException("the scale intent does not normalize");
        });
        var canonicalParse = Time(runs, () =>
        {
            if (!IntentParser.Parse(canonical, IntentParseLimits.Trusted).IsValid) throw new InvalidOperationException("the canonical form does not parse");
        });

        void Show(string what, (double Min, double Median, double Max, double First) t, int bytes) =>
            Console.WriteLine($"parse: {what}: first (cold) {t.First * 1000:F1} ms; then min {t.Min * 1000:F1} ms, median {t.Median * 1000:F1} ms, max {t.Max * 1000:F1} ms over {runs} run(s) ({t.Median * 1e6 / bytes * 1000:F0} ns/byte)");
        Show("YAML parse", parse, yaml.Length);
        Show("normalize (parse + canonical JSON)", normalize, yaml.Length);
        Show("canonical JSON parse", canonicalParse, Encoding.UTF8.GetByteCount(canonical));

        var result = new Dictionary<string, object>
        {
            ["scenario"] = "parse",
            ["yaml_bytes"] = yaml.Length,
            ["canonical_bytes"] = Encoding.UTF8.GetByteCount(canonical),
            ["runs"] = runs,
            ["parse_ms_first"] = Math.Round(parse.First * 1000, 1),
            ["parse_ms_min"] = Math.Round(parse.Min * 1000, 1),
            ["parse_ms_median"] = Math.Round(parse.Median * 1000, 1),
            ["parse_ms_max"] = Math.Round(parse.Max * 1000, 1),
            ["normalize_ms_median"] = Math.Round(normalize.Median * 1000, 1),
            ["canonical_parse_ms_median"] = Math.Round(canonicalParse.Median * 1000, 1),
        };
        if (outIndex < 0) File.Delete(file);
        Console.WriteLine(JsonSerializer.Serialize(result));
        return 0;
    }

    /// <summary>Seconds per run: min, median, max over <paramref name="runs"/> runs after one warm-up.</summary>
    private static (double Min, double Median, double Max, double First) Time(int runs, Action action)
    {
        var first = Stopwatch.StartNew();
        action();
        var cold = first.Elapsed.TotalSeconds;
        var seconds = new List<double>();
        for (int i = 0; i < runs; i++)
        {
            var clock = Stopwatch.StartNew();
            action();
            seconds.Add(clock.Elapsed.TotalSeconds);
        }
        seconds.Sort();
        return (seconds[0], seconds[seconds.Count / 2], seconds[^1], cold);
    }
}
