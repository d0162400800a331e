using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.Pseudowire;
using Fabric.Tests.DataPlane.Io;
using Fabric.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Xunit;
using Xunit.Abstractions;

namespace Fabric.Tests.Pseudowire;

/// <summary>
/// Real traffic: two fabric nodes in this process (node-1 and node-2 on underlay addresses of the test's own,
/// UnderlayAddresses), PE1 and PE2 each with a 4-PW trunk towards the other, CE1 and CE2 two network
/// namespaces whose interfaces are the PEs' TAP ports. Everything the test creates (namespaces,
/// taps, iperf3 processes) is removed even on failure.
/// </summary>
[Collection("pw-traffic")]
public class PwTrunkTrafficTests(ITestOutputHelper output)
{
    /// <summary>This test's own underlay addresses (see <see cref="UnderlayAddresses"/>).</summary>
    private readonly string[] _underlay = UnderlayAddresses.Next(3);

    private const string Ce1 = "10.77.0.1";
    private const string Ce2 = "10.77.0.2";

    private string Intent(string tap1, string tap2) => $$"""
        nodes:
          - { name: node-1, address: {{_underlay[0]}}, roles: [fabric, ghost-shadow] }
          - { name: node-2, address: {{_underlay[1]}}, roles: [fabric, ghost-shadow] }
        pes:
          - name: pe1
            node: node-1
            routerId: 10.255.0.1
            attachmentCircuits: [ { name: ce1, port: { kind: tap, name: {{tap1}} } } ]
          - name: pe2
            node: node-2
            routerId: 10.255.0.2
            attachmentCircuits: [ { name: ce2, port: { kind: tap, name: {{tap2}} } } ]
        pws:
        {{string.Concat(Enumerable.Range(1, 4).Select(i => $"""
          - {"{"} name: pw1-{i}, pe: pe1, remotePe: pe2, localLabel: {1000 + i}, remoteLabel: {2000 + i}, flowLabel: true {"}"}
          - {"{"} name: pw2-{i}, pe: pe2, remotePe: pe1, localLabel: {2000 + i}, remoteLabel: {1000 + i}, flowLabel: true {"}"}

        """))}}
        trunks:
          - { name: t1, pe: pe1, attachmentCircuit: ce1, members: [pw1-1, pw1-2, pw1-3, pw1-4], minActive: 2 }
          - { name: t2, pe: pe2, attachmentCircuit: ce2, members: [pw2-1, pw2-2, pw2-3, pw2-4], minActive: 2 }
        """;

