namespace Fabric.Benchmarks.Scenarios;

/// <summary>
/// Percentiles of measured values (reply times). Compiled into Fabric.Tests too (linked in its
/// project file), where the rank rule is tested.
/// </summary>
internal static class Percentiles
{
    /// <summary>
    /// The nearest-rank percentile: the smallest value with at least <paramref name="fraction"/> of
    /// the values at or below it (of 100 replies, p99 is the 99th smallest; of 5, the largest).
    /// NaN values are left out; NaN when none is left.
    /// </summary>
    public static double NearestRank(IEnumerable<double> values, double fraction)
    {
        var sorted = values.Where(v => !double.IsNaN(v)).Order().ToArray();
        return sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(fraction * sorted.Length) - 1, 0, sorted.Length - 1)];
    }
}
