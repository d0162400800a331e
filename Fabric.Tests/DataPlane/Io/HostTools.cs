using System.Diagnostics;

namespace Fabric.Tests.DataPlane.Io;

/// <summary>Runs root tools (ip, ping, tshark) for the device tests, with a bounded wait.</summary>
internal static class HostTools
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public override string ToString() => $"exit {ExitCode}\n{Stdout}\n{Stderr}";
    }

    /// <summary>
    /// Fails the test loudly (never skips) when <paramref name="tool"/> is not on PATH: these
    /// tests need the real tool, which `.ci/run` installs from Debian.
    /// </summary>
    public static string Require(string tool, string debianPackage)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin").Split(':'))
        {
            string candidate = Path.Combine(dir, tool);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        foreach (string dir in new[] { "/usr/sbin", "/usr/bin", "/sbin", "/bin" })
        {
            string candidate = Path.Combine(dir, tool);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException(
            $"'{tool}' is missing: install the Debian package '{debianPackage}' (.ci/run installs it: apt-get install -y {debianPackage}).");
    }

    public static void RequireRoot()
    {
        if (Environment.UserName != "root" && !string.Equals(Environment.GetEnvironmentVariable("USER"), "root", StringComparison.Ordinal))
        {
            throw new InvalidOperationException("This test needs root (CAP_NET_ADMIN) for network namespaces and TAP devices; .ci/run runs as root.");
        }
    }

    public static Result Run(string file, string arguments, int timeoutMs = 30_000)
    {
        var psi = new ProcessStartInfo(file, arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeoutMs))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            return new Result(-1, stdout.Result, $"timed out after {timeoutMs} ms; {stderr.Result}");
        }

        process.WaitForExit();
        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Runs `ip ARGS` and throws with its output when it fails.</summary>
    public static string Ip(string arguments)
    {
        Result r = Run(Require("ip", "iproute2"), arguments);
        if (r.ExitCode != 0)
        {
            throw new InvalidOperationException($"ip {arguments} failed: {r}");
        }

        return r.Stdout;
    }
}

/// <summary>
/// A link in the host's namespace that a test makes or has a node make (a gateway's persistent
/// TAP outlives the node by design), deleted on dispose if it is still there.
/// </summary>
internal sealed class HostLink(string name) : IDisposable
{
    public string Name { get; } = name;

    public void Dispose() => HostTools.Run(HostTools.Require("ip", "iproute2"), $"link del {Name}");
}

/// <summary>
/// A network namespace private to one test (name carries the PID and a counter), deleted on
/// dispose together with anything left inside it.
/// </summary>
internal sealed class TestNamespace : IDisposable
{
    private static int _counter;

    public TestNamespace(string prefix)
    {
        HostTools.RequireRoot();
        Name = $"{prefix}-{Environment.ProcessId}-{Interlocked.Increment(ref _counter)}";
        HostTools.Ip($"netns add {Name}");
    }

    public string Name { get; }

    /// <summary>Runs `ip netns exec NAME FILE ARGS`.</summary>
    public HostTools.Result Exec(string file, string arguments, int timeoutMs = 30_000) =>
        HostTools.Run(HostTools.Require("ip", "iproute2"), $"netns exec {Name} {file} {arguments}", timeoutMs);

    /// <summary>Runs `ip -n NAME ARGS` and throws on failure.</summary>
    public string Ip(string arguments) => HostTools.Ip($"-n {Name} {arguments}");

    /// <summary>A kernel counter of the namespace as `nstat` names it (absolute; nstat's history untouched), -1 when it has none.</summary>
    public long Counter(string name)
    {
        var line = Exec("nstat", $"-asz {name}").Stdout.Split('\n').FirstOrDefault(l => l.Split(' ', 2)[0] == name);
        return line is null ? -1 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
    }

    public static bool Exists(string name) =>
        HostTools.Ip("netns list").Split('\n').Any(l => l.Split(' ')[0] == name);

    public void Dispose()
    {
        HostTools.Run(HostTools.Require("ip", "iproute2"), $"netns del {Name}");
    }
}
