using System.Diagnostics;
using Fabric.Benchmarks.Scenarios;

namespace Fabric.Benchmarks;

/// <summary>
/// A network namespace owned by one scenario run (name carries the PID), deleted on dispose.
/// All traffic of a scenario stays on loopback or inside such a namespace.
/// </summary>
internal sealed class ScenarioNamespace : IDisposable
{
    public ScenarioNamespace(string prefix)
    {
        Name = $"{prefix}-{Environment.ProcessId}";
        Run("ip", $"netns del {Name}", check: false); // leftovers of a crashed run with a recycled PID
        Run("ip", $"netns add {Name}");
        ScenarioCleanup.Track(this, Dispose); // deleted even when the scenario is interrupted
    }

    public string Name { get; }

    public string Ip(string arguments) => Run("ip", $"-n {Name} {arguments}");

    public string Exec(string command, string arguments, int timeoutMs = 60_000, bool check = true) =>
        Run("ip", $"netns exec {Name} {command} {arguments}", check, timeoutMs);

    public void Dispose()
    {
        ScenarioCleanup.YieldToInterrupt();
        ScenarioCleanup.Untrack(this);
        Run("ip", $"netns del {Name}", check: false);
    }

    /// <summary>Moves <paramref name="device"/> (a TAP, a veth end) in here and gives it <paramref name="address"/> (and a default route via <paramref name="gateway"/>).</summary>
    public void Attach(string device, string address, string? gateway)
    {
        Run("ip", $"link set {device} netns {Name}");
        Address(device, address, gateway);
    }

    /// <summary>Gives <paramref name="device"/>, already in here, <paramref name="address"/>, brings it and lo up, and routes by default via <paramref name="gateway"/>.</summary>
    public void Address(string device, string address, string? gateway)
    {
        Ip($"addr add {address} dev {device}");
        Ip($"link set {device} up");
        Ip("link set lo up");
        if (gateway is not null) Ip($"route add default via {gateway}");
    }

    /// <summary>Starts <paramref name="file"/> in here without waiting; its output is drained (or left to read when <paramref name="keepOutput"/>).</summary>
    public Process Background(string file, string arguments, bool keepOutput = false)
    {
        var info = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "netns", "exec", Name, file }.Concat(arguments.Split(' '))) info.ArgumentList.Add(a);
        var p = Process.Start(info)!;
        if (!keepOutput)
        {
            p.OutputDataReceived += (_, _) => { };
            p.BeginOutputReadLine();
        }
        p.ErrorDataReceived += (_, _) => { };
        p.BeginErrorReadLine();
        return p;
    }

    public static string Run(string file, string arguments, bool check = true, int timeoutMs = 60_000)
    {
        var psi = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        using Process p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeoutMs))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            throw new TimeoutException($"{file} {arguments} did not finish in {timeoutMs} ms");
        }

        p.WaitForExit();
        if (check && p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {arguments} failed ({p.ExitCode}): {stderr.Result}");
        }

        return stdout.Result;
    }
}
