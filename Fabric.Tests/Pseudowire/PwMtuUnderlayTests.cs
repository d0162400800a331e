using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Fabric.Tests.DataPlane.Io;
using Fabric.Tests.Support;
using Xunit.Abstractions;

namespace Fabric.Tests.Pseudowire;

/// <summary>
/// MTU on a real underlay: two `fabric-node` processes, each in its own network namespace, joined
/// by one veth pair at the default MTU 1500 (the underlay and the cluster's remoting both cross
/// it), PE1 and PE2 with a 4-PW trunk each way, CE namespaces on the PEs' TAPs. The PEs read the
/// underlay MTU, take the PW overhead off and give the TAPs what fits; the CEs' stacks then keep
/// every packet small enough and the underlay carries no IP fragment.
/// </summary>
[Collection("pw-traffic")]
public class PwMtuUnderlayTests(ITestOutputHelper output)
{
    /// <summary>1500 - (outer IPv4 20 + UDP 8 + PW label 4 + flow label 4 + control word 4 + CE Ethernet 14).</summary>
    private const int ExpectedMtu = 1446;

    private static string Intent(string tap1, string tap2) => $$"""
        version: 1
        nodes:
          - { name: node-1, address: 10.60.0.1, roles: [fabric, ghost-shadow] }
          - { name: node-2, address: 10.60.0.2, roles: [fabric, ghost-shadow] }
        pes:
          - { name: pe1, node: node-1, routerId: 10.255.0.1, attachmentCircuits: [ { name: ce1, port: { kind: tap, name: {{tap1}} } } ] }
          - { name: pe2, node: node-2, routerId: 10.255.0.2, attachmentCircuits: [ { name: ce2, port: { kind: tap, name: {{tap2}} } } ] }
        pws:
        {{string.Concat(Enumerable.Range(1, 4).Select(i =>
            $"  - {{ name: pw1-{i}, pe: pe1, remotePe: pe2, localLabel: {1000 + i}, remoteLabel: {2000 + i}, flowLabel: true }}\n" +
            $"  - {{ name: pw2-{i}, pe: pe2, remotePe: pe1, localLabel: {2000 + i}, remoteLabel: {1000 + i}, flowLabel: true }}\n"))}}trunks:
          - { name: t1, pe: pe1, attachmentCircuit: ce1, members: [pw1-1, pw1-2, pw1-3, pw1-4], minActive: 2 }
          - { name: t2, pe: pe2, attachmentCircuit: ce2, members: [pw2-1, pw2-2, pw2-3, pw2-4], minActive: 2 }
        """;