    [Fact]
    public async Task Ce_to_ce_ping_and_iperf3_cross_a_four_pw_trunk_every_pw_carries_traffic_and_a_failed_pw_is_routed_around()
    {
        HostTools.RequireRoot();
        string iperf = HostTools.Require("iperf3", "iperf3");
        string ping = HostTools.Require("ping", "iputils-ping");
        int pid = Environment.ProcessId % 100000;
        string tap1 = $"pwa{pid}", tap2 = $"pwb{pid}";
        using var dir = new TempDir();
        await using var n1 = await TestNode.StartAsync("node-1", dir.Sub("n1"));
        await using var n2 = await TestNode.StartAsync("node-2", dir.Sub("n2"), seeds: [n1.Seed]);
        await Eventually.Holds(async () => await n1.UpCount() == 2, TimeSpan.FromSeconds(30), "two members up");
        var pw1 = n1.Services.GetRequiredService<PseudowireNode>();
        var pw2 = n2.Services.GetRequiredService<PseudowireNode>();

        using var ns1 = new TestNamespace("fpw-ce1");
        using var ns2 = new TestNamespace("fpw-ce2");
        await n1.Propose(Intent(tap1, tap2));
        var timeout = TimeSpan.FromSeconds(30);
        await Eventually.Holds(() => pw1.TrunkStatus("t1") is { State: "up", Active: 4 } && pw2.TrunkStatus("t2") is { State: "up", Active: 4 },
            timeout, "both trunks up with 4 members");

        MoveTap(tap1, ns1, Ce1);
        MoveTap(tap2, ns2, Ce2);

        // Capture the underlay while pinging only (small capture), then decode it with tshark.
        string pcap = dir.Sub("underlay.pcap");
        var writer = new PcapWriter(pcap);
        pw1.Underlay!.Tee = writer;
        var p12 = ns1.Exec(ping, $"-c 5 -i 0.1 -W 2 {Ce2}");
        var p21 = ns2.Exec(ping, $"-c 5 -i 0.1 -W 2 {Ce1}");
        pw1.Underlay!.Tee = null;
        ns1.Exec(ping, $"-c 2 -i 0.1 -W 1 {Ce2}"); // lets any batch still holding the tee finish
        writer.Dispose();
        Assert.True(p12.ExitCode == 0, $"ping CE1 -> CE2: {p12}");
        Assert.True(p21.ExitCode == 0, $"ping CE2 -> CE1: {p21}");
        output.WriteLine(p12.Stdout);

        File.Copy(pcap, Path.Combine(Path.GetTempPath(), "fabric-pw-underlay.pcap"), overwrite: true); // kept for inspection
        // A PW's payload type is configuration, not in the bytes: tshark is told per bottom label
        // (the RFC 6391 flow label here) that it carries Ethernet with a control word.
        string decodeAs = DecodeAsByBottomLabel(pcap);
        string decoded = Tshark.DecodeVerbose(pcap, decodeAs);
        var chains = Tshark.ProtocolChains(pcap, decodeAs);
        output.WriteLine(string.Join("\n", chains.Distinct()));
        Assert.Contains(chains, c => c.EndsWith("udp:mpls:eth:ethertype:ip:icmp:data", StringComparison.Ordinal));
        Assert.Contains(chains, c => c.EndsWith("udp:mpls:pwach:bfd", StringComparison.Ordinal));
        Assert.All(chains, c => Assert.True(c.Contains("udp:mpls:eth:ethertype", StringComparison.Ordinal) || c.EndsWith("mpls:pwach:bfd", StringComparison.Ordinal), c));
        Assert.Contains("PW Ethernet Control Word", decoded, StringComparison.Ordinal);
        Assert.Contains("PW Associated Channel Header", decoded, StringComparison.Ordinal);
        Assert.DoesNotContain("Expert Info (Warn", decoded, StringComparison.Ordinal);

        // iperf3 -P 8 through the fabric vs a direct veth between two fresh namespaces.
        double fabricGbps = Iperf(iperf, ns1, ns2, Ce2, seconds: 3);
        var t1 = pw1.TrunkStatus("t1")!;
        output.WriteLine($"fabric iperf3 -P 8: {fabricGbps:F3} Gbit/s; shares " +
            string.Join(", ", t1.Members.Select(m => $"{m.Pw}={m.FrameShare:P1}")));
        // Least-loaded balance (the default) gives the 8 streams two per PW; the stateless hash left one PW idle about 30 % of the time.
        Assert.All(t1.Members, m => Assert.True(m.TxFrames > 100, $"{m.Pw} carried {m.TxFrames} frames"));
        Assert.All(pw2.PwStatuses(), p => Assert.Equal(0, p.RxReordered));
        Assert.All(pw1.PwStatuses(), p => Assert.Equal(0, p.RxReordered));
        double vethGbps = VethBaseline(iperf);
        output.WriteLine($"direct veth iperf3 -P 8: {vethGbps:F3} Gbit/s; fabric/veth = {fabricGbps / vethGbps:P2}");

        // Management HTTP shows the trunk with its members' shares.
        var trunkJson = await n1.Get("/trunks/t1");
        Assert.Equal("up", trunkJson["state"]!.ToString());
        Assert.Equal(4, trunkJson["members"]!.AsArray().Count);
        Assert.Equal(8, (await n2.Get("/pws"))["pws"]!.AsArray().Count(p => p!["pe"]!.ToString() == "pe2") + 4);

        // The operator verbs render the same routes.
        string management = $"{n1.Http.BaseAddress!.Host}:{n1.Http.BaseAddress.Port}";
        var cliOut = new StringWriter();
        Assert.Equal(0, await Fabric.Node.Cli.OperatorCommands.RunAsync(["trunk", "show", "t1", "--management", management], cliOut, cliOut));
        Assert.Contains("trunk t1 on pe1 (attachment circuit ce1): up", cliOut.ToString(), StringComparison.Ordinal);
        Assert.Contains("pw1-4", cliOut.ToString(), StringComparison.Ordinal);
        output.WriteLine(cliOut.ToString());
        cliOut = new StringWriter();
        Assert.Equal(0, await Fabric.Node.Cli.OperatorCommands.RunAsync(["pw", "list", "--management", management], cliOut, cliOut));
        Assert.Contains("1001/2001", cliOut.ToString(), StringComparison.Ordinal);

        // Fail pw2-3's path (PE2 drops all it receives on it) during traffic: both ends take it out.
        var server = StartIperfServer(iperf, ns2);
        try
        {
            var client = Process.Start(new ProcessStartInfo("ip", $"netns exec {ns1.Name} {iperf} -c {Ce2} -P 4 -t 4 -J --connect-timeout 3000")
            { RedirectStandardOutput = true, RedirectStandardError = true })!;
            try
            {
                await Task.Delay(1000); // traffic established before the fault (timing, not correctness)
                var failedAt = Stopwatch.GetTimestamp();
                pw2.Pws["pw2-3"].FaultDropReceive = true;
                await Eventually.Holds(() => pw1.TrunkStatus("t1") is { Active: 3, State: "up" }, timeout, "t1 routes around pw1-3");
                output.WriteLine($"t1 dropped pw1-3 {Stopwatch.GetElapsedTime(failedAt).TotalMilliseconds:F0} ms after the fault");
                long before = pw1.Pws["pw1-3"].TxFrames;
                long othersBefore = t1.Members.Where(m => m.Pw != "pw1-3").Sum(m => pw1.Pws[m.Pw].TxFrames);
                await Eventually.Holds(() => t1.Members.Where(m => m.Pw != "pw1-3").Sum(m => pw1.Pws[m.Pw].TxFrames) > othersBefore + 1000,
                    timeout, "traffic continues on the other PWs");
                Assert.Equal(before, pw1.Pws["pw1-3"].TxFrames);
                Assert.True(client.WaitForExit(20_000), "iperf3 client ended");
                string json = client.StandardOutput.ReadToEnd();
                Assert.True(client.ExitCode == 0, $"iperf3 during failure: {json}{client.StandardError.ReadToEnd()}");
                output.WriteLine($"iperf3 during the failure: {ReceivedGbps(json):F3} Gbit/s");
            }
            finally
            {
                if (!client.HasExited) client.Kill(entireProcessTree: true);
                client.Dispose();
            }
        }
        finally
        {
            if (!server.HasExited) server.Kill(entireProcessTree: true);
            server.Dispose();
            pw2.Pws["pw2-3"].FaultDropReceive = false;
        }

        await Eventually.Holds(() => pw1.TrunkStatus("t1") is { Active: 4 }, timeout, "pw1-3 back in the trunk");
        var back = ns1.Exec(ping, $"-c 3 -i 0.1 -W 2 {Ce2}");
        Assert.True(back.ExitCode == 0, $"ping after revert: {back}");
    }

