using System.Diagnostics;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Pseudowire;
using Xunit;

namespace Fabric.Tests.Pseudowire;

public class PwLinkTests
{
    private static PwConfig Config(string name, uint local, uint remote, bool cw = true, bool fl = true) =>
        new(name, "pe-a", "pe-b", new MplsLabel(local), new MplsLabel(remote), cw, fl, 1,
            new UnderlayEndpoint(new Ipv4Address(127, 0, 0, 3), 6635), "trunk-a");

    private static readonly byte[] CeFrame = SimulatedPort.BuildUdpFrame(new TrafficProfile(), 3, 128);

    /// <summary>Encapsulates <paramref name="count"/> copies of the CE frame on <paramref name="tx"/>; returns the datagrams.</summary>
    private static List<byte[]> Send(PwLink tx, int count)
    {
        var batch = new PacketBatch();
        for (int i = 0; i < count; i++)
        {
            batch.TryAppend(CeFrame);
            tx.Encapsulate(batch, i, TrunkForwarder.Hash(CeFrame));
        }

        return Enumerable.Range(0, count).Select(i => batch.Frame(i).ToArray()).ToList();
    }

    [Fact]
    public void A_frame_is_pushed_a_pw_label_flow_label_and_sequenced_control_word_and_comes_out_whole_on_the_far_pw()
    {
        var tx = new PwLink(Config("pw-ab", 1001, 2001), TimeSpan.FromMilliseconds(50), 3);
        var delivered = new List<byte[]>();
        using var sink = new SimulatedPort("ce", 1, sinkObserver: b => { for (int i = 0; i < b.Count; i++) delivered.Add(b.Frame(i).ToArray()); });
        var ac = new AttachmentCircuit("ce", sink, new PacketBatchPool());
        var rx = new PwLink(Config("pw-ba", 2001, 1001), TimeSpan.FromMilliseconds(50), 3) { Delivery = ac };

        var datagrams = Send(tx, 3);
        Assert.True(EthernetOverMplsView.TryParse(datagrams[1], new PwEncapsulation(true, true), out var view, out _));
        Assert.Equal(2001u, view.PwLabel.Value);
        Assert.Equal(EthernetOverMplsRepr.FlowLabelFromHash(TrunkForwarder.Hash(CeFrame)), view.FlowLabel);
        Assert.Equal((ushort)2, view.SequenceNumber);
        Assert.Equal(0, view.FlowLabel!.Value.Value < 16 ? 1 : 0);

        foreach (var d in datagrams) rx.Receive(d, Stopwatch.GetTimestamp());
        ac.Flush();
        Assert.Equal(3, delivered.Count);
        Assert.All(delivered, f => Assert.Equal(CeFrame, f));
        Assert.Equal(0, rx.RxReordered);
        Assert.Equal(3, rx.RxFrames);
    }

    [Fact]
    public void An_older_sequence_number_counts_as_reordered_and_a_gap_as_lost()
    {
        var tx = new PwLink(Config("pw-ab", 1001, 2001, fl: false), TimeSpan.FromMilliseconds(50), 3);
        var rx = new PwLink(Config("pw-ba", 2001, 1001, fl: false), TimeSpan.FromMilliseconds(50), 3);
        var d = Send(tx, 5);
        foreach (int i in new[] { 0, 2, 1, 3, 4 }) rx.Receive(d[i], 1);
        Assert.Equal(1, rx.RxReordered);
        Assert.Equal(1, rx.RxLost);
        Assert.Equal(5, rx.RxFrames);
    }

    [Fact]
    public void Two_sessions_exchanging_hellos_come_up_and_go_down_when_hellos_stop()
    {
        var a = new PwLink(Config("pw-ab", 1001, 2001), TimeSpan.FromMilliseconds(50), 3);
        var b = new PwLink(Config("pw-ba", 2001, 1001), TimeSpan.FromMilliseconds(50), 3);
        long now = Stopwatch.GetTimestamp();
        long step = Stopwatch.Frequency / 20; // 50 ms

        void Exchange()
        {
            var batch = new PacketBatch();
            a.AppendHello(batch);
            b.AppendHello(batch);
            b.Receive(batch.Frame(0), now);
            a.Receive(batch.Frame(1), now);
            a.Liveness.Evaluate(now);
            b.Liveness.Evaluate(now);
        }

        Exchange(); // both Down -> Init
        Assert.Equal(BfdState.Init, a.Liveness.State);
        Exchange(); // Init -> Up
        Assert.Equal(BfdState.Up, a.Liveness.State);
        Assert.Equal(BfdState.Up, b.Liveness.State);

        now += 2 * step;
        Assert.False(a.Liveness.Evaluate(now)); // 100 ms of silence: still inside 3 x 50 ms
        now += 2 * step;
        Assert.True(a.Liveness.Evaluate(now));  // 200 ms: detection time expired
        Assert.Equal(BfdState.Down, a.Liveness.State);
        Assert.Equal(1, a.Liveness.Diagnostic);

        // a tells b it is down: b leaves Up at once (neighbour signalled down).
        var hello = new PacketBatch();
        a.AppendHello(hello);
        b.Receive(hello.Frame(0), now);
        Assert.True(b.Liveness.Evaluate(now));
        Assert.Equal(BfdState.Down, b.Liveness.State);
        Assert.Equal(3, b.Liveness.Diagnostic);
    }

    [Fact]
    public void A_fault_injected_pw_drops_everything_it_receives()
    {
        var tx = new PwLink(Config("pw-ab", 1001, 2001), TimeSpan.FromMilliseconds(50), 3);
        var rx = new PwLink(Config("pw-ba", 2001, 1001), TimeSpan.FromMilliseconds(50), 3) { FaultDropReceive = true };
        foreach (var d in Send(tx, 4)) rx.Receive(d, 1);
        Assert.Equal(4, rx.FaultDrops);
        Assert.Equal(0, rx.RxFrames);
    }
}