    [Fact]
    public async Task On_a_1500_mtu_underlay_the_taps_get_1446_full_size_df_pings_and_tcp_cross_and_the_underlay_carries_no_fragment()
    {
        HostTools.RequireRoot();
        string iperf = HostTools.Require("iperf3", "iperf3");
        string ping = HostTools.Require("ping", "iputils-ping");
        string curl = HostTools.Require("curl", "curl");
        HostTools.Require("tshark", "tshark");
        string dumpcap = HostTools.Require("dumpcap", "tshark");
        int pid = Environment.ProcessId % 100000;
        string tap1 = $"mta{pid}", tap2 = $"mtb{pid}", veth = $"mtu{pid}";
        using var dir = new TempDir();
        using var u1 = new TestNamespace("fmtu-u1");
        using var u2 = new TestNamespace("fmtu-u2");
        using var ce1 = new TestNamespace("fmtu-ce1");
        using var ce2 = new TestNamespace("fmtu-ce2");
        HostTools.Ip($"link add {veth}a netns {u1.Name} type veth peer name {veth}b netns {u2.Name}");
        foreach (var (ns, dev, address) in new[] { (u1, veth + "a", "10.60.0.1"), (u2, veth + "b", "10.60.0.2") })
        {
            ns.Ip($"addr add {address}/24 dev {dev}");
            ns.Ip($"link set {dev} up");
            ns.Ip("link set lo up");
        }

        Assert.Contains("mtu 1500", u1.Ip($"link show {veth}a"), StringComparison.Ordinal);
        var intent = dir.Sub("intent.yaml");
        await File.WriteAllTextAsync(intent, Intent(tap1, tap2));
        int port1 = NodeProcess.FreeTcpPort(), port2 = NodeProcess.FreeTcpPort(), m1 = NodeProcess.FreeTcpPort(), m2 = NodeProcess.FreeTcpPort();
        using var n1 = StartIn(u1, "--name", "node-1", "--host", "10.60.0.1", "--port", $"{port1}", "--seed", $"10.60.0.1:{port1}",
            "--management", $"127.0.0.1:{m1}", "--data", dir.Sub("n1"), "--intent", intent);
        using var n2 = StartIn(u2, "--name", "node-2", "--host", "10.60.0.2", "--port", $"{port2}", "--seed", $"10.60.0.1:{port1}",
            "--management", $"127.0.0.1:{m2}", "--data", dir.Sub("n2"));
        try
        {
            var timeout = TimeSpan.FromSeconds(120);
            await Eventually.Holds(() => Task.FromResult(Trunk(u1, curl, m1, "t1") == "up" && Trunk(u2, curl, m2, "t2") == "up"), timeout, "both trunks up across the veth underlay");

            // The PEs told the attachments what fits.
            Assert.Equal(ExpectedMtu, Mtu(u1, tap1));
            Assert.Equal(ExpectedMtu, Mtu(u2, tap2));
            Assert.Contains($"MTU {ExpectedMtu} (underlay 10.60.0.1 MTU 1500)", n1.Output, StringComparison.Ordinal);

            foreach (var (u, ce, tap, address) in new[] { (u1, ce1, tap1, "10.77.0.1"), (u2, ce2, tap2, "10.77.0.2") })
            {
                u.Ip($"link set {tap} netns {ce.Name}");
                ce.Ip($"addr add {address}/24 dev {tap}");
                ce.Ip($"link set {tap} up");
                ce.Ip("link set lo up");
            }

            var before = FragmentCounters(u1) + FragmentCounters(u2);
            string pcap = dir.Sub("underlay.pcap");
            var capture = Process.Start(new ProcessStartInfo("ip", $"netns exec {u2.Name} {dumpcap} -q -i {veth}b -f udp -w {pcap} -a duration:30")
            { RedirectStandardOutput = true, RedirectStandardError = true })!;
            try
            {
                await Task.Delay(1500); // dumpcap is listening (timing only affects how much is captured)

                // A full-size packet with DF: 1446 - 20 (IPv4) - 8 (ICMP) = 1418 bytes of data.
                var full = ce1.Exec(ping, $"-c 5 -i 0.2 -W 2 -M do -s {ExpectedMtu - 28} 10.77.0.2");
                Assert.True(full.ExitCode == 0, $"full-size DF ping: {full}");
                // One byte more does not leave the CE: its own stack refuses it (the attachment MTU is the limit).
                var over = ce1.Exec(ping, $"-c 1 -W 1 -M do -s {ExpectedMtu - 27} 10.77.0.2");
                Assert.NotEqual(0, over.ExitCode);
                output.WriteLine(over.Stdout + over.Stderr);

                var server = Process.Start(new ProcessStartInfo("ip", $"netns exec {ce2.Name} {iperf} -s -1 -B 10.77.0.2") { RedirectStandardOutput = true, RedirectStandardError = true })!;
                try
                {
                    await Eventually.Holds(() => Task.FromResult(ce2.Exec("ss", "-ltn").Stdout.Contains("10.77.0.2:5201", StringComparison.Ordinal)), TimeSpan.FromSeconds(10), "iperf3 listening");
                    var r = ce1.Exec(iperf, "-c 10.77.0.2 -t 3 -J --connect-timeout 3000", timeoutMs: 30_000);
                    Assert.True(r.ExitCode == 0, $"iperf3: {r}");
                    double gbps = JsonNode.Parse(r.Stdout)!["end"]!["sum_received"]!["bits_per_second"]!.GetValue<double>() / 1e9;
                    output.WriteLine($"iperf3 across the 1500-MTU underlay: {gbps:F3} Gbit/s");
                    Assert.True(gbps > 0);
                }
                finally
                {
                    if (!server.HasExited) server.Kill(entireProcessTree: true);
                    server.Dispose();
                }
            }
            finally
            {
                if (!capture.HasExited) HostTools.Run("kill", $"-INT {capture.Id}"); // dumpcap flushes and closes its file on SIGINT
                if (!capture.WaitForExit(5000)) capture.Kill();
                capture.Dispose();
            }

            // The kernels of both underlay namespaces made and reassembled no fragment.
            var after = FragmentCounters(u1) + FragmentCounters(u2);
            output.WriteLine($"fragment counters (FragCreates + ReasmReqds) before {before}, after {after}");
            Assert.Equal(before, after);

            // The capture (tshark, an independent decoder) holds full-size datagrams and no fragment.
            var frames = HostTools.Run(HostTools.Require("tshark", "tshark"), $"-n -r {pcap} -T fields -e frame.len -e ip.flags.mf -e ip.frag_offset -e ip.flags.df");
            // Each field lists the outer IPv4 header's value first (then the CE's, inside the PW).
            var rows = frames.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t').Select(f => f.Split(',')[0]).ToArray())
                .Where(c => c.Length >= 4).ToList();
            // Frames over 1514 bytes are the kernel's GRO/GSO aggregates as the capture point sees them (not on the wire).
            output.WriteLine($"underlay capture: {rows.Count} UDP frames, largest {rows.Select(c => int.Parse(c[0])).DefaultIfEmpty().Max()} bytes, {rows.Count(c => c[0] == "1514")} of 1514 bytes");
            Assert.True(rows.Count > 100, $"too few frames captured: {frames}");
            Assert.All(rows, c => Assert.True((c[1] is "0" or "False") && c[2] == "0" && c[3] is "1" or "True", $"fragment or no DF on the underlay: {string.Join(' ', c)}"));
            Assert.Contains(rows, c => int.Parse(c[0]) == 1514); // a full 1500-byte underlay datagram in its Ethernet frame
        }
        finally
        {
            output.WriteLine(Tail(n1.Output));
            output.WriteLine(Tail(n2.Output));
        }
    }

