using System.Diagnostics;
using System.Text;
using Fabric.Tests.DataPlane.Io;

namespace Fabric.Tests.Support;

/// <summary>
/// A `fabric-node` process built from this repository (Fabric.Node's own output folder), with
/// its output captured. Killed by PID on dispose if it is still running, and by the kernel when
/// the test host dies (kill -9 included): it is started through `setpriv --pdeathsig KILL`
/// (util-linux), so it never outlives the test run holding 127.0.0.1:6635/6636 or a management port.
/// </summary>
public sealed class NodeProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    public string Output { get { lock (_output) return _output.ToString(); } }
    public int Pid => _process.Id;
    public bool HasExited => _process.HasExited;

    private NodeProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>fabric-node.dll next to Fabric.Node's build output for this test build's configuration.</summary>
    public static string NodeDll
    {
        get
        {
            var testBin = new DirectoryInfo(AppContext.BaseDirectory); // .../Fabric.Tests/bin/<cfg>/net10.0/
            var configuration = testBin.Parent!.Name;
            var repo = testBin.Parent!.Parent!.Parent!.Parent!.FullName;
            var dll = Path.Combine(repo, "Fabric.Node", "bin", configuration, testBin.Name, "fabric-node.dll");
            if (!File.Exists(dll)) throw new FileNotFoundException($"fabric-node is not built at {dll} (dotnet build Fabric.sln)");
            return dll;
        }
    }

    public static NodeProcess Start(params string[] args) => StartIn(null, args);

    /// <summary>
    /// Starts the node inside network namespace <paramref name="netns"/>, or in this one when null.
    /// `setpriv` and `ip netns exec` each exec the next program, so <see cref="Pid"/> is the node's
    /// own process and its parent is this test host.
    /// </summary>
    public static NodeProcess StartIn(string? netns, params string[] args)
    {
        var command = CommandLine(netns, args);
        var info = new ProcessStartInfo(command[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in command.Skip(1)) info.ArgumentList.Add(a);
        info.Environment.Remove("FABRIC_TOKEN");
        return new NodeProcess(Spawner.Start(info));
    }

    /// <summary>
    /// The command line that runs a node: <c>setpriv --pdeathsig KILL [ip netns exec NETNS] dotnet
    /// fabric-node.dll ARGS</c>. PR_SET_PDEATHSIG survives both execs (neither binary is set-user-ID),
    /// so the node gets SIGKILL when the thread that forked it ends, i.e. with the test host.
    /// </summary>
    public static IReadOnlyList<string> CommandLine(string? netns, params string[] args) =>
    [
        HostTools.Require("setpriv", "util-linux"), "--pdeathsig", "KILL",
        .. netns is null ? Array.Empty<string>() : [HostTools.Require("ip", "iproute2"), "netns", "exec", netns],
        "dotnet", NodeDll, .. args,
    ];

    /// <summary>
    /// Forks every node from one thread that lives as long as the test host: the kernel sends the
    /// parent-death signal when the forking *thread* exits, and a thread-pool thread may retire
    /// while its node should still run.
    /// </summary>
    private static class Spawner
    {
        private static readonly System.Collections.Concurrent.BlockingCollection<(ProcessStartInfo Info, TaskCompletionSource<Process> Started)> Requests = new();

        static Spawner()
        {
            new Thread(() =>
            {
                foreach (var (info, started) in Requests.GetConsumingEnumerable())
                {
                    try
                    {
                        started.SetResult(Process.Start(info)!);
                    }
                    catch (Exception e)
                    {
                        started.SetException(e);
                    }
                }
            }) { IsBackground = true, Name = "node-spawner" }.Start();
        }

        public static Process Start(ProcessStartInfo info)
        {
            var started = new TaskCompletionSource<Process>(TaskCreationOptions.RunContinuationsAsynchronously);
            Requests.Add((info, started));
            return started.Task.GetAwaiter().GetResult();
        }
    }

    /// <summary>Runs an operator verb to completion: (exit code, stdout+stderr).</summary>
    public static async Task<(int ExitCode, string Output)> Cli(params string[] args)
    {
        using var process = Start(args);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await process._process.WaitForExitAsync(cts.Token);
        process._process.WaitForExit(); // flush the asynchronous readers
        return (process._process.ExitCode, process.Output);
    }

    /// <summary>Waits for the process to exit on its own; returns its exit code, or null after <paramref name="timeout"/>.</summary>
    public async Task<int?> WaitForExitAsync(TimeSpan timeout)
    {
        try
        {
            using var cts = new CancellationTokenSource(timeout);
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            return null;
        }
        _process.WaitForExit(); // flush the asynchronous readers
        return _process.ExitCode;
    }

    /// <summary>SIGTERM, as an init system would stop the node; returns the exit code.</summary>
    public async Task<int> TerminateAsync(TimeSpan timeout)
    {
        if (Signal(_process.Id, 15) != 0) throw new InvalidOperationException($"kill -TERM {_process.Id} failed");
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        _process.WaitForExit(); // flush the asynchronous readers
        return _process.ExitCode;
    }

    private bool _disposed;

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }
        _process.Dispose();
    }

    /// <summary>A port free now and not handed out before by this process (<see cref="Fabric.Benchmarks.Scenarios.FreePorts.Tcp"/>).</summary>
    public static int FreeTcpPort() => Fabric.Benchmarks.Scenarios.FreePorts.Tcp();

    /// <summary>kill(2): <paramref name="signal"/> to <paramref name="pid"/>.</summary>
    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    internal static extern int Signal(int pid, int signal);
}
