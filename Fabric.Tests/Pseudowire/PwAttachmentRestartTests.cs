using Fabric.Tests.DataPlane.Io;
using Fabric.Tests.Support;
using Xunit.Abstractions;

namespace Fabric.Tests.Pseudowire;

/// <summary>
/// Issue 15 item 16 on attachment circuits: two `fabric-node` processes in their own namespaces,
/// joined by a veth underlay, PE1 and PE2 with a 2-PW trunk; each PE's TAP lives in its CE's
/// namespace, named in the intent, where the node creates it. CE1 pings CE2 across the PWs while
/// node-2 is stopped (SIGTERM) and started again on the same data directory: CE2's interface keeps
/// its address while the node is away, and the pings come back (goal: within 3 s of the start;
/// the times are printed).
/// </summary>
[Collection("pw-traffic")]
public class PwAttachmentRestartTests(ITestOutputHelper output)
{
    private const int Restarts = 3;

    private static string Intent(string tap1, string ce1, string tap2, string ce2) => $$"""
        version: 1
        nodes:
          - { name: node-1, address: 10.61.0.1, roles: [fabric, ghost-shadow] }
          - { name: node-2, address: 10.61.0.2, roles: [fabric, ghost-shadow] }
        pes:
          - { name: pe1, node: node-1, routerId: 10.255.1.1, attachmentCircuits: [ { name: ce1, port: { kind: tap, name: {{tap1}}, namespace: {{ce1}} } } ] }
          - { name: pe2, node: node-2, routerId: 10.255.1.2, attachmentCircuits: [ { name: ce2, port: { kind: tap, name: {{tap2}}, namespace: {{ce2}} } } ] }
        pws:
          - { name: pw1-1, pe: pe1, remotePe: pe2, localLabel: 1101, remoteLabel: 2101 }
          - { name: pw1-2, pe: pe1, remotePe: pe2, localLabel: 1102, remoteLabel: 2102 }
          - { name: pw2-1, pe: pe2, remotePe: pe1, localLabel: 2101, remoteLabel: 1101 }
          - { name: pw2-2, pe: pe2, remotePe: pe1, localLabel: 2102, remoteLabel: 1102 }
        trunks:
          - { name: t1, pe: pe1, attachmentCircuit: ce1, members: [pw1-1, pw1-2], minActive: 1 }
          - { name: t2, pe: pe2, attachmentCircuit: ce2, members: [pw2-1, pw2-2], minActive: 1 }
        """;

    [Fact]
    public async Task A_pe_whose_tap_lives_in_the_ce_namespace_carries_pings_again_within_3_s_of_a_node_restart()
    {
        HostTools.RequireRoot();
        var ping = HostTools.Require("ping", "iputils-ping");
        var ip = HostTools.Require("ip", "iproute2");
        var pid = Environment.ProcessId % 100000;
        string tap1 = $"pra{pid}", tap2 = $"prb{pid}", veth = $"prv{pid}";
        using var dir = new TempDir();
        using var u1 = new TestNamespace("fprs-u1");
        using var u2 = new TestNamespace("fprs-u2");
        using var ce1 = new TestNamespace("fprs-ce1");
        using var ce2 = new TestNamespace("fprs-ce2");
        HostTools.Ip($"link add {veth}a netns {u1.Name} type veth peer name {veth}b netns {u2.Name}");
        foreach (var (ns, dev, address) in new[] { (u1, veth + "a", "10.61.0.1"), (u2, veth + "b", "10.61.0.2") })
        {
            ns.Ip($"addr add {address}/24 dev {dev}");
            ns.Ip($"link set {dev} up");
            ns.Ip("link set lo up");
        }

        var intent = dir.Sub("intent.yaml");
        await File.WriteAllTextAsync(intent, Intent(tap1, ce1.Name, tap2, ce2.Name));
        int port1 = NodeProcess.FreeTcpPort(), port2 = NodeProcess.FreeTcpPort(), m1 = NodeProcess.FreeTcpPort(), m2 = NodeProcess.FreeTcpPort();
        using var n1 = NodeProcess.StartIn(u1.Name, "run", "--name", "node-1", "--host", "10.61.0.1", "--port", $"{port1}", "--seed", $"10.61.0.1:{port1}",
            "--management", $"127.0.0.1:{m1}", "--data", dir.Sub("n1"), "--intent", intent);
        NodeProcess Node2() => NodeProcess.StartIn(u2.Name, "run", "--name", "node-2", "--host", "10.61.0.2", "--port", $"{port2}", "--seed", $"10.61.0.1:{port1}",
            "--management", $"127.0.0.1:{m2}", "--data", dir.Sub("n2"), "--intent", "none");
        var n2 = Node2();
        Pinger? pinger = null;
        try
        {
            var wait = TimeSpan.FromSeconds(120);
            foreach (var (ce, tap, address) in new[] { (ce1, tap1, "10.78.0.1"), (ce2, tap2, "10.78.0.2") })
            {
                await Eventually.Holds(() => HostTools.Run(ip, $"-n {ce.Name} link show {tap}").ExitCode == 0, wait, $"{tap} created in {ce.Name}");
                ce.Ip($"addr add {address}/24 dev {tap}");
                ce.Ip("link set lo up");
            }
            await Eventually.Holds(() => ce1.Exec(ping, "-c 1 -W 1 10.78.0.2", 5000).ExitCode == 0, wait, "CE1 pings CE2 over the trunk");

            pinger = Pinger.Start(ce1.Name, ping, "10.78.0.2");
            var back = new List<double>();
            for (var i = 0; i < Restarts; i++)
            {
                await Eventually.Holds(() => pinger.LastReply > Pinger.Now() - 1.0, TimeSpan.FromSeconds(10), "pings flowing before the stop");
                Assert.Equal(0, await n2.TerminateAsync(TimeSpan.FromSeconds(60)));
                n2.Dispose();
                Assert.Contains("10.78.0.2/24", ce2.Ip($"addr show dev {tap2}"));
                Assert.Contains("UP", ce2.Ip($"link show {tap2}").Split('>')[0]);

                var started = Pinger.Now();
                n2 = Node2();
                await Eventually.Holds(() => pinger.RepliesAfter(started) is not null, TimeSpan.FromSeconds(60), $"pings back after restart {i + 1}");
                var seconds = pinger.RepliesAfter(started)!.Value - started;
                back.Add(seconds);
                output.WriteLine($"restart {i + 1} of node-2: first ping reply {seconds * 1000:0} ms after the node process started");
            }

            back.Sort();
            output.WriteLine($"traffic back after a restart: min {back[0] * 1000:0} ms, median {back[back.Count / 2] * 1000:0} ms, max {back[^1] * 1000:0} ms ({Restarts} restarts)");
            // The goal is 3 s. It is measured and printed here, not asserted: timing goals are not
            // asserted in tests on this shared 2-core machine (at load average 14 one run's median
            // was 3.2 s); a restart only has to bring traffic back without anyone re-plumbing.
            Assert.All(back, s => Assert.True(s < 15.0, $"traffic back {s * 1000:0} ms after the start"));
        }
        catch
        {
            output.WriteLine("--- node-1 ---\n" + Tail(n1.Output));
            output.WriteLine("--- node-2 ---\n" + Tail(n2.Output));
            throw;
        }
        finally
        {
            pinger?.Dispose();
            n2.Dispose();
        }
    }

    private static string Tail(string text) => text.Length > 6000 ? text[^6000..] : text;
}
