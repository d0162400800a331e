using System.Net;
using System.Text.Json.Nodes;
using Fabric.Tests.Support;

namespace Fabric.Tests.Switching;

/// <summary>GET /hosts, /hosts/{name} and /ports of a node running the sample intent's host (simulated VNIC).</summary>
public sealed class HostEndpointsTests : IAsyncLifetime
{
    private readonly TempDir _dir = new();
    private TestNode _node = null!;

    public async Task InitializeAsync()
    {
        _node = await TestNode.StartAsync("node-1", _dir.Sub("n1"),
            extraHocon: $"fabric.switching.geneve-port = {46500 + Environment.ProcessId % 400}");
        await Eventually.Holds(async () => await _node.UpCount() == 1, TimeSpan.FromSeconds(30), "node Up");
        var sample = await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "samples", "sample-intent.yaml"));
        await _node.Propose(sample.Replace("address: 127.0.0.1", "address: 127.0.0.31", StringComparison.Ordinal));
        await Eventually.Holds(async () =>
        {
            using var response = await _node.Http.GetAsync("/hosts/host-1");
            return response.IsSuccessStatusCode
                && JsonNode.Parse(await response.Content.ReadAsStringAsync())!["ports"]!.AsArray().All(p => p!["state"]!.ToString() == "up");
        }, TimeSpan.FromSeconds(30), "host-1's ports up");
    }

    public async Task DisposeAsync()
    {
        await _node.DisposeAsync();
        _dir.Dispose();
    }

    [Fact]
    public async Task The_host_its_dcns_and_its_ports_are_listed_with_tag_mac_ip_state_and_counters()
    {
        var hosts = (await _node.Get("/hosts"))["hosts"]!.AsArray();
        var summary = Assert.Single(hosts)!;
        Assert.Equal(("host-1", "mfe-1", 2, 2), (summary["name"]!.ToString(), summary["mfe"]!.ToString(), summary["ports"]!.GetValue<int>(), summary["portsUp"]!.GetValue<int>()));

        var host = await _node.Get("/hosts/host-1");
        var dcn = Assert.Single(host["dcns"]!.AsArray())!;
        Assert.Equal(("dcn-1", "simulated", "dcn-1", "up"), (dcn["name"]!.ToString(), dcn["portKind"]!.ToString(), dcn["port"]!.ToString(), dcn["portState"]!.ToString()));
        var web = host["ports"]!.AsArray().First(p => p!["name"]!.ToString() == "web")!;
        Assert.Equal((101, "02:00:00:00:11:01", "10.1.0.10", "blue", 1001u), (web["tag"]!.GetValue<int>(), web["mac"]!.ToString(), web["ip"]!.ToString(), web["tenant"]!.ToString(), web["vni"]!.GetValue<uint>()));
        Assert.Equal(0, web["rxFrames"]!.GetValue<long>());
        Assert.Equal("127.0.0.31:" + (46500 + Environment.ProcessId % 400), host["overlay"]!["local"]!.ToString());

        var ports = (await _node.Get("/ports?host=host-1"))["ports"]!.AsArray();
        Assert.Equal(["db", "web"], ports.Select(p => p!["name"]!.ToString()).Order());

        // The actors: /user/fabric/host-host-1/mfe-mfe-1 with the DCN's VNIC and a port per container.
        var tree = (await _node.Get("/actors")).ToJsonString();
        foreach (var path in new[] { "/user/fabric/host-host-1/mfe-mfe-1/vnic-dcn-1", "/user/fabric/host-host-1/mfe-mfe-1/port-web", "/user/fabric/host-host-1/mfe-mfe-1/port-db" })
        {
            Assert.Contains(path, tree, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task The_actor_tree_answers_every_time()
    {
        // GET /actors used Akka's Inbox, whose receive timeouts sometimes never fired: about one
        // call in 25 hung until the client gave up (CI stop 19).
        using var http = new HttpClient { BaseAddress = _node.Http.BaseAddress, Timeout = TimeSpan.FromSeconds(10) };
        for (var i = 0; i < 15; i++)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var tree = await http.GetStringAsync("/actors");
            Assert.Contains("/user/fabric/host-host-1/mfe-mfe-1/port-web", tree, StringComparison.Ordinal);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"call {i} took {clock.ElapsedMilliseconds} ms");
        }
    }

    [Theory]
    [InlineData("/hosts/bad%20name", HttpStatusCode.BadRequest, "is not a host name")]
    [InlineData("/hosts/-x", HttpStatusCode.BadRequest, "is not a host name")]
    [InlineData("/ports?host=a%2Fb", HttpStatusCode.BadRequest, "is not a host name")]
    [InlineData("/hosts/host-9", HttpStatusCode.NotFound, "no host 'host-9' on this node")]
    public async Task Bad_or_unknown_names_get_problem_json(string path, HttpStatusCode status, string detail)
    {
        using var response = await _node.Http.GetAsync(path);

        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains(detail, JsonNode.Parse(await response.Content.ReadAsStringAsync())!["detail"]!.ToString(), StringComparison.Ordinal);
    }
}
