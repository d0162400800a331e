using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
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

/// <summary>
/// The operator palette (System.CommandLine + Spectre.Console) against a live two-node cluster of
/// `fabric-node` processes, the dashboard in headless Chromium, and the default node's traffic.
/// </summary>
[Collection(Collection)]
public sealed class OperatorPaletteTests(ITestOutputHelper output)
{
    /// <summary>Nodes of these tests bind the PW underlay port (6635 on 127.0.0.1): one test at a time.</summary>
    public const string Collection = "fabric-node processes running the sample's PEs";

    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Cli_verbs_and_the_dashboard_show_a_live_two_node_cluster_its_trunk_and_the_gateways_hit_rate()
    {
        using var dir = new TempDir();
        var (port1, port2) = (NodeProcess.FreeTcpPort(), NodeProcess.FreeTcpPort());
        var (mgmt1, mgmt2) = ($"127.0.0.1:{NodeProcess.FreeTcpPort()}", $"127.0.0.1:{NodeProcess.FreeTcpPort()}");
        // node-1 starts a new cluster with the sample intent (the default), node-2 joins it.
        using var node1 = NodeProcess.Start("run", "--name", "node-1", "--port", $"{port1}", "--management", mgmt1, "--data", dir.Sub("n1"));
        using var node2 = NodeProcess.Start("run", "--name", "node-2", "--port", $"{port2}", "--seed", $"127.0.0.1:{port1}", "--management", mgmt2, "--data", dir.Sub("n2"));
        try
        {
            await Eventually.Holds(async () => (await Cli("cluster", "show", "--json", "--management", mgmt2)).Text.Split("\"Up\"").Length == 3, Wait, "both members Up");
            await SampleCommitted(mgmt1, dir.Sub("n1"));

            var show = await Cli("cluster", "show", "--management", mgmt1);
            Assert.Equal(0, show.Code);
            Assert.Contains($"akka.tcp://fabric@127.0.0.1:{port1}", show.Text);
            Assert.Contains($"akka.tcp://fabric@127.0.0.1:{port2}", show.Text);
            Assert.Matches(@"(?m)^NODE\s+STATUS\s+ROLES", show.Text);

            var leader = await Cli("cluster", "leader", "--management", mgmt2);
            Assert.Equal(0, leader.Code);
            Assert.Matches(@"^akka\.tcp://fabric@127\.0\.0\.1:\d+\s*$", leader.Text);

            var hierarchy = await Cli("actor", "hierarchy", "--management", mgmt1);
            Assert.Contains("/user/fabric/pe-pe-a", hierarchy.Text);

            var applied = await Cli("intent", "applied", "--management", mgmt1);
            Assert.Matches(@"(?m)^trunk\s+trunk-a$", applied.Text);
            Assert.Matches(@"(?m)^hypervisor\s+hv-1$", applied.Text);

            var none = await Cli("cluster", "down-unreachable", "--management", mgmt1, "--data", dir.Sub("n1"));
            Assert.Equal(0, none.Code);
            Assert.Contains("no unreachable member", none.Text);

            // Traffic from the sample's simulated ports moves the trunk and the gateway.
            await Eventually.Holds(async () => await GatewayHits(mgmt1) > 0, Wait, "gateway cache hits");
            var trunk = await Cli("trunk", "show", "trunk-a", "--management", mgmt1);
            output.WriteLine(trunk.Text);
            Assert.Matches(@"pw-ab-1\s+1\s+up\s+yes\s+[1-9]", trunk.Text);

            // The dashboard as a person sees it: headless Chromium renders the page, its script reads the API.
            var dom = await Chromium($"http://{mgmt1}/dashboard");
            var text = Regex.Replace(Regex.Replace(dom, "<[^>]+>", " "), @"\s+", " ");
            output.WriteLine(text);
            Assert.Contains($"akka.tcp://fabric@127.0.0.1:{port1} Up", text);
            Assert.Contains($"akka.tcp://fabric@127.0.0.1:{port2} Up", text);
            Assert.Contains("trunk trunk-a on pe-a (circuit ce-a): up", text);
            var hitRate = Regex.Match(text, @"gateway gw-1 on node-1: flow cache hit rate (\d+\.\d)%");
            Assert.True(hitRate.Success, "the gateway's hit rate is on the page");
            Assert.True(double.Parse(hitRate.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) > 50, hitRate.Value);
            Assert.Contains("committed", text);

            // node-2 leaves at the operator's word (host:port is enough); node-1 sees one member left.
            var leave = await Cli("cluster", "leave", $"127.0.0.1:{port2}", "--management", mgmt1, "--data", dir.Sub("n1"));
            Assert.True(leave.Code == 0, leave.Text);
            Assert.Contains($"Leaving akka.tcp://fabric@127.0.0.1:{port2}", leave.Text);
            await Eventually.Holds(async () => !(await Cli("cluster", "show", "--json", "--management", mgmt1)).Text.Contains($":{port2}\""),
                Wait, "node-2 gone from node-1's members");
        }
        catch
        {
            output.WriteLine("--- node-1 ---\n" + node1.Output);
            output.WriteLine("--- node-2 ---\n" + node2.Output);
            throw;
        }
    }