    private static string Tail(string text) => text.Length > 3000 ? text[^3000..] : text;

    /// <summary>`fabric-node run` in a namespace.</summary>
    private static NodeProcess StartIn(TestNamespace ns, params string[] args) =>
        NodeProcess.StartIn(ns.Name, ["run", .. args]);

    private static string? Trunk(TestNamespace ns, string curl, int management, string trunk)
    {
        var r = ns.Exec(curl, $"-s -m 2 http://127.0.0.1:{management}/trunks/{trunk}");
        try
        {
            return r.ExitCode == 0 && r.Stdout.Length > 0 ? JsonNode.Parse(r.Stdout)?["state"]?.ToString() : null;
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }

    private static int Mtu(TestNamespace ns, string device) =>
        JsonNode.Parse(ns.Ip($"-j link show {device}"))![0]!["mtu"]!.GetValue<int>();

    /// <summary>IPv4 FragCreates + ReasmReqds of a namespace (/proc/net/snmp).</summary>
    private static long FragmentCounters(TestNamespace ns)
    {
        var lines = ns.Exec("cat", "/proc/net/snmp").Stdout.Split('\n').Where(l => l.StartsWith("Ip: ", StringComparison.Ordinal)).ToArray();
        var names = lines[0].Split(' ');
        var values = lines[1].Split(' ');
        long Value(string n) => long.Parse(values[Array.IndexOf(names, n)]);
        return Value("FragCreates") + Value("ReasmReqds");
    }
}
