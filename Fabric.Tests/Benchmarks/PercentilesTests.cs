using Fabric.Benchmarks.Scenarios;
using Xunit;

namespace Fabric.Tests.Benchmarks;

/// <summary>`scenario tap`'s <c>rtt_p99_ms_*</c> rank rule: nearest rank, as the README states it.</summary>
public class PercentilesTests
{
    [Fact]
    public void The_99th_percentile_of_100_replies_is_the_99th_smallest_and_of_5_the_largest()
    {
        var hundred = Enumerable.Range(1, 100).Select(i => (double)i).Reverse().ToList();
        Assert.Equal(99, Percentiles.NearestRank(hundred, 0.99));
        Assert.Equal(50, Percentiles.NearestRank(hundred, 0.5));
        Assert.Equal(5, Percentiles.NearestRank([3, 5, 1, 4, 2], 0.99));
        Assert.Equal(1, Percentiles.NearestRank([3, 5, 1, 4, 2], 0));
        Assert.Equal(2, Percentiles.NearestRank([double.NaN, 2, 1], 0.99)); // NaN left out
        Assert.True(double.IsNaN(Percentiles.NearestRank([], 0.99)));
    }
}
