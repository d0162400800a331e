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
    [Fact]
    public async Task A_held_scenario_stopped_with_sigint_leaves_no_namespace_link_or_process_behind()
    {
        HostTools.RequireRoot();
        HostTools.Require("iperf3", "iperf3");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { BenchmarksDll, "scenario", "tap", "--paths", "veth", "--reps", "1", "--seconds", "1", "--udp-seconds", "0", "--hold", "300" })
        {
            info.ArgumentList.Add(a);
        }

        var text = new StringBuilder();
        var held = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var scenario = Process.Start(info)!;
        scenario.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (text) text.AppendLine(e.Data);
            if (e.Data.StartsWith("hold veth:", StringComparison.Ordinal)) held.TrySetResult(e.Data);
        };
        scenario.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (text) text.AppendLine(e.Data); };
        scenario.BeginOutputReadLine();
        scenario.BeginErrorReadLine();
        var started = new List<int>();
        var namespaces = new List<string>();
        try
        {
            var line = await held.Task.WaitAsync(TimeSpan.FromSeconds(120));
            // hold veth: client netns NS dev DEV (ADDR), server netns NS dev DEV (ADDR)
            var words = line.Split(' ');
            string clientNs = words[Array.IndexOf(words, "client") + 2], serverNs = words[Array.IndexOf(words, "server") + 2];
            string clientDev = words[Array.IndexOf(words, "client") + 4];
            namespaces.AddRange([clientNs, serverNs]);
            Assert.True(TestNamespace.Exists(clientNs) && TestNamespace.Exists(serverNs), line);
            started.AddRange(Descendants(scenario.Id));
            Assert.NotEmpty(started); // the iperf3 server at least

            Assert.Equal(0, NodeProcess.Signal(scenario.Id, 2));
            await scenario.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);
            string log;
            lock (text) log = text.ToString();
            output.WriteLine(log);
            Assert.Equal(130, scenario.ExitCode);
            Assert.Contains("SIGINT", log);
            Assert.False(TestNamespace.Exists(clientNs), $"{clientNs} left behind");
            Assert.False(TestNamespace.Exists(serverNs), $"{serverNs} left behind");
            Assert.DoesNotContain(clientDev, HostTools.Ip("-br link"));
            Assert.All(started, pid => Assert.False(Directory.Exists($"/proc/{pid}") && !Zombie(pid), $"process {pid} left behind"));
        }
        finally
        {
            // What a failed run would leave: removed here, so one failure does not spill into other tests.
            if (!scenario.HasExited) scenario.Kill(entireProcessTree: true);
            foreach (int pid in started.Where(pid => !Zombie(pid))) NodeProcess.Signal(pid, 9);
            foreach (var ns in namespaces.Where(TestNamespace.Exists)) HostTools.Ip($"netns del {ns}");
        }
    }

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
