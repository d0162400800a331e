using System.Diagnostics;
using System.Text;
using Fabric.Tests.DataPlane.Io;
using Fabric.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Fabric.Tests.Benchmarks;

/// <summary>
/// A benchmark scenario interrupted by hand (Ctrl-C on a held run) used to die at once and leave its
/// namespaces, veths and iperf3 servers behind. Run for real: `scenario tap` on the veth path,
/// held, then SIGINT.
/// </summary>
public class ScenarioInterruptTests(ITestOutputHelper output)
{
    /// <summary>
    /// tap on veth: held (the scenario's thread waits). tap through the gateway: mid-stream, in the
    /// warm-up. crr: mid-run, where the scenario's thread sees its wrk killed under it, leaves the
    /// block that owns its namespaces and heads for its own cleanup; it raced the signal's and left
    /// the gateway's persistent TAPs behind (they came back to the host's namespace after both had
    /// looked for them).
    /// </summary>
    [Theory]
    [InlineData("tap --paths veth --reps 1 --seconds 1 --udp-seconds 0 --hold 300", "hold veth:", "tv{0}a", "tv{0}b")]
    [InlineData("tap --paths gateway --reps 1 --seconds 1 --udp-seconds 0 --hold 300", "warm-up gateway:", "tg{0}d", "tg{0}u")]
    [InlineData("crr --reps 1 --seconds 2", "warm-up gateway:", "snatc{0}d", "snatc{0}u")]
    public async Task A_scenario_stopped_with_sigint_leaves_no_namespace_link_or_process_behind(string arguments, string signalAfter, string link1, string link2)
    {
        HostTools.RequireRoot();
        HostTools.Require("iperf3", "iperf3");
        HostTools.Require("wrk", "wrk");
        HostTools.Require("nginx", "nginx-light");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { BenchmarksDll, "scenario" }.Concat(arguments.Split(' ')))
        {
            info.ArgumentList.Add(a);
        }

        var text = new StringBuilder();
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var scenario = Process.Start(info)!;
        scenario.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (text) text.AppendLine(e.Data);
            if (e.Data.StartsWith(signalAfter, StringComparison.Ordinal)) reached.TrySetResult();
        };
        scenario.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (text) text.AppendLine(e.Data); };
        scenario.BeginOutputReadLine();
        scenario.BeginErrorReadLine();
        // What the scenario names after its PID: namespaces PREFIX-PID, links with PID % 100000.
        string suffix = $"-{scenario.Id}";
        string[] links = [string.Format(link1, scenario.Id % 100000), string.Format(link2, scenario.Id % 100000)];
        var started = new List<int>();
        try
        {
            await reached.Task.WaitAsync(TimeSpan.FromSeconds(240));
            Assert.NotEmpty(Namespaces(suffix));
            started.AddRange(Descendants(scenario.Id));
            Assert.NotEmpty(started); // the iperf3 server at least

            Assert.Equal(0, NodeProcess.Signal(scenario.Id, 2));
            await scenario.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(90)).Token);
            string log;
            lock (text) log = text.ToString();
            output.WriteLine(log);
            Assert.Equal(130, scenario.ExitCode);
            Assert.Contains("SIGINT", log);
            Assert.Empty(Namespaces(suffix));
            var left = HostTools.Ip("-br link");
            Assert.All(links, l => Assert.DoesNotContain(l, left));
            Assert.All(started, pid => Assert.False(Directory.Exists($"/proc/{pid}") && !Zombie(pid), $"process {pid} left behind"));
        }
        finally
        {
            // What a failed run would leave: removed here, so one failure does not spill into other tests.
            if (!scenario.HasExited) scenario.Kill(entireProcessTree: true);
            foreach (int pid in started.Where(pid => !Zombie(pid))) NodeProcess.Signal(pid, 9);
            foreach (var ns in Namespaces(suffix)) HostTools.Ip($"netns del {ns}");
            foreach (var l in links) HostTools.Run(HostTools.Require("ip", "iproute2"), $"link del {l}"); // absent: ip fails, nothing to do
            // An interrupted scenario keeps its node logs in its directory, as a failed one does.
            foreach (var d in Directory.GetDirectories(Path.GetTempPath(), $"fabric-bench-*-{scenario.Id}")) Directory.Delete(d, recursive: true);
        }
    }

    private static List<string> Namespaces(string suffix) =>
        HostTools.Ip("netns list").Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ')[0]).Where(n => n.EndsWith(suffix, StringComparison.Ordinal)).ToList();

    /// <summary>The benchmarks' build output for this test build's configuration (built first: the test project references it).</summary>
    private static string BenchmarksDll
    {
        get
        {
            var testBin = new DirectoryInfo(AppContext.BaseDirectory); // .../Fabric.Tests/bin/<cfg>/net10.0/
            var repo = testBin.Parent!.Parent!.Parent!.Parent!.FullName;
            var dll = Path.Combine(repo, "Fabric.Benchmarks", "bin", testBin.Parent!.Name, testBin.Name, "Fabric.Benchmarks.dll");
            return File.Exists(dll) ? dll : throw new FileNotFoundException($"Fabric.Benchmarks is not built at {dll} (dotnet build Fabric.sln)");
        }
    }

    private static List<int> Descendants(int pid)
    {
        var found = new List<int>();
        foreach (var task in Directory.GetDirectories($"/proc/{pid}/task"))
        {
            foreach (var child in File.ReadAllText(Path.Combine(task, "children")).Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                found.Add(int.Parse(child));
                found.AddRange(Descendants(int.Parse(child)));
            }
        }

        return found;
    }

    private static bool Zombie(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z');
        }
        catch (IOException)
        {
            return true; // gone
        }
    }
}
