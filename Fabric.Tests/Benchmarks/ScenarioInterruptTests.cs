using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
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
    public Task A_scenario_stopped_with_sigint_leaves_no_namespace_link_or_process_behind(string arguments, string signalAfter, string link1, string link2) =>
        RunScenario(arguments, signalAfter, [link1, link2]);

    /// <summary>
    /// Run to its end, `scenario tap` undid its paths while the gateway node still ran: the node's
    /// gateway, its TAPs deleted under it, opened them again in the host's namespace, and they
    /// outlived the run (found after a run piped into head). The PW path's TAPs, too. With the PW
    /// path's shape without a fabric beside it (tapudp, compiled here; socat): their processes and
    /// TAPs go too, and the PW path's RTT is given over theirs.
    /// </summary>
    [Fact]
    public Task A_scenario_run_to_its_end_leaves_no_namespace_link_or_process_behind() =>
        RunScenario("tap --paths gateway,pw,tapudp,socat_udp --reps 1 --seconds 1 --udp-seconds 0 --pings 5 --duel-pairs 2 --duel-pings 5", null,
            ["tg{0}d", "tg{0}u", "tp{0}a", "tp{0}b", "ts{0}a", "ts{0}b"],
            json =>
            {
                Assert.True(json["rtt_p50_ms_tapudp"]?["median"]?.GetValue<double>() > 0, "tapudp's RTT measured");
                Assert.True(json["rtt_p50_ms_socat_udp"]?["median"]?.GetValue<double>() > 0, "socat's RTT measured");
                Assert.True(json["pw_rtt_vs_tapudp"]?.GetValue<double>() > 0, "the PW path's RTT over tapudp's");
                Assert.True(json["pw_rtt_vs_socat_udp"]?.GetValue<double>() > 0, "the PW path's RTT over socat's");
                foreach (var path in new[] { "gateway", "pw", "tapudp", "socat_udp" })
                {
                    // Of 5 replies the 99th percentile is the slowest: never below the median.
                    var p50 = json[$"rtt_p50_ms_{path}"]!["median"]!.GetValue<double>();
                    var p99 = json[$"rtt_p99_ms_{path}"]?["median"]?.GetValue<double>();
                    Assert.True(p99 >= p50, $"{path}: p99 {p99} at least the median {p50}");
                }

                // The PW path against tapudp in alternating bursts: 2 pairs of 5 pings a side.
                var duel = json["pw_rtt_vs_tapudp_interleaved"]!;
                Assert.True(duel["ratio"]?.GetValue<double>() > 0, "the interleaved PW/tapudp ratio");
                Assert.Equal(2, duel["pairs"]!.GetValue<int>());
                Assert.All(duel["replies"]!.AsArray(), r => Assert.InRange(r!.GetValue<int>(), 1, 10));
                Assert.Null(json["gateway_rtt_vs_tapfwd_interleaved"]); // no C forwarder in this run: null, and why
                Assert.Contains("tapfwd_offload", json["not_measured"]!["gateway_rtt_vs_tapfwd_interleaved"]!.GetValue<string>(), StringComparison.Ordinal);
                Assert.Equal(DamonSampleMs(), json["machine_damon"]?.AsArray().Select(d => d!["sample_ms"]!.GetValue<double>()).ToArray() ?? []);
            });

    /// <summary>The sampling intervals of the DAMON contexts that run here, read from sysfs the long way.</summary>
    private static double[] DamonSampleMs()
    {
        const string root = "/sys/kernel/mm/damon/admin/kdamonds";
        if (!Directory.Exists(root)) return [];
        return Directory.GetDirectories(root).Order()
            .Where(k => File.Exists(Path.Combine(k, "state")) && File.ReadAllText(Path.Combine(k, "state")).Trim() == "on")
            .SelectMany(k => Directory.GetDirectories(Path.Combine(k, "contexts")).Order())
            .Select(c => long.Parse(File.ReadAllText(Path.Combine(c, "monitoring_attrs", "intervals", "sample_us")).Trim()) / 1000.0)
            .ToArray();
    }

    /// <summary>
    /// Runs `scenario ARGUMENTS`; with <paramref name="signalAfter"/> sends SIGINT once a line starts
    /// with it and expects exit 130, else expects it to finish (exit 0, its JSON last). Either way no
    /// namespace, none of <paramref name="linkFormats"/> (formatted with the PID % 100000) and no
    /// process it started may be left.
    /// </summary>
    private async Task RunScenario(string arguments, string? signalAfter, string[] linkFormats, Action<JsonNode>? checkResult = null)
    {
        HostTools.RequireRoot();
        HostTools.Require("iperf3", "iperf3");
        if (arguments.Contains("tapudp", StringComparison.Ordinal)) HostTools.Require("gcc", "gcc");
        if (arguments.Contains("socat", StringComparison.Ordinal)) HostTools.Require("socat", "socat");
        HostTools.Require("wrk", "wrk");
        HostTools.Require("nginx", "nginx-light");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { BenchmarksDll, "scenario" }.Concat(arguments.Split(' ')))
        {
            info.ArgumentList.Add(a);
        }

        var text = new StringBuilder();
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new List<int>();
        string lastOut = "";
        using var scenario = Process.Start(info)!;
        scenario.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (text)
            {
                text.AppendLine(e.Data);
                lastOut = e.Data;
            }

            if (signalAfter is not null && e.Data.StartsWith(signalAfter, StringComparison.Ordinal)) reached.TrySetResult();
            if (e.Data.StartsWith("warm-up ", StringComparison.Ordinal))
            {
                lock (started) started.AddRange(Descendants(scenario.Id)); // nodes and iperf3 servers, while they run
            }
        };
        scenario.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (text) text.AppendLine(e.Data); };
        scenario.BeginOutputReadLine();
        scenario.BeginErrorReadLine();
        // What the scenario names after its PID: namespaces PREFIX-PID, links with PID % 100000.
        string suffix = $"-{scenario.Id}";
        string[] links = linkFormats.Select(f => string.Format(f, scenario.Id % 100000)).ToArray();
        try
        {
            if (signalAfter is not null)
            {
                await reached.Task.WaitAsync(TimeSpan.FromSeconds(240));
                Assert.NotEmpty(Namespaces(suffix));
                lock (started) started.AddRange(Descendants(scenario.Id));
                Assert.NotEmpty(started); // the iperf3 server at least
                Assert.Equal(0, NodeProcess.Signal(scenario.Id, 2));
            }

            await scenario.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(signalAfter is null ? 420 : 90)).Token);
            scenario.WaitForExit(); // the output read to its end
            string log;
            lock (text) log = text.ToString();
            output.WriteLine(log);
            if (signalAfter is not null)
            {
                Assert.Equal(130, scenario.ExitCode);
                Assert.Contains("SIGINT", log);
            }
            else
            {
                Assert.Equal(0, scenario.ExitCode);
                lock (text) Assert.Contains("\"tcp1_gbps_gateway\"", lastOut); // its JSON, last
                lock (text) checkResult?.Invoke(JsonNode.Parse(lastOut)!);
                lock (started) Assert.NotEmpty(started);
            }

            Assert.Empty(Namespaces(suffix));
            var left = HostTools.Ip("-br link");
            Assert.All(links, l => Assert.DoesNotContain(l, left));
            lock (started) Assert.All(started, pid => Assert.False(Directory.Exists($"/proc/{pid}") && !Zombie(pid), $"process {pid} left behind"));
        }
        finally
        {
            // What a failed run would leave: removed here, so one failure does not spill into other tests.
            if (!scenario.HasExited) scenario.Kill(entireProcessTree: true);
            lock (started) foreach (int pid in started.Where(pid => !Zombie(pid))) NodeProcess.Signal(pid, 9);
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

    /// <summary>The processes below <paramref name="pid"/>; one that ends while looked at is skipped.</summary>
    private static List<int> Descendants(int pid)
    {
        var found = new List<int>();
        try
        {
            foreach (var task in Directory.GetDirectories($"/proc/{pid}/task"))
            {
                foreach (var child in File.ReadAllText(Path.Combine(task, "children")).Split(' ', StringSplitOptions.RemoveEmptyEntries))
                {
                    found.Add(int.Parse(child));
                    found.AddRange(Descendants(int.Parse(child)));
                }
            }
        }
        catch (IOException)
        {
            // gone meanwhile
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
