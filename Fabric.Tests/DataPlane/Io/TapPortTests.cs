using System.Text.RegularExpressions;
using Fabric.Actors.DataPlane.Host;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Tests.DataPlane.Io;

/// <summary>
/// Real TAP devices: each test opens a tap in the root namespace, moves it into a private test
/// namespace, and checks that namespace and device are gone afterwards.
/// </summary>
public class TapPortTests
{
    private const string NamespaceSide = "10.213.0.1";

    private static int _counter;

    private static string NewTapName() => $"ftap{Environment.ProcessId % 100000}x{Interlocked.Increment(ref _counter)}";

    /// <summary>A tap in a fresh namespace with 10.213.0.1/24 on the namespace side, up.</summary>
    private static (TestNamespace Ns, TapPort Tap) OpenTapInNamespace(string prefix)
    {
        HostTools.RequireRoot();
        var ns = new TestNamespace(prefix);
        TapPort? tap = null;
        try
        {
            tap = TapPort.Open(NewTapName(), id: 3);
            HostTools.Ip($"link set {tap.InterfaceName} netns {ns.Name}");
            ns.Ip($"addr add {NamespaceSide}/24 dev {tap.InterfaceName}");
            ns.Ip($"link set {tap.InterfaceName} up");
            ns.Ip("link set lo up");
            return (ns, tap);
        }
        catch
        {
            tap?.Dispose();
            ns.Dispose();
            throw;
        }
    }

    /// <summary>On the port's own receive thread, or on <paramref name="loop"/> (one its owner keeps).</summary>
    private static void StartReceiving(TapPort tap, PacketBatchPool pool, IoLoop? loop, Action<PacketBatch> onBatch)
    {
        if (loop is null) tap.StartReceiving(pool, onBatch);
        else tap.StartReceiving(pool, onBatch, loop);
    }

    private static void AssertGone(string ns, string tapName)
    {
        Assert.False(TestNamespace.Exists(ns), $"namespace {ns} still exists");
        HostTools.Result link = HostTools.Run(HostTools.Require("ip", "iproute2"), $"link show {tapName}");
        Assert.NotEqual(0, link.ExitCode);
    }

