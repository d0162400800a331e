using System.Globalization;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
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

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>kill(2): <paramref name="signal"/> to <paramref name="pid"/>.</summary>
    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill")]
    internal static extern int Signal(int pid, int signal);
}
