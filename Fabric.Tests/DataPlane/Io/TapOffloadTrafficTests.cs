using System.Diagnostics;
using System.Text.Json.Nodes;
using Fabric.Actors.DataPlane.Io;
using Xunit.Abstractions;

namespace Fabric.Tests.DataPlane.Io;

/// <summary>
/// Real TCP through two TAP ports with offloads: a namespace on each, a two-thread forwarder in
/// between (each port's receive thread writes what it reads to the other port, as tapfwd in
/// ../shared/peers does). The kernels hand the ports super-frames with partial checksums; the
/// ports cut them into checksummed segments and write runs back as super-frames.
/// </summary>
[Collection("pw-traffic")]
public class TapOffloadTrafficTests(ITestOutputHelper output)
{
    private static int _counter;

    private sealed class Bench : IDisposable
    {
        public required TestNamespace A { get; init; }
        public required TestNamespace B { get; init; }
        public required TapPort TapA { get; init; }
        public required TapPort TapB { get; init; }
        public IoLoop? Loop { get; init; }

        public void Dispose()
        {
            TapA.Dispose();
            TapB.Dispose();
            Loop?.Dispose();
            A.Dispose();
            B.Dispose();
        }
    }

    /// <param name="oneLoop">Both ports on one loop of the forwarder's own (one thread, as a gateway
    /// receives for its TAPs) instead of a receive thread each.</param>
    private static Bench Open(bool offloads, bool oneLoop = false)
    {
        HostTools.RequireRoot();
        int n = Interlocked.Increment(ref _counter);
        string tag = $"{Environment.ProcessId % 100000}o{n}";
        var a = new TestNamespace("ftoa");
        var b = new TestNamespace("ftob");
        var tapA = TapPort.Open($"fto{tag}a", 1, offloads: offloads);
        var tapB = TapPort.Open($"fto{tag}b", 2, offloads: offloads);
        foreach (var (ns, tap, address) in new[] { (a, tapA, "10.214.0.1"), (b, tapB, "10.214.0.2") })
        {
            HostTools.Ip($"link set {tap.InterfaceName} netns {ns.Name}");
            ns.Ip($"addr add {address}/24 dev {tap.InterfaceName}");
            ns.Ip($"link set {tap.InterfaceName} up");
            ns.Ip("link set lo up");
        }

        var pool = new PacketBatchPool(maxRetained: 64, batchCapacity: 64);
        Action<PacketBatch> toB = batch => { tapB.SendBatch(batch); batch.Return(); };
        Action<PacketBatch> toA = batch => { tapA.SendBatch(batch); batch.Return(); };
        if (!oneLoop)
        {
            tapA.StartReceiving(pool, toB);
            tapB.StartReceiving(pool, toA);
            return new Bench { A = a, B = b, TapA = tapA, TapB = tapB };
        }

        var loop = new IoLoop(0, pool, batchesPerTurn: 4, maxEvents: 8, shared: false, name: "tap-fwd");
        tapA.StartReceiving(pool, toB, loop);
        tapB.StartReceiving(pool, toA, loop);
        return new Bench { A = a, B = b, TapA = tapA, TapB = tapB, Loop = loop };
    }

