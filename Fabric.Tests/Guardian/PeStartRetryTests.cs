using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Fabric.Tests.DataPlane.Io;
using Fabric.Tests.Support;
using Xunit.Abstractions;

namespace Fabric.Tests.Guardian;

/// <summary>
/// A PE whose underlay address is held by another process cannot start: the node lists it as
/// restarting with the reason (GET /pes/{name}, GET /intent/applied) and retries with backoff;
/// once the socket is released the PE starts and its PWs come up, with no new intent change.
/// A whole node in this process, two PEs on it joined by a two-PW trunk, the underlay on a
/// loopback address no other test uses.
/// </summary>
public class PeStartRetryTests(ITestOutputHelper output)
{
    private const string Underlay = "127.0.9.1";

    private static string Intent() => TwoPes(Underlay);

    /// <summary>Node node-a on <paramref name="underlay"/> with two PEs joined by a two-PW trunk each way (simulated attachments).</summary>
    internal static string TwoPes(string underlay) => $$"""
        version: 1
        nodes:
          - { name: node-a, address: {{underlay}}, roles: [fabric, ghost-shadow] }
        pes:
          - { name: pe1, node: node-a, routerId: 10.255.9.1, attachmentCircuits: [ { name: ce1, port: { kind: simulated, name: sim-1 } } ] }
          - { name: pe2, node: node-a, routerId: 10.255.9.2, attachmentCircuits: [ { name: ce2, port: { kind: simulated, name: sim-2 } } ] }
        pws:
          - { name: pw1-1, pe: pe1, remotePe: pe2, localLabel: 3101, remoteLabel: 3201 }
          - { name: pw1-2, pe: pe1, remotePe: pe2, localLabel: 3102, remoteLabel: 3202 }
          - { name: pw2-1, pe: pe2, remotePe: pe1, localLabel: 3201, remoteLabel: 3101 }
          - { name: pw2-2, pe: pe2, remotePe: pe1, localLabel: 3202, remoteLabel: 3102 }
        trunks:
          - { name: t1, pe: pe1, attachmentCircuit: ce1, members: [pw1-1, pw1-2] }
          - { name: t2, pe: pe2, attachmentCircuit: ce2, members: [pw2-1, pw2-2] }
        """;

    [Fact]
    public async Task A_pe_whose_underlay_address_is_held_restarts_with_the_reason_and_runs_with_its_pw_up_once_released()
    {
        using var dir = new TempDir();
        using var holder = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        holder.Bind(new IPEndPoint(IPAddress.Parse(Underlay), 6635));
        await using var node = await TestNode.StartAsync("node-a", dir.Sub("a"));
        await Eventually.Holds(async () => await node.UpCount() == 1, TimeSpan.FromSeconds(45), "node-a Up");
        var id = await node.Propose(Intent());
        await Eventually.Holds(async () => await node.ChangeStatus(id) is "committed" or "rejected", TimeSpan.FromSeconds(45), "change decided");
        Assert.Equal("committed", await node.ChangeStatus(id));

        await Eventually.Holds(async () => (await Pe(node))?["state"]?.ToString() == "restarting", TimeSpan.FromSeconds(20), "pe1 is restarting");
        var pe = (await node.Get("/pes/pe1"))["pe"]!;
        output.WriteLine(pe.ToJsonString());
        Assert.Contains("in use", pe["lastError"]!.ToString(), StringComparison.OrdinalIgnoreCase);
        var applied = await node.Get("/intent/applied");
        output.WriteLine(applied.ToJsonString());
        var restarting = applied["restarting"]!.AsArray().Select(r => r!["name"]!.ToString()).Order().ToArray();
        Assert.Equal(["pe1", "pe2"], restarting);
        Assert.DoesNotContain(applied["elements"]!.AsArray(), e => e!["kind"]!.ToString() == "pe");
        var version = applied["version"]!.GetValue<long>();
        var (code, table) = await NodeProcess.Cli("intent", "applied", "--management", node.Http.BaseAddress!.Authority);
        output.WriteLine(table);
        Assert.Equal(0, code);
        Assert.Contains("restarting (failed to start, retried with backoff)", table);
        Assert.Contains("already in use", table);
        Assert.Contains("\nfabric_elements_restarting 2\n", await node.Http.GetStringAsync("/metrics"));

        // Still failing a few backoff periods later (100, 200, 400 ms ...), each failure counted.
        var failures = pe["startFailures"]!.GetValue<int>();
        await Eventually.Holds(async () => (await node.Get("/pes/pe1"))["pe"]!["startFailures"]!.GetValue<int>() > failures + 1, TimeSpan.FromSeconds(15),
            "more attempts failed while the address is held");

        holder.Dispose();
        var released = Stopwatch.StartNew();
        await Eventually.Holds(async () => (await Pe(node))?["state"]?.ToString() == "running", TimeSpan.FromSeconds(15), "pe1 runs");
        output.WriteLine($"pe1 running {released.ElapsedMilliseconds} ms after the socket was released");
        await Eventually.Holds(async () => await node.Get("/pws") is var pws && new[] { "pw1-1", "pw1-2", "pw2-1", "pw2-2" }.All(p => Pw(pws, p) == "up"),
            TimeSpan.FromSeconds(15), "the PWs up");
        output.WriteLine($"the PWs up {released.ElapsedMilliseconds} ms after the socket was released");
        applied = await node.Get("/intent/applied");
        Assert.Equal(version, applied["version"]!.GetValue<long>()); // no new intent change did it
        Assert.Empty(applied["restarting"]!.AsArray());
        Assert.Contains("\nfabric_elements_restarting 0\n", await node.Http.GetStringAsync("/metrics"));
        Assert.Contains(applied["elements"]!.AsArray(), e => e!["kind"]!.ToString() == "pe" && e["name"]!.ToString() == "pe1");
        Assert.Contains(Underlay, (await node.Get("/pes/pe1"))["pe"]!["underlay"]!.ToString());
    }

    /// <summary>GET /pes/pe1's PE, or null while the node does not list it (404: the committed change not applied yet).</summary>
    private static async Task<JsonNode?> Pe(TestNode node)
    {
        using var response = await node.Http.GetAsync("/pes/pe1");
        return response.IsSuccessStatusCode ? JsonNode.Parse(await response.Content.ReadAsStringAsync())!["pe"] : null;
    }

    private static string? Pw(JsonNode pws, string name) =>
        pws["pws"]!.AsArray().FirstOrDefault(p => p!["name"]!.ToString() == name)?["state"]?.ToString();
}