    /// <summary>
    /// Least-loaded balance (the default) on real TCP: iperf3 -P 8 from CE1 to CE2 over t1's four
    /// PWs. Eight streams opened together land two per PW, so every PW carries a real share of the
    /// bytes; no flow changes PW while busy, so the receiving PWs count nothing reordered (their
    /// control-word sequence), and no pinned flow was evicted by another.
    /// </summary>
    [Fact]
    public async Task Iperf3_P8_over_a_four_pw_trunk_gives_every_pw_a_real_share_of_the_bytes_with_nothing_reordered()
    {
        HostTools.RequireRoot();
        string iperf = HostTools.Require("iperf3", "iperf3");
        int pid = Environment.ProcessId % 100000;
        string tap1 = $"pwc{pid}", tap2 = $"pwd{pid}";
        using var dir = new TempDir();
        await using var n1 = await TestNode.StartAsync("node-1", dir.Sub("n1"));
        await using var n2 = await TestNode.StartAsync("node-2", dir.Sub("n2"), seeds: [n1.Seed]);
        await Eventually.Holds(async () => await n1.UpCount() == 2, TimeSpan.FromSeconds(30), "two members up");
        var pw1 = n1.Services.GetRequiredService<PseudowireNode>();
        var pw2 = n2.Services.GetRequiredService<PseudowireNode>();
        using var ns1 = new TestNamespace("fpw-sh1");
        using var ns2 = new TestNamespace("fpw-sh2");
        await n1.Propose(Intent(tap1, tap2));
        await Eventually.Holds(() => pw1.TrunkStatus("t1") is { State: "up", Active: 4 } && pw2.TrunkStatus("t2") is { State: "up", Active: 4 },
            TimeSpan.FromSeconds(30), "both trunks up with 4 members");
        Assert.Equal("leastLoaded", pw1.TrunkStatus("t1")!.Balance);
        MoveTap(tap1, ns1, Ce1);
        MoveTap(tap2, ns2, Ce2);

        var before = pw1.TrunkStatus("t1")!.Members.ToDictionary(m => m.Pw, m => m.TxBytes);
        var ofoBefore = TcpOutOfOrder(ns2);
        double gbps = Iperf(iperf, ns1, ns2, Ce2, seconds: 3);
        var t1 = pw1.TrunkStatus("t1")!;
        var bytes = t1.Members.ToDictionary(m => m.Pw, m => m.TxBytes - before[m.Pw]);
        long total = bytes.Values.Sum();
        var shares = bytes.ToDictionary(kv => kv.Key, kv => (double)kv.Value / total);
        double min = shares.Values.Min();
        output.WriteLine($"iperf3 -P 8: {gbps:F3} Gbit/s; byte shares {string.Join(", ", shares.Select(kv => $"{kv.Key}={kv.Value:P1}"))}; " +
            $"flows assigned {t1.FlowsAssigned}, idle moves {t1.FlowIdleMoves}, failovers {t1.FlowFailovers}, live evictions {t1.FlowLiveEvictions}; " +
            $"receiver TCP out-of-order queued {TcpOutOfOrder(ns2) - ofoBefore}");
        output.WriteLine($"pw_min_byte_share_p8={min:F3}");
        // Two streams per PW, iperf3's control connection notwithstanding (before near-equal PWs were
        // taken in turn it cost its PW a stream: 12.5 %). The issue's >= 15 % goal is a benchmark
        // figure (`scenario pw-share`, min/median/max over runs: 22.7-24.2 %); TCP streams on a
        // loaded 2-core machine do not run at equal rates in any one window, so this asserts less.
        Assert.True(min >= 0.12, $"the least-used PW carried {min:P1} of the bytes");
        Assert.All(pw2.PwStatuses(), p => Assert.Equal(0, p.RxReordered));
        Assert.Equal(0, t1.FlowLiveEvictions);
        Assert.Equal(0, t1.FlowFailovers);
    }

