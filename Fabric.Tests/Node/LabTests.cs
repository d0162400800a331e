using System.Diagnostics;
using System.Text.Json.Nodes;
using Fabric.Tests.Support;
using Xunit.Abstractions;

namespace Fabric.Tests.Node;

/// <summary>`fabric-node lab up|down`: namespaces behind the intent's TAP ports, a ping between them through the fabric.</summary>
[Collection(OperatorPaletteTests.Collection)]
public sealed class LabTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Lab_up_makes_namespaces_a_ping_crosses_the_fabric_between_them_and_lab_down_removes_everything()
    {
        Assert.True(Environment.UserName == "root" || geteuid() == 0, "the lab test needs root (network namespaces and TAP devices)");
        using var dir = new TempDir();
        // The sample lab intent with TAP names of this run only (parallel helpers, earlier runs).
        var tag = $"{Environment.ProcessId % 10000:x4}{Random.Shared.Next(0x1000):x3}";
        var (tapA, tapB) = ($"la{tag}", $"lb{tag}");
        var sample = await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "samples", "lab-intent.yaml"));
        var file = Path.Combine(dir.Path, "lab.yaml");
        await File.WriteAllTextAsync(file, sample.Replace("lab-ce-a", tapA).Replace("lab-ce-b", tapB));
        var (nsA, nsB) = ($"fabric-lab-{tapA}", $"fabric-lab-{tapB}");

        var up = await NodeProcess.Cli("lab", "up", file);
        output.WriteLine(up.Output);
        NodeProcess? node = null;
        try
        {
            Assert.Equal(0, up.ExitCode);
            Assert.Contains($"ip netns exec {nsA} ping -c 3 10.88.0.2", up.Output);
            Assert.Contains($"ip netns exec {nsB} iperf3 -s -D", up.Output);

            var mgmt = $"127.0.0.1:{NodeProcess.FreeTcpPort()}";
            node = NodeProcess.Start("run", "--port", "0", "--management", mgmt, "--data", dir.Sub("d"), "--intent", file);
            await Eventually.Holds(async () =>
            {
                var (code, text) = await NodeProcess.Cli("trunk", "show", "trunk-a", "--json", "--management", mgmt);
                return code == 0 && JsonNode.Parse(text)!["state"]!.ToString() == "up";
            }, Wait, "trunk-a up");

            var ping = Run("ip", $"netns exec {nsA} ping -c 5 -i 0.2 -W 2 10.88.0.2");
            output.WriteLine(ping.Output);
            Assert.Equal(0, ping.Code);
            Assert.Contains(" 0% packet loss", ping.Output);
        }
        catch
        {
            if (node is not null) output.WriteLine(node.Output);
            throw;
        }
        finally
        {
            node?.Dispose();
            var down = await NodeProcess.Cli("lab", "down", file);
            output.WriteLine(down.Output);
            Assert.Equal(0, down.ExitCode);
        }

        Assert.DoesNotContain(nsA, Run("ip", "netns list").Output);
        Assert.DoesNotContain(nsB, Run("ip", "netns list").Output);
        Assert.False(Directory.Exists($"/sys/class/net/{tapA}"), "lab down removed the TAP it made");
        Assert.False(Directory.Exists($"/sys/class/net/{tapB}"), "lab down removed the TAP it made");
    }

    private static (int Code, string Output) Run(string command, string arguments)
    {
        var info = new ProcessStartInfo(command, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(info)!;
        var text = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, text);
    }

    [System.Runtime.InteropServices.DllImport("libc")]
    private static extern uint geteuid();
}
