using System.Collections.Concurrent;
using System.Net;
using Fabric.Node.Cli;
using Fabric.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace Fabric.Tests.Node;

/// <summary>`fabric-node change propose`: safe to retry, and silent about files that are not intents (issue 15).</summary>
public sealed class CliProposeTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Propose_sends_an_idempotency_key_and_retries_a_failed_attempt_with_the_same_key()
    {
        var seen = new ConcurrentQueue<string?>();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        await using var app = builder.Build();
        app.MapPost("/changes", (HttpRequest request) =>
        {
            seen.Enqueue(request.Headers["Idempotency-Key"].FirstOrDefault());
            return seen.Count == 1
                ? Results.Problem(statusCode: 503, title: "Unavailable", detail: "the config store does not answer")
                : Results.Json(new { changeId = 7, status = "proposed", baseVersion = 0, location = "/changes/7" }, statusCode: 202);
        });
        await app.StartAsync();
        var address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        using var dir = new TempDir();
        var file = Path.Combine(dir.Path, "change.yaml");
        await File.WriteAllTextAsync(file, Intents.WithTenant("blue"));

        var text = new StringWriter();
        var error = new StringWriter();
        var code = await OperatorCommands.RunAsync(["change", "propose", file, "--management", $"127.0.0.1:{address.Port}", "--token", "t"], text, error);
        output.WriteLine(text + "\n" + error);

        Assert.Equal(0, code);
        Assert.Equal(2, seen.Count);
        var keys = seen.ToArray();
        Assert.False(string.IsNullOrWhiteSpace(keys[0]));
        Assert.Equal(keys[0], keys[1]);
        Assert.Contains("change 7", text.ToString());
    }

    [Fact]
    public async Task Proposing_a_file_that_is_not_an_intent_echoes_none_of_it_on_stderr_or_in_the_node_log()
    {
        using var dir = new TempDir();
        var port = NodeProcess.FreeTcpPort();
        using var node = NodeProcess.Start("run", "--port", "0", "--management", $"127.0.0.1:{port}", "--data", dir.Sub("d"), "--intent", "none");
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        try
        {
            await Eventually.Holds(async () =>
            {
                try { return (await http.GetAsync($"http://127.0.0.1:{port}/health/ready")).StatusCode == HttpStatusCode.OK; }
                catch (HttpRequestException) { return false; }
            }, TimeSpan.FromSeconds(60), "ready");
            var shadow = Path.Combine(dir.Path, "shadow");
            await File.WriteAllTextAsync(shadow,
                "root:$6$s3cr3tSalt$Zm9vYmFyYmF6cXV4:19000:0:99999:7:::\nadmin:$6$an0therSalt$cXV4cXV4:19000:0:99999:7:::\n");

            var (code, text) = await NodeProcess.Cli("change", "propose", shadow, "--management", $"127.0.0.1:{port}", "--data", dir.Sub("d"));
            await Task.Delay(500);

            output.WriteLine(text);
            Assert.NotEqual(0, code);
            Assert.Contains("not a valid intent", text);
            Assert.Contains("line 1", text);
            foreach (var secret in new[] { "s3cr3t", "an0ther", "root:", "admin:" })
            {
                Assert.DoesNotContain(secret, text);
                Assert.DoesNotContain(secret, node.Output);
            }
        }
        catch
        {
            output.WriteLine("--- node ---\n" + node.Output);
            throw;
        }
    }
}
