using Fabric.Tests.Support;
using Xunit.Abstractions;

namespace Fabric.Tests.Node;

/// <summary>SIGTERM at any moment of a node's start is a clean stop, exit 0 (issue 15: it crashed with exit 134).</summary>
public sealed class NodeEarlySigtermTests(ITestOutputHelper output)
{
    [Fact]
    public async Task SIGTERM_in_the_first_second_of_a_start_exits_0()
    {
        foreach (var delayMs in new[] { 150, 350, 550, 750, 950, 1200 })
        {
            using var dir = new TempDir();
            using var node = NodeProcess.Start("run", "--port", "0", "--management", $"127.0.0.1:{NodeProcess.FreeTcpPort()}",
                "--data", dir.Sub("d"), "--intent", "none");
            await Task.Delay(delayMs);
            var code = await node.TerminateAsync(TimeSpan.FromSeconds(40));
            output.WriteLine($"SIGTERM after {delayMs} ms: exit {code}");
            Assert.True(code == 0, $"SIGTERM after {delayMs} ms: exit {code}\n{node.Output}");
        }
    }
}
