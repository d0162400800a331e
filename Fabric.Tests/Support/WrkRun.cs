using System.Globalization;
using System.Text.RegularExpressions;
using Fabric.Tests.DataPlane.Io;

namespace Fabric.Tests.Support;

/// <summary>
/// One `wrk` run inside a network namespace and what its report says: requests completed, the
/// socket errors line (absent = all zero), non-2xx responses and the latency percentiles of
/// <c>--latency</c>. With <c>Connection: close</c> every request is a new TCP connection.
/// </summary>
public sealed partial record WrkRun(string Output, long Requests, double Seconds, long ConnectErrors, long ReadErrors, long WriteErrors, long Timeouts, long Non2xx, double P50Ms, double P99Ms)
{
    public long Errors => ConnectErrors + ReadErrors + WriteErrors + Timeouts + Non2xx;

    public double PerSecond => Seconds > 0 ? Requests / Seconds : 0;

    public static WrkRun Start(string netns, string url, int connections = 16, int seconds = 3, bool close = true)
    {
        var wrk = HostTools.Require("wrk", "wrk");
        var header = close ? "-H 'Connection: close'" : "";
        var r = HostTools.Run("/bin/sh", $"-c \"ip netns exec {netns} {wrk} -t1 -c{connections} -d{seconds}s --latency {header} {url}\"", timeoutMs: (seconds + 30) * 1000);
        if (r.ExitCode != 0) throw new InvalidOperationException($"wrk failed: {r}");
        return Parse(r.Stdout + r.Stderr);
    }

    public static WrkRun Parse(string output)
    {
        var done = Done().Match(output);
        var errors = SocketErrors().Match(output);
        var non2xx = Non2xxLine().Match(output);
        return new WrkRun(
            output,
            done.Success ? long.Parse(done.Groups[1].Value, CultureInfo.InvariantCulture) : 0,
            done.Success ? Duration(done.Groups[2].Value) / 1000 : 0,
            errors.Success ? long.Parse(errors.Groups[1].Value, CultureInfo.InvariantCulture) : 0,
            errors.Success ? long.Parse(errors.Groups[2].Value, CultureInfo.InvariantCulture) : 0,
            errors.Success ? long.Parse(errors.Groups[3].Value, CultureInfo.InvariantCulture) : 0,
            errors.Success ? long.Parse(errors.Groups[4].Value, CultureInfo.InvariantCulture) : 0,
            non2xx.Success ? long.Parse(non2xx.Groups[1].Value, CultureInfo.InvariantCulture) : 0,
            Percentile(output, "50%"),
            Percentile(output, "99%"));
    }

    /// <summary>wrk prints durations as 1.23us / 4.56ms / 7.89s / 1.02m; in milliseconds.</summary>
    public static double Duration(string text)
    {
        var m = DurationValue().Match(text);
        if (!m.Success) return double.NaN;
        var v = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        return m.Groups[2].Value switch
        {
            "us" => v / 1000,
            "ms" => v,
            "s" => v * 1000,
            "m" => v * 60_000,
            _ => double.NaN,
        };
    }

    private static double Percentile(string output, string which)
    {
        var m = Regex.Match(output, @"^\s+" + Regex.Escape(which) + @"\s+(\S+)\s*$", RegexOptions.Multiline);
        return m.Success ? Duration(m.Groups[1].Value) : double.NaN;
    }

    [GeneratedRegex(@"(\d+) requests in ([\d.]+\w+),")]
    private static partial Regex Done();

    [GeneratedRegex(@"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")]
    private static partial Regex SocketErrors();

    [GeneratedRegex(@"Non-2xx or 3xx responses: (\d+)")]
    private static partial Regex Non2xxLine();

    [GeneratedRegex(@"^([\d.]+)(us|ms|s|m)$")]
    private static partial Regex DurationValue();
}
