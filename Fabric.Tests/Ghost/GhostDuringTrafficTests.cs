using System.Diagnostics;
using System.Text.Json.Nodes;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.Pseudowire;
using Fabric.Tests.DataPlane.Io;
using Fabric.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace Fabric.Tests.Ghost;

/// <summary>
/// Verification beside live traffic: two nodes, a 4-PW trunk between them, CE1 and CE2 network
/// namespaces on the PEs' TAPs. While iperf3 and a fast ping cross main, a change is verified on
/// the ghost copies of the same PEs on the same nodes: main loses nothing, and no ghost frame is
/// offered to a live port (TAP counters) or seen on the CE's wire (capture).
/// </summary>
[Collection("pw-traffic")]
public sealed class GhostDuringTrafficTests(ITestOutputHelper output)
{
    /// <summary>This test's own underlay addresses (see <see cref="UnderlayAddresses"/>).</summary>
    private readonly string[] _underlay = UnderlayAddresses.Next(3);

    private const string Ce1 = "10.78.0.1";
    private const string Ce2 = "10.78.0.2";

    private string Intent(string tap1, string tap2, bool withChecks) => $$"""
        nodes:
          - { name: node-1, address: {{_underlay[0]}}, roles: [fabric, ghost-shadow] }
          - { name: node-2, address: {{_underlay[1]}}, roles: [fabric, ghost-shadow] }
        tenants:
          - { name: blue, vni: 100 }
        {{(withChecks ? "  - { name: red, vni: 200 }" : "")}}
        pes:
          - { name: pe1, node: node-1, routerId: 10.255.0.1, attachmentCircuits: [ { name: ce1, port: { kind: tap, name: {{tap1}} } } ] }
          - { name: pe2, node: node-2, routerId: 10.255.0.2, attachmentCircuits: [ { name: ce2, port: { kind: tap, name: {{tap2}} } } ] }
        pws:
        {{string.Concat(Enumerable.Range(1, 4).Select(i => $"""
          - {"{"} name: pw1-{i}, pe: pe1, remotePe: pe2, localLabel: {1000 + i}, remoteLabel: {2000 + i}, flowLabel: true {"}"}
          - {"{"} name: pw2-{i}, pe: pe2, remotePe: pe1, localLabel: {2000 + i}, remoteLabel: {1000 + i}, flowLabel: true {"}"}

        """))}}
        trunks:
          - { name: t1, pe: pe1, attachmentCircuit: ce1, members: [pw1-1, pw1-2, pw1-3, pw1-4], minActive: 2 }
          - { name: t2, pe: pe2, attachmentCircuit: ce2, members: [pw2-1, pw2-2, pw2-3, pw2-4], minActive: 2 }
        {{(withChecks ? $$"""
        checks:
          - name: ce1-to-ce2
            from: { attachmentCircuit: pe1/ce1, address: {{Ce1}} }
            to: { attachmentCircuit: pe2/ce2, address: {{Ce2}}, protocol: tcp, port: 5201 }
            expect: reach
        """ : "")}}
        """;