    [Fact]
    public async Task The_default_node_logs_no_error_and_its_trunk_and_gateway_counters_grow_within_5_s()
    {
        using var dir = new TempDir();
        var mgmt = $"127.0.0.1:{NodeProcess.FreeTcpPort()}";
        using var node = NodeProcess.Start("run", "--port", "0", "--management", mgmt, "--data", dir.Sub("d"));
        try
        {
            await SampleCommitted(mgmt, dir.Sub("d"));
            await Eventually.Holds(async () => await TrunkFrames(mgmt) > 0 && await GatewayRx(mgmt) > 0, Wait, "traffic started");
            var (trunk0, gateway0) = (await TrunkFrames(mgmt), await GatewayRx(mgmt));
            await Task.Delay(TimeSpan.FromSeconds(5));
            var (trunk1, gateway1) = (await TrunkFrames(mgmt), await GatewayRx(mgmt));
            output.WriteLine($"trunk-a frames {trunk0} -> {trunk1}, gw-1 rx {gateway0} -> {gateway1} in 5 s");
            Assert.True(trunk1 > trunk0, "trunk-a's counters grow");
            Assert.True(gateway1 > gateway0, "gw-1's counters grow");
            Assert.DoesNotContain("[ERROR]", node.Output);
            // Main's trunks never went down, and the ghost copy's trunks are not logged as warnings.
            Assert.DoesNotContain(node.Output.Split('\n'), l => l.Contains("[WARNING]") && l.Contains("is DOWN"));
            Assert.DoesNotContain(" fail: ", node.Output);
            Assert.Contains("Dashboard: http://" + mgmt + "/dashboard", node.Output);
        }
        catch
        {
            output.WriteLine(node.Output);
            throw;
        }
    }

    [Fact]
    public async Task Help_is_generated_from_the_command_tree_and_a_bad_line_exits_2_with_one_line()
    {
        var help = await Run("--help");
        Assert.Equal(0, help.Code);
        foreach (var verb in new[] { "cluster", "actor", "log", "change", "trunk", "gateway", "lab" }) Assert.Contains($"  {verb} ", help.Text);
        var sharding = await Run("cluster", "sharding", "--help");
        Assert.Contains("region-stats <REGION>", sharding.Text);
        Assert.Contains("shard-stats <REGION>", sharding.Text);

        var bad = await Run("cluster", "frobnicate", "--management", "127.0.0.1:1");
        Assert.Equal(2, bad.Code);
        Assert.Single(bad.Error.Trim().Split('\n'));
        Assert.StartsWith("fabric-node: ", bad.Error);
    }

    [Fact]
    public void Tables_wrap_to_fit_the_terminal_width_and_never_wrap_without_one()
    {
        string[] headers = ["NODE", "STATUS", "ROLES"];
        string[][] rows = [["akka.tcp://fabric@127.0.0.1:4053", "Up", "fabric,ghost-shadow"], ["akka.tcp://fabric@127.0.0.1:4054", "Up", "fabric"]];
        Tables.Width = 40;
        var narrow = Tables.Table(headers, rows);
        output.WriteLine(narrow);
        Assert.All(narrow.Split('\n'), line => Assert.True(line.Length <= 40, line));
        Assert.True(narrow.Split('\n').Length > 3);
        Tables.Width = Tables.UnboundedWidth;
        var wide = Tables.Table(headers, rows);
        Assert.Equal(3, wide.Split('\n').Length);
        Assert.Matches(@"^akka\.tcp://fabric@127\.0\.0\.1:4053\s+Up\s+fabric,ghost-shadow$", wide.Split('\n')[1]);
    }