    private static double Iperf(Bench bench, int seconds, out long retransmits)
    {
        string iperf = HostTools.Require("iperf3", "iperf3");
        var server = Process.Start(new ProcessStartInfo("ip", $"netns exec {bench.B.Name} {iperf} -s -1 -B 10.214.0.2")
        { RedirectStandardOutput = true, RedirectStandardError = true })!;
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (DateTime.UtcNow < deadline && !bench.B.Exec("ss", "-ltn").Stdout.Contains("10.214.0.2:5201", StringComparison.Ordinal))
            {
                Thread.Sleep(50);
            }

            var r = bench.A.Exec(iperf, $"-c 10.214.0.2 -t {seconds} -J --connect-timeout 3000", timeoutMs: (seconds + 20) * 1000);
            Assert.True(r.ExitCode == 0, $"iperf3: {r}");
            var end = JsonNode.Parse(r.Stdout)!["end"]!;
            retransmits = end["sum_sent"]!["retransmits"]!.GetValue<long>();
            return end["sum_received"]!["bits_per_second"]!.GetValue<double>() / 1e9;
        }
        finally
        {
            if (!server.HasExited) server.Kill(entireProcessTree: true);
            server.Dispose();
        }
    }

    /// <summary>rx errors + rx dropped of the namespace's TAP, from `ip -s -j link`.</summary>
    private static long ReceiveErrors(TestNamespace ns, string device)
    {
        var r = ns.Exec("ip", $"-s -j link show {device}");
        Assert.True(r.ExitCode == 0, r.ToString());
        var rx = JsonNode.Parse(r.Stdout)?[0]?["stats64"]?["rx"] ?? throw new InvalidOperationException($"no rx statistics in {r.Stdout}");
        return rx["errors"]!.GetValue<long>() + rx["dropped"]!.GetValue<long>();
    }

    /// <summary>
    /// Also with both ports on one loop: 64-frame batches hold less than a super-frame's segments,
    /// so the rest waits in the port with nothing readable on its descriptor, and the loop must
    /// come back for it by itself (TapPort.NextReceiveDue), or the connection stalls.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Iperf3_tcp_crosses_two_offloading_taps_as_super_frames_with_correct_checksums(bool oneLoop)
    {
        using var bench = Open(offloads: true, oneLoop);
        Assert.True(bench.TapA.Offloads && bench.TapB.Offloads);
        var ping = bench.A.Exec("ping", "-c 3 -i 0.1 -W 2 10.214.0.2");
        Assert.True(ping.ExitCode == 0, $"ping: {ping}");

        double gbps = Iperf(bench, seconds: 3, out long retransmits);
        output.WriteLine($"offloads{(oneLoop ? ", one loop" : "")}: {gbps:F2} Gbit/s, {retransmits} retransmits; A rx super-frames {bench.TapA.RxSuperFrames} -> {bench.TapA.RxSegments} segments; " +
            $"B tx super-frames {bench.TapB.TxSuperFrames} ({bench.TapB.TxCoalescedSegments} segments); drops A {bench.TapA.Counters.TotalDrops} B {bench.TapB.Counters.TotalDrops}");

        // The sender's kernel used TSO towards the port, and the receiver's kernel got super-frames.
        Assert.True(bench.TapA.RxSuperFrames > 0, "the sending namespace handed over no super-frame");
        Assert.True(bench.TapB.TxSuperFrames > 0, "no super-frame was written towards the receiving namespace");
        Assert.Equal(0, bench.TapA.Counters.Drops(PortDropReason.RxBadOffload));
        Assert.Equal(0, bench.TapB.Counters.Drops(PortDropReason.RxBadOffload));
        // A bad checksum would be dropped by the receiving stack and show as errors or a stalled connection.
        Assert.Equal(0, ReceiveErrors(bench.B, bench.TapB.InterfaceName));
        Assert.Equal(0, ReceiveErrors(bench.A, bench.TapA.InterfaceName));
        Assert.True(gbps > 0);
        if (oneLoop) Assert.Equal(2, bench.Loop!.Ports);

        // The reverse direction (the server sends): the same, mirrored.
        var reverse = bench.A.Exec("ping", "-c 2 -i 0.1 -s 8000 -W 2 10.214.0.2"); // 8 KB echo: IP fragments, not TSO: still whole
        Assert.True(reverse.ExitCode == 0, $"large ping: {reverse}");
    }

    [Fact]
    public void The_same_forwarder_without_offloads_carries_tcp_one_mtu_frame_at_a_time()
    {
        using var bench = Open(offloads: false);
        Assert.False(bench.TapA.Offloads);
        double gbps = Iperf(bench, seconds: 2, out long retransmits);
        output.WriteLine($"no offloads: {gbps:F2} Gbit/s, {retransmits} retransmits");
        Assert.Equal(0, bench.TapA.RxSuperFrames);
        Assert.Equal(0, bench.TapB.TxSuperFrames);
        Assert.True(bench.TapB.Counters.TxFrames > 1000);
    }
}
