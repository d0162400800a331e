using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Fabric.Actors.Pseudowire;
using Fabric.Tests.DataPlane.Io;
using Fabric.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Xunit;
using Xunit.Abstractions;

namespace Fabric.Tests.Pseudowire;

/// <summary>
/// Multi-homing (issue 4, part 5): PE1's trunk has two PWs to PE2 and two to PE3, hosted on two
/// other nodes (three fabric nodes in this process, on underlay addresses of the test's own). CE2 is one namespace
/// dual-homed to PE2 and PE3: both TAPs are ports of a Linux bridge inside it that carries CE2's
/// address, so there is one CE-to-CE IP path. Stopping node-2 takes its PWs out of PE1's trunk
/// (BFD: hellos stop) and CE1 keeps reaching CE2 through PE3.
/// </summary>
[Collection("pw-traffic")]
public class PwMultiHomingTests(ITestOutputHelper output)
{
    /// <summary>This test's own underlay addresses (see <see cref="UnderlayAddresses"/>).</summary>
    private readonly string[] _underlay = UnderlayAddresses.Next(3);

    private const string Ce1 = "10.79.0.1";
    private const string Ce2 = "10.79.0.2";

    /// <summary>Concurrent pings: each is its own flow (ICMP identifier), so several land on node-2's PWs.</summary>
    private const int Pings = 8;

    private string Intent(string tap1, string tap2, string tap3) => $$"""
        nodes:
          - { name: node-1, address: {{_underlay[0]}}, roles: [fabric, ghost-shadow] }
          - { name: node-2, address: {{_underlay[1]}}, roles: [fabric, ghost-shadow] }
          - { name: node-3, address: {{_underlay[2]}}, roles: [fabric, ghost-shadow] }
        pes:
          - { name: pe1, node: node-1, routerId: 10.255.1.1, attachmentCircuits: [ { name: ce1, port: { kind: tap, name: {{tap1}} } } ] }
          - { name: pe2, node: node-2, routerId: 10.255.1.2, attachmentCircuits: [ { name: ce2a, port: { kind: tap, name: {{tap2}} } } ] }
          - { name: pe3, node: node-3, routerId: 10.255.1.3, attachmentCircuits: [ { name: ce2b, port: { kind: tap, name: {{tap3}} } } ] }
        pws:
          - { name: pw1-1, pe: pe1, remotePe: pe2, localLabel: 1101, remoteLabel: 2101, flowLabel: true }
          - { name: pw1-2, pe: pe1, remotePe: pe2, localLabel: 1102, remoteLabel: 2102, flowLabel: true }
          - { name: pw1-3, pe: pe1, remotePe: pe3, localLabel: 1103, remoteLabel: 3101, flowLabel: true }
          - { name: pw1-4, pe: pe1, remotePe: pe3, localLabel: 1104, remoteLabel: 3102, flowLabel: true }
          - { name: pw2-1, pe: pe2, remotePe: pe1, localLabel: 2101, remoteLabel: 1101, flowLabel: true }
          - { name: pw2-2, pe: pe2, remotePe: pe1, localLabel: 2102, remoteLabel: 1102, flowLabel: true }
          - { name: pw3-1, pe: pe3, remotePe: pe1, localLabel: 3101, remoteLabel: 1103, flowLabel: true }
          - { name: pw3-2, pe: pe3, remotePe: pe1, localLabel: 3102, remoteLabel: 1104, flowLabel: true }
        trunks:
          - { name: t1, pe: pe1, attachmentCircuit: ce1, members: [pw1-1, pw1-2, pw1-3, pw1-4], minActive: 2 }
          - { name: t2, pe: pe2, attachmentCircuit: ce2a, members: [pw2-1, pw2-2] }
          - { name: t3, pe: pe3, attachmentCircuit: ce2b, members: [pw3-1, pw3-2] }
        """;

