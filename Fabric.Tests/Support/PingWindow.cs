using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Fabric.Tests.DataPlane.Io;

namespace Fabric.Tests.Support;

/// <summary>
/// `ping -n -i 0.05` in a namespace over a window of a test: <see cref="StopAsync"/> ends it with
/// SIGINT (by its PID) and returns ping's own count of what it sent and got back, and the longest
/// run of consecutive sequence numbers without a reply. Bounded by <c>-c</c> as well.
/// </summary>
internal sealed partial class PingWindow : IDisposable
{
    public sealed record Result(int Transmitted, int Received, int LongestGap, bool LastInFlight, string Summary)
    {
        public int Lost => Transmitted - Received;

        /// <summary>Lost, and whether the last one was merely in flight when ping was stopped.</summary>
        public override string ToString() => $"{Summary}; lost {Lost}{(LastInFlight ? " (the last one in flight at the stop)" : "")}, longest gap {LongestGap} pings";
    }

    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly SortedSet<int> _replies = [];

    private PingWindow(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => Line(e.Data);
        process.ErrorDataReceived += (_, e) => Line(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>Pings <paramref name="target"/> from <paramref name="netns"/> every 50 ms, at most <paramref name="maxPings"/> times.</summary>
    public static PingWindow Start(string netns, string ping, string target, int maxPings = 6000)
    {
        // `ip netns exec` execs ping, so the PID is ping's own (SIGINT makes it print its summary).
        var info = new ProcessStartInfo("ip", $"netns exec {netns} {ping} -n -i 0.05 -c {maxPings} {target}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        return new PingWindow(Process.Start(info)!);
    }

    public int Replies
    {
        get { lock (_output) return _replies.Count; }
    }

    /// <summary>Ends the window (SIGINT) and reads ping's summary.</summary>
    public async Task<Result> StopAsync()
    {
        if (!_process.HasExited) HostTools.Run("/bin/kill", $"-INT {_process.Id}");
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5))) await _process.WaitForExitAsync(cts.Token);
        _process.WaitForExit(); // flush the asynchronous readers
        lock (_output)
        {
            var text = _output.ToString();
            var summary = Summary().Match(text);
            if (!summary.Success) throw new InvalidOperationException($"no ping summary in:\n{(text.Length > 3000 ? text[^3000..] : text)}");
            int transmitted = int.Parse(summary.Groups[1].Value, CultureInfo.InvariantCulture), received = int.Parse(summary.Groups[2].Value, CultureInfo.InvariantCulture);
            int gap = 0, last = 0; // sequence numbers start at 1
            foreach (var seq in _replies.Append(transmitted + 1))
            {
                gap = Math.Max(gap, seq - last - 1);
                last = seq;
            }
            return new Result(transmitted, received, gap, transmitted > 0 && !_replies.Contains(transmitted), summary.Value.Trim());
        }
    }

    private void Line(string? line)
    {
        if (line is null) return;
        lock (_output)
        {
            if (_output.Length < 500_000) _output.AppendLine(line);
            var m = Reply().Match(line);
            if (m.Success) _replies.Add(int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
        }
    }

    [GeneratedRegex(@"bytes from .* icmp_seq=(\d+) ")]
    private static partial Regex Reply();

    [GeneratedRegex(@"(\d+) packets transmitted, (\d+) received[^\n]*")]
    private static partial Regex Summary();

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            HostTools.Run("/bin/kill", $"-KILL {_process.Id}");
            _process.WaitForExit(3000);
        }
        _process.Dispose();
    }
}
