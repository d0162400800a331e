using System.Globalization;
using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Fabric.Benchmarks.Scenarios;

/// <summary>Real `fabric-node run` processes for the scenarios: the built node, start and SIGTERM by PID, management GETs, waits, free ports.</summary>
internal static class NodeProcesses
{
    public static string NodeDll()
    {
        // A/B runs: another build's node (e.g. a copy of main's Release output) against this build's scenario.
        if (Environment.GetEnvironmentVariable("FABRIC_NODE_DLL") is { Length: > 0 } other) return other;
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Fabric.sln"))) dir = dir.Parent;
        if (dir is null) throw new InvalidOperationException("run from inside the Fabric repository");
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
        var dll = Path.Combine(dir.FullName, "Fabric.Node", "bin", configuration, "net10.0", "fabric-node.dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException($"build Fabric.Node first: dotnet build -c {configuration} Fabric.Node", dll);
    }

    public static Process Start(string dll, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(dll);
        info.ArgumentList.Add("run");
        foreach (var a in args) info.ArgumentList.Add(a);
        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    public static void Terminate(Process process)
    {
        if (process.HasExited) return;
        Signal(process.Id, 15);
        if (!process.WaitForExit(30_000)) process.Kill(entireProcessTree: true);
    }

    /// <summary>Seconds of each warm-up stream (<see cref="WarmUp"/>).</summary>
    public const int WarmUpSeconds = 2;

    /// <summary>Warm when the JIT took at most this share of a stream's time per node.</summary>
    private const double JitSettled = 0.025;
    private const int WarmUpRounds = 10;

    /// <summary>
    /// Runs <paramref name="stream"/> (traffic for <see cref="WarmUpSeconds"/>, described in what it
    /// returns) once, then, on a path through the fabric-node processes of management ports
    /// <paramref name="nodes"/>, again while their JIT still works
    /// (<c>dotnet_jit_compilation_time_seconds_total</c> grew by more than <see cref="JitSettled"/>
    /// of the stream's time per node), at most <see cref="WarmUpRounds"/> times. Tiered compilation
    /// recompiles the hot paths optimised over the first ~10-20 s of traffic: after a single 2 s
    /// warm-up the PW nodes' JIT took 1.1, 0.6, 2.1 s per 2 s stream before it fell to ~0.1 s, and
    /// a round measured before that is the nodes' start, not their speed. (An idle node keeps
    /// compiling slowly for minutes, ~50 ms/s at first: timer-driven code reaches its call counts
    /// at its timers' pace.)
    /// </summary>
    public static async Task WarmUp(HttpClient http, int[] nodes, string name, Func<string> stream)
    {
        for (int round = 1; ; round++)
        {
            double before = await JitSeconds(http, nodes);
            string said = stream();
            double jit = await JitSeconds(http, nodes) - before;
            Console.WriteLine(nodes.Length == 0 ? $"warm-up {name}: {said}" : $"warm-up {name}: {said}, the nodes' JIT {jit * 1000:0} ms");
            if (nodes.Length == 0 || jit <= JitSettled * WarmUpSeconds * nodes.Length || round == WarmUpRounds) return;
        }
    }

    /// <summary>The JIT time of the nodes at <paramref name="nodes"/> together (0 for none).</summary>
    private static async Task<double> JitSeconds(HttpClient http, int[] nodes)
    {
        double sum = 0;
        foreach (int management in nodes)
        {
            sum += Metric(await http.GetStringAsync($"http://127.0.0.1:{management}/metrics"), "dotnet_jit_compilation_time_seconds_total");
        }

        return sum;
    }

    /// <summary>A sample's value in a Prometheus text page; <paramref name="name"/> with its labels as printed (<c>x{a="1"}</c>); 0 when absent.</summary>
    public static double Metric(string text, string name) =>
        text.Split('\n').Where(l => l.StartsWith(name + " ", StringComparison.Ordinal))
            .Select(l => double.Parse(l[(name.Length + 1)..], CultureInfo.InvariantCulture)).FirstOrDefault();

    public static async Task<JsonNode?> Get(HttpClient http, int port, string path)
    {
        try
        {
            using var response = await http.GetAsync($"http://127.0.0.1:{port}{path}");
            return response.IsSuccessStatusCode ? JsonNode.Parse(await response.Content.ReadAsStringAsync()) : null;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }

    public static async Task Until(Func<Task<bool>> condition, string what, int seconds = 60)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(seconds);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException(what);
            await Task.Delay(10);
        }
    }

    /// <summary>See <see cref="FreePorts.Tcp"/>.</summary>
    public static int FreePort() => FreePorts.Tcp();

    /// <summary>kill(2): <paramref name="signal"/> to <paramref name="pid"/>.</summary>
    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill")]
    internal static extern int Signal(int pid, int signal);
}