    [Fact]
    public async Task A_trunk_homed_on_two_remote_pes_keeps_the_ce_to_ce_path_when_one_of_their_nodes_dies()
    {
        HostTools.RequireRoot();
        string ping = HostTools.Require("ping", "iputils-ping");
        int pid = Environment.ProcessId % 100000;
        string tap1 = $"pmh1{pid}", tap2 = $"pmh2{pid}", tap3 = $"pmh3{pid}";
        var timeout = TimeSpan.FromSeconds(30);
        using var dir = new TempDir();
        await using var n1 = await TestNode.StartAsync("node-1", dir.Sub("n1"));
        await using var n3 = await TestNode.StartAsync("node-3", dir.Sub("n3"), seeds: [n1.Seed]);
        var n2 = await TestNode.StartAsync("node-2", dir.Sub("n2"), seeds: [n1.Seed]);
        bool n2Running = true;
        var pings = new List<Process>();
        try
        {
            await Eventually.Holds(async () => await n1.UpCount() == 3, timeout, "three members up");
            var pw1 = n1.Services.GetRequiredService<PseudowireNode>();
            var pw2 = n2.Services.GetRequiredService<PseudowireNode>();

            using var ce1 = new TestNamespace("fmh-ce1");
            using var ce2 = new TestNamespace("fmh-ce2");
            await n1.Propose(Intent(tap1, tap2, tap3));
            await Eventually.Holds(() => pw1.TrunkStatus("t1") is { State: "up", Active: 4 }, timeout, "t1 up with 4 members (2 to pe2, 2 to pe3)");

            HostTools.Ip($"link set {tap1} netns {ce1.Name}");
            ce1.Ip($"addr add {Ce1}/24 dev {tap1}");
            ce1.Ip($"link set {tap1} up");
            // CE2: one bridge over both attachments, address on the bridge. Its MAC is set, not
            // inherited from a port, so it stays the same when the port towards node-2 vanishes.
            ce2.Ip("link add br0 type bridge");
            ce2.Ip("link set br0 address 02:00:0a:4f:00:02");
            foreach (string tap in new[] { tap2, tap3 })
            {
                HostTools.Ip($"link set {tap} netns {ce2.Name}");
                ce2.Ip($"link set {tap} master br0");
                ce2.Ip($"link set {tap} up");
            }

            ce2.Ip($"addr add {Ce2}/24 dev br0");
            ce2.Ip("link set br0 up");
            var first = ce1.Exec(ping, $"-c 3 -i 0.2 -W 2 {Ce2}");
            Assert.True(first.ExitCode == 0, $"ping CE1 -> CE2 before the failure: {first}");

            // Several concurrent pings, each a flow of its own; replies timestamped (-D).
            var replies = new ConcurrentQueue<(int Ping, double At)>[Pings];
            for (int p = 0; p < Pings; p++)
            {
                int index = p;
                replies[p] = new ConcurrentQueue<(int, double)>();
                var process = Process.Start(new ProcessStartInfo("ip", $"netns exec {ce1.Name} {ping} -D -n -i 0.02 -W 1 -w 60 {Ce2}")
                { RedirectStandardOutput = true, RedirectStandardError = true })!;
                process.OutputDataReceived += (_, e) =>
                {
                    if (e.Data is { } line && line.StartsWith('[') && line.Contains("bytes from", StringComparison.Ordinal))
                    {
                        replies[index].Enqueue((index, double.Parse(line[1..line.IndexOf(']', StringComparison.Ordinal)], CultureInfo.InvariantCulture)));
                    }
                };
                process.BeginOutputReadLine();
                process.BeginErrorReadLine();
                pings.Add(process);
            }

            await Eventually.Holds(() => replies.All(r => r.Count >= 10), timeout, "every ping answered before the failure");
            long viaNode2 = pw2.Pws.Values.Sum(p => p.TxFrames + p.RxFrames);
            Assert.True(viaNode2 > 0, "node-2 carried part of the CE-to-CE traffic before it died");

            // Node-2 dies: its PE, PWs and TAP go away, its hellos stop.
            double killedAt = UnixNow();
            var stopwatch = Stopwatch.StartNew();
            n2Running = false;
            await n2.DisposeAsync();
            output.WriteLine($"node-2 stopped in {stopwatch.ElapsedMilliseconds} ms");
            await Eventually.Holds(() => pw1.TrunkStatus("t1") is { State: "up", Active: 2 }, timeout, "t1 keeps the 2 PWs to pe3");
            var t1 = pw1.TrunkStatus("t1")!;
            Assert.All(t1.Members, m => Assert.Equal(m.Pw is "pw1-3" or "pw1-4", m.Active));

            // Every ping gets answered again (after the failure, plus some margin for in-flight replies).
            double recoveredAfter = UnixNow();
            await Eventually.Holds(() => replies.All(r => r.Count(x => x.At > recoveredAfter) >= 5), timeout, "every ping answered again through pe3");
            var gaps = replies.Select(r => MaxGapMs(r.Select(x => x.At).Order().ToArray(), killedAt - 1)).ToArray();
            output.WriteLine($"per-ping largest reply gap around the failure (ms): {string.Join(", ", gaps.Select(g => g.ToString("F0", CultureInfo.InvariantCulture)))}");
            output.WriteLine($"t1 members: {string.Join(", ", t1.Members.Select(m => $"{m.Pw} {m.State} active={m.Active} tx={m.TxFrames}"))}");
            Assert.True(gaps.Max() < 10_000, $"the CE-to-CE path came back within 10 s (largest gap {gaps.Max():F0} ms)");
            var after = ce1.Exec(ping, $"-c 3 -i 0.2 -W 2 {Ce2}");
            Assert.True(after.ExitCode == 0, $"ping CE1 -> CE2 after node-2 died: {after}");
        }
        finally
        {
            foreach (var p in pings)
            {
                if (!p.HasExited) p.Kill(entireProcessTree: true);
                p.Dispose();
            }

            if (n2Running)
            {
                await n2.DisposeAsync();
            }
        }
    }

    private static double UnixNow() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;

    /// <summary>Largest spacing in ms between consecutive reply timestamps from <paramref name="from"/> on.</summary>
    private static double MaxGapMs(double[] times, double from)
    {
        double max = 0;
        for (int i = 1; i < times.Length; i++)
        {
            if (times[i] >= from)
            {
                max = Math.Max(max, (times[i] - times[i - 1]) * 1000);
            }
        }

        return max;
    }
}