    [Fact]
    public void A_namespace_pings_an_l3_host_behind_a_tap_and_gets_all_20_replies()
    {
        HostTools.Require("ping", "iputils-ping");
        (TestNamespace ns, TapPort tap) = OpenTapInNamespace("ftap-ping");
        string nsName = ns.Name, tapName = tap.InterfaceName;
        try
        {
            var host = new L3Host(MacAddress.Parse("02:fa:b0:00:00:02"), Ipv4Address.Parse("10.213.0.2"));
            var pool = new PacketBatchPool(maxRetained: 8, batchCapacity: 64);
            string capture = Path.Combine(Path.GetTempPath(), $"{nsName}.pcap");
            using var tee = new PcapWriter(capture);
            tap.Tee = tee;
            host.Serve(tap, pool);

            HostTools.Result ping = ns.Exec("ping", "-c 20 -i 0.05 -W 2 10.213.0.2", timeoutMs: 20_000);
            tap.StopReceiving();
            tee.Dispose();
            try
            {
                // Both directions were teed: the namespace's requests and the host's replies.
                string[] chains = Tshark.ProtocolChains(capture, "-Y icmp");
                Assert.Equal(40, chains.Length);
                Assert.Equal(20, Tshark.ProtocolChains(capture, "-Y \"icmp.type == 0\"").Length);
                Assert.NotEmpty(Tshark.ProtocolChains(capture, "-Y \"arp.opcode == 2\""));
                Assert.Contains("[Checksum Status: Good]", Tshark.DecodeVerbose(capture));
            }
            finally
            {
                File.Delete(capture);
            }

            Match summary = Regex.Match(ping.Stdout, @"(\d+) packets transmitted, (\d+) received");
            Assert.True(summary.Success, ping.ToString());
            Assert.Equal("20", summary.Groups[2].Value);
            Assert.Equal(20, host.EchoRepliesSent);
            Assert.True(host.ArpRepliesSent >= 1);
            Assert.Equal(0, tap.Counters.TotalDrops);
            Assert.Equal(pool.Rents, pool.Returns);
        }
        finally
        {
            tap.Dispose();
            ns.Dispose();
        }

        AssertGone(nsName, tapName);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_tap_moved_into_a_namespace_receives_the_frames_that_namespace_sends(bool onLoop)
    {
        HostTools.Require("ping", "iputils-ping");
        (TestNamespace ns, TapPort tap) = OpenTapInNamespace("ftap-rx");
        string nsName = ns.Name, tapName = tap.InterfaceName;
        try
        {
            var pool = new PacketBatchPool(maxRetained: 4, batchCapacity: 64);
            long frames = 0;
            using var loop = onLoop ? new IoLoop(0, pool, 4, 8, shared: false) : null;
            StartReceiving(tap, pool, loop, batch =>
            {
                Interlocked.Add(ref frames, batch.Count);
                Assert.Equal((ushort)3, batch[0].IngressPort);
                batch.Return();
            });

            // Nobody answers 10.213.0.2, so the namespace keeps asking for it with ARP requests.
            ns.Exec("ping", "-c 2 -i 0.2 -W 1 10.213.0.2", timeoutMs: 10_000);
            tap.StopReceiving();

            Assert.True(Interlocked.Read(ref frames) > 0, "no frame reached the tap port");
            Assert.Equal(frames, tap.Counters.RxFrames);
            Assert.Equal(pool.Rents, pool.Returns);
        }
        finally
        {
            tap.Dispose();
            ns.Dispose();
        }

        AssertGone(nsName, tapName);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_tap_deleted_under_the_port_ends_the_receive_loop_and_reports_gone(bool onLoop)
    {
        (TestNamespace ns, TapPort tap) = OpenTapInNamespace("ftap-gone");
        string nsName = ns.Name, tapName = tap.InterfaceName;
        try
        {
            var pool = new PacketBatchPool(maxRetained: 4, batchCapacity: 64);
            using var loop = onLoop ? new IoLoop(0, pool, 4, 8, shared: false) : null;
            StartReceiving(tap, pool, loop, batch => batch.Return());
            ns.Ip($"link del {tapName}");

            var deadline = DateTime.UtcNow.AddSeconds(5);
            while (tap.State != PortState.Gone && DateTime.UtcNow < deadline)
            {
                Thread.Sleep(20);
            }

            Assert.Equal(PortState.Gone, tap.State);
            Assert.NotNull(tap.StateDetail);
            if (loop is not null)
            {
                // The loop let go of it (no busy loop on the dead descriptor's error).
                Thread.Sleep(100);
                Assert.Equal(0, loop.Ports);
                long wakeups = loop.Wakeups;
                Thread.Sleep(300);
                Assert.True(loop.Wakeups - wakeups <= 1, $"the loop woke {loop.Wakeups - wakeups} times in 300 ms with no port");
            }
            tap.StopReceiving();
            Assert.Equal(pool.Rents, pool.Returns);

            var batch = new PacketBatch(capacity: 1);
            batch.TryAppend(new byte[60]);
            Assert.Equal(0, tap.SendBatch(batch));
            Assert.Equal(1, tap.Counters.Drops(PortDropReason.TxPortGone));
        }
        finally
        {
            tap.Dispose();
            ns.Dispose();
        }

        AssertGone(nsName, tapName);
    }

    /// <summary>
    /// fabric.tap.tx-queue-length: a TAP the port creates gets the queue length asked, in a named
    /// namespace too (through the port's control socket there); 0 leaves the kernel's 1,000; a
    /// device made by others (ip tuntap add) keeps its own. Read back from the kernel.
    /// </summary>
    [Fact]
    public void A_tap_the_port_creates_gets_the_tx_queue_length_asked_and_one_made_by_others_keeps_its_own()
    {
        HostTools.RequireRoot();
        using var ns = new TestNamespace("ftap-txq");
        string created = NewTapName(), inNamespace = NewTapName(), plain = NewTapName(), others = NewTapName();
        using (TapPort.Open(created, txQueueLength: 4096))
        {
            Assert.Equal(4096, QueueLength(HostTools.Ip($"-o link show {created}")));
        }

        using (TapPort.Open(inNamespace, netns: ns.Name, txQueueLength: 2048))
        {
            Assert.Equal(2048, QueueLength(ns.Ip($"-o link show {inNamespace}")));
        }

        using (TapPort.Open(plain, txQueueLength: 0))
        {
            Assert.Equal(1000, QueueLength(HostTools.Ip($"-o link show {plain}")));
        }

        HostTools.Ip($"tuntap add dev {others} mode tap");
        try
        {
            using var tap = TapPort.Open(others, txQueueLength: 4096);
            Assert.False(tap.CreatedByNode);
            Assert.Equal(1000, QueueLength(HostTools.Ip($"-o link show {others}")));
        }
        finally
        {
            HostTools.Ip($"link del {others}");
        }
    }

    private static int QueueLength(string link) => int.Parse(Regex.Match(link, @"qlen (\d+)").Groups[1].Value);

    [Fact]
    public void Deleting_the_namespace_that_holds_the_tap_is_reported_as_gone()
    {
        (TestNamespace ns, TapPort tap) = OpenTapInNamespace("ftap-nsdel");
        string nsName = ns.Name, tapName = tap.InterfaceName;
        try
        {
            var pool = new PacketBatchPool(maxRetained: 4, batchCapacity: 64);
            tap.StartReceiving(pool, batch => batch.Return());
            ns.Dispose();

            var deadline = DateTime.UtcNow.AddSeconds(5);
            while (tap.State != PortState.Gone && DateTime.UtcNow < deadline)
            {
                Thread.Sleep(20);
            }

            Assert.Equal(PortState.Gone, tap.State);
            tap.StopReceiving();
            Assert.Equal(pool.Rents, pool.Returns);
        }
        finally
        {
            tap.Dispose();
            ns.Dispose();
        }

        AssertGone(nsName, tapName);
    }

    /// <summary>A batch of several goes to the kernel in one io_uring submit: each of its writes fails and is counted on its own.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public void Writing_to_a_tap_whose_link_is_down_drops_as_link_down(int frames)
    {
        (TestNamespace ns, TapPort tap) = OpenTapInNamespace("ftap-down");
        string nsName = ns.Name, tapName = tap.InterfaceName;
        try
        {
            ns.Ip($"link set {tapName} down");
            var batch = new PacketBatch(capacity: frames);
            for (int i = 0; i < frames; i++)
            {
                Span<byte> frame = batch.NextFrameRoom()[..60];
                frame.Clear();
                frame[..6].Fill(0xFF); // broadcast destination: the content does not matter here
                batch.Commit(60);
            }

            Assert.Equal(0, tap.SendBatch(batch));
            Assert.Equal(frames, tap.Counters.Drops(PortDropReason.TxLinkDown));
            Assert.Equal(PortState.LinkDown, tap.State);

            ns.Ip($"link set {tapName} up");
            Assert.Equal(frames, tap.SendBatch(batch));
            Assert.Equal(PortState.Up, tap.State);
        }
        finally
        {
            tap.Dispose();
            ns.Dispose();
        }

        AssertGone(nsName, tapName);
    }
}
