using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Fabric.Tests.DataPlane.Io;

namespace Fabric.Tests.Support;

/// <summary>`ping -D -i 0.05` in a namespace for the whole test: the reply timestamps tell when traffic came back. Stopped by its PID.</summary>
internal sealed partial class Pinger : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly List<double> _replies = [];

    private Pinger(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => Line(e.Data);
        process.ErrorDataReceived += (_, e) => Line(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public static Pinger Start(string netns, string ping, string target)
    {
        var info = new ProcessStartInfo("ip", $"netns exec {netns} {ping} -D -n -i 0.05 -W 1 {target}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        return new Pinger(Process.Start(info)!);
    }

    /// <summary>Seconds since the Unix epoch, as ping -D prints them.</summary>
    public static double Now() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;

    public string Output
    {
        get
        {
            lock (_output) return _output.ToString();
        }
    }

    public double LastReply
    {
        get
        {
            lock (_output) return _replies.Count == 0 ? 0 : _replies[^1];
        }
    }

    /// <summary>The first reply received after <paramref name="since"/>, or null.</summary>
    public double? RepliesAfter(double since)
    {
        lock (_output)
        {
            foreach (var r in _replies)
            {
                if (r > since) return r;
            }
            return null;
        }
    }

    private void Line(string? line)
    {
        if (line is null) return;
        lock (_output)
        {
            if (_output.Length < 200_000) _output.AppendLine(line);
            var m = Reply().Match(line);
            if (m.Success) _replies.Add(double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
        }
    }

    [GeneratedRegex(@"^\[(\d+\.\d+)\] \d+ bytes from")]
    private static partial Regex Reply();

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            HostTools.Run("/bin/kill", $"-INT {_process.Id}");
            if (!_process.WaitForExit(3000)) _process.Kill(entireProcessTree: true);
        }
        _process.Dispose();
    }
}
