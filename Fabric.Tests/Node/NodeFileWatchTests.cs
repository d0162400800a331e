using System.Net;
using Fabric.Tests.Support;
using Xunit.Abstractions;

namespace Fabric.Tests.Node;

/// <summary>
/// Idle means idle (issue 13): a running node watches no files. ASP.NET's host watched its
/// content root (the directory the node was started from, recursively, where ./data usually is)
/// for appsettings changes, and its watcher thread woke on every write the node made there.
/// </summary>
public sealed class NodeFileWatchTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_running_node_holds_no_inotify_descriptor()
    {
        using var dir = new TempDir();
        var port = NodeProcess.FreeTcpPort();
        using var node = NodeProcess.Start("run", "--name", "node-1", "--port", "0", "--management", $"127.0.0.1:{port}", "--data", dir.Sub("d"), "--intent", "none");
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        await Eventually.Holds(async () =>
        {
            try
            {
                using var response = await http.GetAsync($"http://127.0.0.1:{port}/health/ready");
                return response.StatusCode == HttpStatusCode.OK;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(60), "the node ready");

        var descriptors = Directory.GetFiles($"/proc/{node.Pid}/fd").Select(fd =>
        {
            try { return new FileInfo(fd).LinkTarget ?? ""; }
            catch (IOException) { return ""; } // closed while listed
        }).ToList();
        output.WriteLine($"{descriptors.Count} descriptors; threads: {string.Join(", ", Directory.GetDirectories($"/proc/{node.Pid}/task").Select(t => File.ReadAllText(Path.Combine(t, "comm")).Trim()).Distinct())}");
        Assert.True(descriptors.Count > 10, "the node's descriptors were read");
        Assert.DoesNotContain(descriptors, d => d.Contains("inotify", StringComparison.Ordinal));
    }
}
