using System.Net;
using System.Text.Json.Nodes;
using Akka.Actor;
using Fabric.Actors.Config;
using Fabric.Node.Hosting;
using Fabric.Node.Management;
using Fabric.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Fabric.Tests.Node;

/// <summary>The management pipeline alone, over routes that fail: every failure answers problem+json and tells no internals.</summary>
public sealed class ManagementPipelineTests : IAsyncLifetime
{
    private readonly TempDir _dir = new();
    private WebApplication _app = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        builder.Services.AddProblemDetails();
        builder.Services.AddSingleton(new NodeContext(new NodeOptions(), StoreDatabase.Sqlite(_dir.Sub("x.db")), "token", "test", _dir.Path));
        _app = builder.Build();
        _app.UseManagementPipeline();
        _app.MapGet("/boom", string () => throw new InvalidOperationException("internal secret 42"));
        _app.MapGet("/slow", string () => throw new AskTimeoutException("the store"));
        _app.MapGet("/empty", () => Results.StatusCode(502));
        await _app.StartAsync();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        _http = new HttpClient { BaseAddress = new Uri(address) };
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _app.DisposeAsync();
        _dir.Dispose();
    }

    [Theory]
    [InlineData("/boom", HttpStatusCode.InternalServerError)]
    [InlineData("/slow", HttpStatusCode.ServiceUnavailable)]
    [InlineData("/empty", HttpStatusCode.BadGateway)]
    public async Task A_failing_route_answers_problem_json_without_internals(string path, HttpStatusCode status)
    {
        using var response = await _http.GetAsync(path);
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal((int)status, JsonNode.Parse(body)!["status"]!.GetValue<int>());
        Assert.DoesNotContain("secret", body);
        Assert.DoesNotContain("InvalidOperationException", body);
    }
}
