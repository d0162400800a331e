using System.Diagnostics;
using Fabric.Tests.Support;
using Xunit.Abstractions;

namespace Fabric.Tests.Node;

/// <summary>SIGTERM at any moment of a node's start is a clean stop, exit 0 (issue 15: it crashed with exit 134).</summary>
public sealed class NodeEarlySigtermTests(ITestOutputHelper output)
{
    [Fact]
    public async Task SIGTERM_in_the_first_second_of_a_start_exits_0()
    {
        // Counted from when the runtime has loaded fabric-node.dll: before that the process is the
        // .NET runtime booting (on this shared machine up to half a second), which ends with 143
        // on SIGTERM before any code of ours can run.
        foreach (var delayMs in new[] { 50, 150, 300, 500, 750, 1000 })
        {
            using var dir = new TempDir();
            using var node = NodeProcess.Start("run", "--port", "0", "--management", $"127.0.0.1:{NodeProcess.FreeTcpPort()}",
                "--data", dir.Sub("d"), "--intent", "none");
            var boot = Stopwatch.StartNew();
            while (!node.HasExited && !LoadedNodeAssembly(node.Pid) && boot.Elapsed < TimeSpan.FromSeconds(30)) await Task.Delay(2);
            var bootMs = boot.ElapsedMilliseconds;
            await Task.Delay(delayMs);
            var code = await node.TerminateAsync(TimeSpan.FromSeconds(40));
            output.WriteLine($"runtime boot {bootMs} ms, then SIGTERM after {delayMs} ms: exit {code}");
            Assert.True(code == 0, $"SIGTERM {delayMs} ms after fabric-node.dll loaded: exit {code}\n{node.Output}");
        }
    }

    private static bool LoadedNodeAssembly(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/maps").Contains("fabric-node.dll", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }
}
