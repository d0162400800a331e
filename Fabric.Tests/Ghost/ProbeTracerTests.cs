using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Ghost;

namespace Fabric.Tests.Ghost;

/// <summary>
/// The tracer's two reads: the verifier polls <see cref="ProbeTracer.Count"/> (hops and which
/// probes ended, no hop copied) while it waits, and collects the hops once with
/// <see cref="ProbeTracer.Collect"/>; both see only the asked ids, whatever else is recorded.
/// </summary>
public sealed class ProbeTracerTests
{
    private static byte[] Probe(uint id)
    {
        var frame = new byte[128];
        int length = GhostProbe.BuildArp(frame, id, Ipv4Address.Parse("10.0.0.1"), Ipv4Address.Parse("10.0.0.2"));
        return frame[..length];
    }

    [Fact]
    public void Count_reports_the_hops_and_the_ended_probes_of_the_asked_ids_and_collect_their_hops_in_order()
    {
        var tracer = new ProbeTracer("node-1");
        foreach (uint id in new uint[] { 50, 100, 101, 102, 103, 108 })
        {
            tracer.Hop(Probe(id), "pe-a", "ingress");
        }

        tracer.Hop(Probe(100), "pe-b", "delivered to ce-b");
        tracer.Drop(Probe(101), "gw-1", "firewall-denied");
        tracer.Hop(Probe(108), "pe-b", "delivered to ce-b");
        tracer.Drop(Probe(50), "gw-1", "no-route"); // another round's probe: outside the range

        var (hops, ended) = tracer.Count(100, 109);
        Assert.Equal(8, hops);
        Assert.Equal(2, ended.Length); // 10 ids: two bytes of bits
        Assert.Equal(new[] { 100u, 101u, 108u }, Enumerable.Range(0, 10).Where(i => (ended[i / 8] & (1 << (i % 8))) != 0).Select(i => 100u + (uint)i));

        // A range wider than what is recorded is walked over the recorded probes instead: same answer.
        Assert.Equal(10, tracer.Count(0, 100_000).Hops); // probe 50 included

        var collected = tracer.Collect(100, 109);
        Assert.Equal(8, collected.Count);
        Assert.DoesNotContain(collected, h => h.Id == 50);
        Assert.Equal(new[] { "ingress", "delivered to ce-b" }, collected.Where(h => h.Id == 100).Select(h => h.Detail));
    }

    [Fact]
    public void A_collected_round_is_forgotten_and_its_late_hops_are_ignored_so_rounds_one_after_another_hold_nothing()
    {
        var tracer = new ProbeTracer("node-1");
        uint id = 1;
        for (var round = 0; round < 1_000; round++)
        {
            uint first = id;
            for (var i = 0; i < 50; i++, id++)
            {
                tracer.Hop(Probe(id), "pe-a", "ingress");
                tracer.Hop(Probe(id), "pe-b", "delivered to ce-b");
            }

            Assert.Equal(100, tracer.Collect(first, id - 1).Count);
            tracer.Hop(Probe(first), "pe-c", "flooded copy, late"); // after the round was collected
            Assert.Equal(0, tracer.Recorded);
        }

        // A probe of a round not yet collected is still recorded and counted.
        tracer.Hop(Probe(id), "pe-a", "ingress");
        Assert.Equal(1, tracer.Recorded);
        Assert.Equal(1, tracer.Count(id, id).Hops);
    }
}
