using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
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
        public IoLoop? Loop { get; set; }

        /// <summary>Frames from A whose checksums A's port marked as right (Packet.ChecksumsValid).</summary>
        public long MarkedFromA;

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
    /// <param name="batchCapacity">Frames per batch, and <paramref name="batchesPerTurn"/> batches a port reads per turn of the loop.</param>
    /// <param name="keepSuperFrames">Both ports hand super-frames over whole and the forwarder writes them whole to the other port (as the gateway does).</param>
    private static Bench Open(bool offloads, bool oneLoop = false, int batchCapacity = 64, int batchesPerTurn = 4, bool keepSuperFrames = false)
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

        var pool = new PacketBatchPool(maxRetained: 64, batchCapacity: batchCapacity, superFrameRoom: keepSuperFrames ? TapPort.SuperFrameRoom : 0);
        tapA.KeepsSuperFrames = tapB.KeepsSuperFrames = keepSuperFrames;
        var bench = new Bench { A = a, B = b, TapA = tapA, TapB = tapB };
        Action<PacketBatch> toB = batch =>
        {
            for (int i = 0; i < batch.Count; i++)
            {
                if (batch[i].ChecksumsValid) Interlocked.Increment(ref bench.MarkedFromA);
            }

            Forward(batch, tapB);
        };
        Action<PacketBatch> toA = batch => Forward(batch, tapA);
        if (!oneLoop)
        {
            tapA.StartReceiving(pool, toB);
            tapB.StartReceiving(pool, toA);
            return bench;
        }

        var loop = new IoLoop(0, pool, batchesPerTurn, maxEvents: 8, shared: false, name: "tap-fwd");
        tapA.StartReceiving(pool, toB, loop);
        tapB.StartReceiving(pool, toA, loop);
        bench.Loop = loop;
        return bench;
    }

    /// <summary>Sends a received batch on: a super-frame kept whole (always the batch's last frame) is written whole, after the frames before it.</summary>
    private static void Forward(PacketBatch batch, TapPort to)
    {
        int last = batch.Count - 1;
        if (last < 0 || batch[last].GsoSize == 0)
        {
            to.SendBatch(batch);
        }
        else
        {
            var before = new PacketBatch(capacity: Math.Max(1, last));
            for (int i = 0; i < last; i++) before.TryAppend(batch.Frame(i));
            if (before.Count > 0) to.SendBatch(before);
            to.SendSuperFrame(batch.Frame(last), batch[last].GsoSize);
        }

        batch.Return();
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
        // The segments A's port cut carry the mark, so B's coalescing does not sum them again.
        Assert.True(Interlocked.Read(ref bench.MarkedFromA) >= bench.TapA.RxSegments, $"{bench.MarkedFromA} marked, {bench.TapA.RxSegments} segments cut");
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

    /// <summary>
    /// Super-frames handed over whole and written whole to the other TAP (what the gateway does on
    /// a plain hit): iperf3 crosses, the receiving namespace sees no errors, and both ports count
    /// frames as on the wire (a kept super-frame counts its segments, as a cut one does).
    /// </summary>
    [Fact]
    public void Super_frames_kept_whole_cross_from_tap_to_tap_and_are_counted_as_their_segments()
    {
        using var bench = Open(offloads: true, oneLoop: true, keepSuperFrames: true);
        var ping = bench.A.Exec("ping", "-c 3 -i 0.1 -W 2 10.214.0.2");
        Assert.True(ping.ExitCode == 0, $"ping: {ping}");

        double gbps = Iperf(bench, seconds: 2, out long retransmits);
        output.WriteLine($"kept whole: {gbps:F2} Gbit/s, {retransmits} retransmits; A rx super-frames {bench.TapA.RxSuperFrames} (kept {bench.TapA.RxSuperFramesKept}, cut into {bench.TapA.RxSegments}); " +
            $"B tx passed {bench.TapB.TxSuperFramesPassed}; A rx {bench.TapA.Counters.RxFrames} frames / {bench.TapA.Counters.RxBytes} B");
        Assert.True(bench.TapA.RxSuperFramesKept > 0, "no super-frame was kept whole");
        Assert.True(bench.TapB.TxSuperFramesPassed > 0, "no super-frame was written whole");
        Assert.Equal(0, ReceiveErrors(bench.B, bench.TapB.InterfaceName));
        Assert.Equal(0, bench.TapB.Counters.TotalDrops);
        // Frames as on the wire: at most one MTU frame's bytes each, not one per 64 KiB.
        Assert.True(bench.TapA.Counters.RxFrames * 1514 >= bench.TapA.Counters.RxBytes, "a kept super-frame was counted as one frame");
        Assert.True(bench.TapB.Counters.TxFrames * 1514 >= bench.TapB.Counters.TxBytes, "a super-frame written whole was counted as one frame");
    }

    /// <summary>
    /// The last super-frame of a message, cut short by a full turn (8-frame batches, one batch per
    /// turn: a 60 KB message is ~42 segments), leaves segments in the port with nothing more to
    /// read on its descriptor: the sender has nothing more to send until the reply. The loop must
    /// come back for them at once (TapPort.NextReceiveDue). Without that they wait for the sender's
    /// tail loss probe, a retransmission of the last segment that makes the descriptor readable
    /// again: one per message (the iperf3 test above cannot see this, a stream always sends more).
    /// </summary>
    [Fact]
    public async Task The_rest_of_a_super_frame_cut_short_by_a_turn_is_handed_over_without_waiting_for_a_retransmission()
    {
        using var bench = Open(offloads: true, oneLoop: true, batchCapacity: 8, batchesPerTurn: 1);
        var ping = bench.A.Exec("ping", "-c 2 -i 0.1 -W 2 10.214.0.2");
        Assert.True(ping.ExitCode == 0, $"ping: {ping}");

        const int MessageBytes = 60_000, Warmup = 5, Messages = 40;
        using var listener = TapPort.InNamespace(bench.B.Name, () =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            s.Bind(new IPEndPoint(IPAddress.Parse("10.214.0.2"), 5301));
            s.Listen(1);
            return s;
        });
        using var client = TapPort.InNamespace(bench.A.Name, () => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
        client.ReceiveTimeout = client.SendTimeout = 10_000;
        var server = Task.Run(() =>
        {
            using var peer = listener.Accept();
            peer.ReceiveTimeout = 10_000;
            var buffer = new byte[MessageBytes];
            for (int m = 0; m < Warmup + Messages; m++)
            {
                for (int got = 0; got < MessageBytes;)
                {
                    int n = peer.Receive(buffer, got, MessageBytes - got, SocketFlags.None);
                    if (n == 0) throw new IOException($"closed in message {m}");
                    got += n;
                }

                peer.Send(buffer, 0, 1, SocketFlags.None);
            }
        });
        client.Connect(new IPEndPoint(IPAddress.Parse("10.214.0.2"), 5301));
        var message = new byte[MessageBytes];
        var reply = new byte[1];
        long probesBefore = 0, retransBefore = 0;
        for (int m = 0; m < Warmup + Messages; m++)
        {
            if (m == Warmup) (probesBefore, retransBefore) = (TcpExt(bench.A, "TCPLossProbes"), Snmp(bench.A, "RetransSegs"));
            client.Send(message);
            Assert.Equal(1, client.Receive(reply));
        }

        await server.WaitAsync(TimeSpan.FromSeconds(10));
        long probes = TcpExt(bench.A, "TCPLossProbes") - probesBefore;
        long retransmitted = Snmp(bench.A, "RetransSegs") - retransBefore;
        output.WriteLine($"{Messages} messages of {MessageBytes} B: {probes} tail loss probes, {retransmitted} segments retransmitted; " +
            $"A rx super-frames {bench.TapA.RxSuperFrames} -> {bench.TapA.RxSegments} segments");
        Assert.True(bench.TapA.RxSuperFrames >= Messages, "the sender's messages did not come as super-frames");
        // Without the loop coming back, every message waits for a probe: ~40. A loaded machine
        // may stall the loop past the probe timeout (a few ms) now and then: a few are tolerated.
        Assert.True(probes <= Messages / 8, $"{probes} tail loss probes in {Messages} messages: the rest of a super-frame waited for one");
        Assert.True(retransmitted <= Messages / 8, $"{retransmitted} segments retransmitted in {Messages} messages");
    }

    /// <summary>A TcpExt counter of the namespace (/proc/net/netstat).</summary>
    private static long TcpExt(TestNamespace ns, string name) => ProcCounter(ns, "/proc/net/netstat", "TcpExt:", name);

    /// <summary>A Tcp counter of the namespace (/proc/net/snmp).</summary>
    private static long Snmp(TestNamespace ns, string name) => ProcCounter(ns, "/proc/net/snmp", "Tcp:", name);

    private static long ProcCounter(TestNamespace ns, string file, string prefix, string name)
    {
        var r = ns.Exec("cat", file);
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.Stdout.Split('\n').Where(l => l.StartsWith(prefix, StringComparison.Ordinal)).ToArray();
        int i = Array.IndexOf(lines[0].Split(' '), name);
        Assert.True(i > 0, $"{prefix} {name} not in {file}");
        return long.Parse(lines[1].Split(' ')[i], System.Globalization.CultureInfo.InvariantCulture);
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
