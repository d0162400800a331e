using System.Net;
using Fabric.Tests.Support;
using Xunit.Abstractions;

namespace Fabric.Tests.Node;

/// <summary>
/// The token and the database are the node's secrets (issue 15): a token file others can read is
/// refused, a new data directory is private (0700), the token and fabric.db are 0600.
/// </summary>
public sealed class NodeFileHygieneTests(ITestOutputHelper output)
{
    private const UnixFileMode GroupOrOther =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    [Fact]
    public async Task A_token_file_readable_by_group_or_others_is_refused_at_start()
    {
        using var dir = new TempDir();
        var data = dir.Sub("d");
        Directory.CreateDirectory(data);
        var tokenFile = Path.Combine(data, "token");
        await File.WriteAllTextAsync(tokenFile, "0123456789abcdef0123456789abcdef");
        File.SetUnixFileMode(tokenFile, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        using var node = NodeProcess.Start("run", "--port", "0", "--management", $"127.0.0.1:{NodeProcess.FreeTcpPort()}",
            "--data", data, "--intent", "none");
        var code = await node.WaitForExitAsync(TimeSpan.FromSeconds(30));

        output.WriteLine(node.Output);
        Assert.Equal(2, code);
        Assert.Contains(tokenFile, node.Output);
        Assert.Contains("0644", node.Output);
        Assert.DoesNotContain("0123456789abcdef", node.Output);
    }

    [Fact]
    public async Task A_new_data_directory_is_0700_and_the_token_and_database_are_0600()
    {
        using var dir = new TempDir();
        var data = dir.Sub("fresh");
        var port = NodeProcess.FreeTcpPort();
        using var node = NodeProcess.Start("run", "--port", "0", "--management", $"127.0.0.1:{port}", "--data", data, "--intent", "none");
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        try
        {
            await Eventually.Holds(async () =>
            {
                try { return (await http.GetAsync($"http://127.0.0.1:{port}/health/ready")).StatusCode == HttpStatusCode.OK; }
                catch (HttpRequestException) { return false; }
            }, TimeSpan.FromSeconds(60), "ready");

            Assert.Equal("700", Mode(data));
            Assert.Equal("600", Mode(Path.Combine(data, "token")));
            Assert.Equal("600", Mode(Path.Combine(data, "fabric.db")));
            foreach (var file in Directory.GetFiles(data))
                Assert.True((File.GetUnixFileMode(file) & GroupOrOther) == 0, $"{file} is {Mode(file)}");
        }
        catch
        {
            output.WriteLine(node.Output);
            throw;
        }
    }

    private static string Mode(string path) => Convert.ToString((int)File.GetUnixFileMode(path), 8);
}