    [Fact]
    public async Task A_change_verified_while_iperf3_and_ping_cross_main_loses_no_main_frame_and_no_ghost_frame_reaches_a_live_port()
    {
        HostTools.RequireRoot();
        string iperf = HostTools.Require("iperf3", "iperf3");
        string ping = HostTools.Require("ping", "iputils-ping");
        string tshark = HostTools.Require("tshark", "tshark");
        int pid = Environment.ProcessId % 100000;
        string tap1 = $"gta{pid}", tap2 = $"gtb{pid}";
        using var dir = new TempDir();
        await using var n1 = await TestNode.StartAsync("node-1", dir.Sub("n1"));
        await using var n2 = await TestNode.StartAsync("node-2", dir.Sub("n2"), seeds: [n1.Seed]);
        await Eventually.Holds(async () => await n1.UpCount() == 2, TimeSpan.FromSeconds(30), "two members up");
        var pw1 = n1.Services.GetRequiredService<PseudowireNode>();
        var pw2 = n2.Services.GetRequiredService<PseudowireNode>();
        using var ns1 = new TestNamespace("fgt-ce1");
        using var ns2 = new TestNamespace("fgt-ce2");

        var first = await n1.Propose(Intent(tap1, tap2, withChecks: false));
        await Eventually.Holds(async () => await n1.ChangeStatus(first) == "committed", TimeSpan.FromSeconds(30), "main intent committed");
        // Up (at least minActive members): this test is about verification beside traffic, not
        // about every member joining (PwTrunkTrafficTests checks that).
        await Eventually.Holds(() => pw1.TrunkStatus("t1") is { State: "up" } && pw2.TrunkStatus("t2") is { State: "up" },
            TimeSpan.FromSeconds(45), "both trunks up");
        foreach (var (tap, ns, address) in new[] { (tap1, ns1, Ce1), (tap2, ns2, Ce2) })
        {
            HostTools.Ip($"link set {tap} netns {ns.Name}");
            ns.Ip($"addr add {address}/24 dev {tap}");
            ns.Ip($"link set {tap} up");
            ns.Ip("link set lo up");
        }
        Assert.Equal(0, ns1.Exec(ping, $"-c 3 -i 0.2 -W 2 {Ce2}").ExitCode);

        // Capture CE2's wire for the whole run (bounded by duration).
        string pcap = Path.Combine(dir.Sub("cap"), "ce2.pcap");
        Directory.CreateDirectory(Path.GetDirectoryName(pcap)!);
        using var capture = Process.Start(new ProcessStartInfo("ip", $"netns exec {ns2.Name} {tshark} -i {tap2} -a duration:8 -w {pcap}")
            { RedirectStandardOutput = true, RedirectStandardError = true })!;
        using var server = Process.Start(new ProcessStartInfo("ip", $"netns exec {ns2.Name} {iperf} -s -1") { RedirectStandardOutput = true, RedirectStandardError = true })!;
        try
        {
            await Task.Delay(1000); // tshark and the iperf3 server listening
            var iperfRun = Task.Run(() => ns1.Exec(iperf, $"-c {Ce2} -t 5 -J --connect-timeout 3000", timeoutMs: 30_000));
            var pingRun = Task.Run(() => ns1.Exec(ping, $"-c 100 -i 0.05 -W 1 {Ce2}", timeoutMs: 30_000));
            await Task.Delay(1000);
            var mismatchBefore = PlaneMismatch(pw1, pw2);

            var id = await n1.Propose(Intent(tap1, tap2, withChecks: true));
            JsonNode change = null!;
            await Eventually.Holds(async () => (change = await n1.Get($"/changes/{id}"))["status"]!.ToString() is "committed" or "rejected",
                TimeSpan.FromSeconds(20), "change decided");
            output.WriteLine(change["progress"]!.ToJsonString());
            Assert.Equal("committed", change["status"]!.ToString());
            // The check's probe crossed the ghost trunk between the nodes; main already had the same
            // PEs, so it is no difference against main.
            Assert.True(change["ghost"]!["verified"]!.GetValue<bool>());
            Assert.DoesNotContain(change["diff"]!.AsArray(), d => d!["probe"]!.ToString().StartsWith("ce1-to-ce2"));

            var iperfResult = await iperfRun;
            var pingResult = await pingRun;
            output.WriteLine(pingResult.Stdout.Split('\n').FirstOrDefault(l => l.Contains("packet loss")) ?? pingResult.ToString());
            Assert.True(iperfResult.ExitCode == 0, $"iperf3: {iperfResult}");
            var intervals = JsonNode.Parse(iperfResult.Stdout)!["intervals"]!.AsArray();
            Assert.All(intervals, i => Assert.True(i!["sum"]!["bytes"]!.GetValue<long>() > 0, "an iperf3 interval carried nothing"));
            Assert.True(pingResult.ExitCode == 0 && pingResult.Stdout.Contains(" 0% packet loss"), $"ping during verification: {pingResult}");
            Assert.Equal(mismatchBefore, PlaneMismatch(pw1, pw2));
            Assert.Equal(0, mismatchBefore);
        }
        finally
        {
            if (!server.HasExited) server.Kill(entireProcessTree: true);
            capture.WaitForExit(15_000);
            if (!capture.HasExited) capture.Kill(entireProcessTree: true);
        }

        // No frame on CE2's wire carries a probe marker.
        var bytes = await File.ReadAllBytesAsync(pcap);
        Assert.True(bytes.Length > 10_000, "the capture holds the run's traffic");
        Assert.Equal(-1, bytes.AsSpan().IndexOf("FGPR"u8));
    }

    private static long PlaneMismatch(params PseudowireNode[] nodes) =>
        nodes.SelectMany(n => n.Pes.Values).SelectMany(pe => pe.AttachmentCircuits.Values).Sum(ac => ac.Port.Counters.Drops(PortDropReason.PlaneMismatch));
}