    /// <summary>The namespace's TcpExtTCPOFOQueue (segments the receiver queued out of order; loss also causes them).</summary>
    private static long TcpOutOfOrder(TestNamespace ns) => ns.Counter("TcpExtTCPOFOQueue");

    /// <summary>`-d mpls.label==L,pwethcw` for every bottom (flow) label of a data frame; hellos carry flow label 16.</summary>
    private static string DecodeAsByBottomLabel(string pcap)
    {
        var r = HostTools.Run(HostTools.Require("tshark", "tshark"), $"-n -r {pcap} -T fields -e mpls.label");
        Assert.True(r.ExitCode == 0, r.ToString());
        return string.Join(" ", r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(l => l.Split(','))
            .Where(l => l.Length == 2 && l[1] != "16")
            .Select(l => l[1]).Distinct().Select(l => $"-d mpls.label=={l},pwethcw"));
    }

    private static void MoveTap(string tap, TestNamespace ns, string address)
    {
        HostTools.Ip($"link set {tap} netns {ns.Name}");
        ns.Ip($"addr add {address}/24 dev {tap}");
        ns.Ip($"link set {tap} up");
        ns.Ip("link set lo up");
    }

    private static Process StartIperfServer(string iperf, TestNamespace ns)
    {
        var server = Process.Start(new ProcessStartInfo("ip", $"netns exec {ns.Name} {iperf} -s -1")
        { RedirectStandardOutput = true, RedirectStandardError = true })!;
        server.OutputDataReceived += (_, _) => { };
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();
        // Ready when it listens; bounded wait.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline && !ns.Exec("ss", "-ltn").Stdout.Contains(":5201", StringComparison.Ordinal))
        {
            Thread.Sleep(50);
        }

        return server;
    }

    /// <summary>iperf3 -P 8 for <paramref name="seconds"/> s from <paramref name="client"/> to <paramref name="server"/>; receiver Gbit/s.</summary>
    private static double Iperf(string iperf, TestNamespace client, TestNamespace server, string address, int seconds, int streams = 8)
    {
        var s = StartIperfServer(iperf, server);
        try
        {
            var r = client.Exec(iperf, $"-c {address} -P {streams} -t {seconds} -J --connect-timeout 3000", timeoutMs: (seconds + 20) * 1000);
            Assert.True(r.ExitCode == 0, $"iperf3: {r}");
            return ReceivedGbps(r.Stdout);
        }
        finally
        {
            if (!s.HasExited) s.Kill(entireProcessTree: true);
            s.Dispose();
        }
    }

    private static double ReceivedGbps(string json) =>
        JsonNode.Parse(json)!["end"]!["sum_received"]!["bits_per_second"]!.GetValue<double>() / 1e9;

    private static double VethBaseline(string iperf)
    {
        using var a = new TestNamespace("fpw-va");
        using var b = new TestNamespace("fpw-vb");
        string va = $"pwva{Environment.ProcessId % 100000}", vb = $"pwvb{Environment.ProcessId % 100000}";
        HostTools.Ip($"link add {va} netns {a.Name} type veth peer name {vb} netns {b.Name}");
        a.Ip($"addr add 10.78.0.1/24 dev {va}");
        b.Ip($"addr add 10.78.0.2/24 dev {vb}");
        a.Ip($"link set {va} up");
        b.Ip($"link set {vb} up");
        return Iperf(iperf, a, b, "10.78.0.2", seconds: 3);
    }
}
