using System.Diagnostics;
using System.Net.Sockets;
using Fabric.Tests.DataPlane.Io;
using Fabric.Tests.Support;
using Xunit.Abstractions;

namespace Fabric.Tests.Node;

/// <summary>
/// A `fabric-node` started by the tests dies with the process that started it, even a kill -9'd
/// one: a killed test host must not leave nodes holding 127.0.0.1:6635/6636 and management ports
/// for later runs. A `sh` stands in for the test host: it starts the node with
/// <see cref="NodeProcess.CommandLine"/>, exactly as <see cref="NodeProcess"/> does, and is killed.
/// </summary>
public sealed class NodeParentDeathTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_node_started_by_a_process_that_is_killed_with_SIGKILL_is_gone_within_seconds(bool inNamespace)
    {
        using var dir = new TempDir();
        using var netns = inNamespace ? new TestNamespace("fpd") : null;
        netns?.Ip("link set lo up");
        var management = NodeProcess.FreeTcpPort();
        var command = NodeProcess.CommandLine(netns?.Name, "run", "--port", "0", "--management", $"127.0.0.1:{management}",
            "--data", dir.Sub("d"), "--intent", "none");
        var log = dir.Sub("node.log");
        var info = new ProcessStartInfo("/bin/sh") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { "-c", $"\"$@\" >{log} 2>&1 & echo $!; wait", "sh" }.Concat(command)) info.ArgumentList.Add(a);
        using var parent = Process.Start(info)!;
        var nodePid = int.Parse((await parent.StandardOutput.ReadLineAsync())!.Trim());
        try
        {
            // The node runs: it answers on its management port.
            await Eventually.Holds(() => Alive(nodePid) && Listening(netns, management), TimeSpan.FromSeconds(60), "the node listens on its management port");
            Assert.Equal(parent.Id, ParentOf(nodePid));

            Assert.Equal(0, kill(parent.Id, 9));
            var killed = Stopwatch.StartNew();
            await Eventually.Holds(() => !Alive(nodePid), TimeSpan.FromSeconds(5), $"node {nodePid} gone after its parent {parent.Id} was killed with SIGKILL");
            output.WriteLine($"node gone {killed.ElapsedMilliseconds} ms after its parent was killed (in a namespace: {inNamespace})");
            await Eventually.Holds(() => !Listening(netns, management), TimeSpan.FromSeconds(2), "the management port is free again");
        }
        catch
        {
            output.WriteLine(File.Exists(log) ? File.ReadAllText(log) : "(no node log)");
            throw;
        }
        finally
        {
            if (Alive(nodePid)) kill(nodePid, 9);
            if (!parent.HasExited) parent.Kill();
        }
    }

    /// <summary>True while the process runs (a zombie awaiting its reaper is dead: it holds no socket).</summary>
    private static bool Alive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)] != 'Z';
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static int ParentOf(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1]);
    }

    private static bool Listening(TestNamespace? netns, int port)
    {
        if (netns is not null)
            return netns.Exec("/bin/bash", $"-c \"exec 3<>/dev/tcp/127.0.0.1/{port}\"", 5000).ExitCode == 0;
        try
        {
            using var client = new TcpClient();
            client.Connect("127.0.0.1", port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);
}