    /// <summary>The sharding and log verbs over the routes' shapes (Akka Management's for shards; `GET /logs?since=N`).</summary>
    [Fact]
    public async Task Sharding_and_log_tail_verbs_render_the_routes_and_follow_new_lines()
    {
        var lines = new List<object>();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        await using var app = builder.Build();
        app.MapGet("/cluster/shards", () => Results.Json(new { regions = new[] { "flow-cache" } }));
        app.MapGet("/cluster/shards/{region}", (string region, bool? cluster) => cluster == true
            ? Results.Json(new { region, nodes = new[] { new { node = "akka.tcp://fabric@127.0.0.1:4053", shards = new[] { new { shardId = "3", numEntities = 2 }, new { shardId = "7", numEntities = 1 } } } } })
            : Results.Json(new { regions = new[] { new { shardId = "3", numEntities = 2 } } }));
        app.MapGet("/logs", (long? since) =>
        {
            lock (lines)
            {
                lines.Add(new { seq = lines.Count + 1, time = DateTimeOffset.UtcNow, level = "INFO", source = "test", message = $"line {lines.Count + 1}" });
                return Results.Json(new { lines = lines.Skip((int)(since ?? 0)).ToArray(), last = lines.Count });
            }
        });
        await app.StartAsync();
        var port = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
        var mgmt = $"127.0.0.1:{port}";

        Assert.Contains("flow-cache", (await Run("cluster", "sharding", "regions", "--management", mgmt)).Text);
        var region = await Run("cluster", "sharding", "region-stats", "flow-cache", "--management", mgmt);
        Assert.Matches(@"akka\.tcp://fabric@127\.0\.0\.1:4053\s+2\s+3", region.Text);
        var shards = await Run("cluster", "sharding", "shard-stats", "flow-cache", "--management", mgmt);
        Assert.Contains("region flow-cache on this node: 1 shard(s), 2 entities", shards.Text);

        var tail = await Run("log", "tail", "--management", mgmt);
        Assert.Matches(@"INFO\s+test: line 1", tail.Text);

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(3.5));
        var text = new StringWriter();
        var code = await OperatorCommands.RunAsync(["log", "tail", "-f", "--management", mgmt], text, TextWriter.Null, stop.Token);
        output.WriteLine(text.ToString());
        Assert.Equal(0, code);
        Assert.True(text.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Length >= 3, "followed new lines");
    }

    /// <summary>The sample, proposed at start, is verified on the ghost copy and committed the first time.</summary>
    private async Task SampleCommitted(string mgmt, string data)
    {
        await Eventually.Holds(async () => await ChangeDecided(mgmt, 1), Wait, "change 1 decided");
        var (_, change) = await Cli("change", "show", "1", "--management", mgmt, "--data", data);
        Assert.True(await Applied(mgmt), $"the sample intent runs after its first verification: {change}");
    }

    private static async Task<bool> ChangeDecided(string mgmt, int id)
    {
        var (code, text) = await Cli("change", "show", $"{id}", "--json", "--management", mgmt);
        return code == 0 && JsonNode.Parse(text)!["status"]!.ToString() is "committed" or "rejected";
    }

    private static async Task<bool> Applied(string mgmt)
    {
        var (code, text) = await Cli("intent", "applied", "--json", "--management", mgmt);
        return code == 0 && JsonNode.Parse(text)!["version"]!.GetValue<long>() > 0;
    }

    private static async Task<long> TrunkFrames(string mgmt)
    {
        var (code, text) = await Cli("trunk", "show", "trunk-a", "--json", "--management", mgmt);
        return code == 0 ? JsonNode.Parse(text)!["members"]!.AsArray().Sum(m => m!["txFrames"]!.GetValue<long>()) : -1;
    }

    private static async Task<long> GatewayRx(string mgmt)
    {
        var (code, text) = await Cli("gateway", "show", "gw-1", "--json", "--management", mgmt);
        return code == 0 ? JsonNode.Parse(text)!["status"]!["ports"]!.AsArray().Sum(p => p!["rxFrames"]!.GetValue<long>()) : -1;
    }

    private static async Task<long> GatewayHits(string mgmt)
    {
        var (code, text) = await Cli("gateway", "show", "gw-1", "--json", "--management", mgmt);
        return code == 0 ? JsonNode.Parse(text)!["status"]!["cache"]!["hits"]!.GetValue<long>() : -1;
    }

    /// <summary>A verb in this process (the same code the binary runs), stdout and stderr apart.</summary>
    private static async Task<(int Code, string Text, string Error)> Run(params string[] args)
    {
        var (text, error) = (new StringWriter(), new StringWriter());
        var code = await OperatorCommands.RunAsync(args, text, error);
        return (code, text.ToString(), error.ToString());
    }

    /// <summary>A verb as a process: `fabric-node ARGS`.</summary>
    private static Task<(int Code, string Text)> Cli(params string[] args) => NodeProcess.Cli(args);

    /// <summary>The page's DOM after its scripts ran (Debian's chromium, headless; fails loudly when it is not installed).</summary>
    private static async Task<string> Chromium(string url)
    {
        var chromium = new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("headless Chromium is needed: apt-get install chromium (.ci/run installs it)");
        using var profile = new TempDir();
        var info = new ProcessStartInfo(chromium) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", $"--user-data-dir={profile.Path}",
                     "--virtual-time-budget=8000", "--dump-dom", url })
            info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var dom = process.StandardOutput.ReadToEndAsync();
        _ = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await process.WaitForExitAsync(timeout.Token);
        return await dom;
    }
}
