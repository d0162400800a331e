using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Pseudowire;
using Fabric.Messages.Intent;
using Fabric.Tests.DataPlane.Io;
using Fabric.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Fabric.Tests.Pseudowire;

/// <summary>
/// RFC 7510 §3 entropy: the UDP source port comes from the flow hash. Captured with the
/// underlay's tee and read back with tshark: different flows leave from different source ports
/// in 49152-65535, one flow always from the same one, destination 6635, decoded as MPLS.
/// </summary>
[Collection("pw-traffic")]
public class PwEntropyTests(ITestOutputHelper output)
{
    private const int Flows = 200;

    [Fact]
    public void Each_flow_leaves_from_one_source_port_chosen_by_its_hash_and_flows_spread_over_the_ephemeral_range()
    {
        string tshark = HostTools.Require("tshark", "tshark");
        using var dir = new TempDir();
        var pool = new PacketBatchPool();
        using var a = PwUnderlay.Open(new Ipv4Address(127, 0, 0, 57), MplsInUdp.Port, pool);
        using var b = PwUnderlay.Open(new Ipv4Address(127, 0, 0, 58), MplsInUdp.Port, pool);
        var members = Enumerable.Range(1, 2).Select(i => new PwLink(
            new PwConfig($"pw-{i}", "pe-a", "pe-b", new MplsLabel(100u + (uint)i), new MplsLabel(200u + (uint)i), true, true, 1, b.Local, "t"),
            TimeSpan.FromMilliseconds(50), 3)).ToArray();
        var forwarder = new TrunkForwarder("t", TrunkMode.PerFlow, members, a,
            TrunkSelector.Build(members.Select(m => new TrunkMemberWeight(m.Name, 1)).ToArray())) { IsUp = true };
        string pcap = dir.Sub("entropy.pcap");
        using (var writer = new PcapWriter(pcap))
        {
            a.Tee = writer;
            var profile = new TrafficProfile { Flows = Flows };
            for (int round = 0; round < 3; round++)
            {
                var batch = pool.Rent();
                for (int f = 0; f < Flows; f++)
                {
                    Assert.True(batch.TryAppend(SimulatedPort.BuildUdpFrame(profile, f, 64)));
                }

                Assert.True(forwarder.Forward(batch));
                batch.Return();
            }

            a.Tee = null;
        }

        // udp.srcport, udp.dstport (outer first, then the CE frame's), the label stack (PW label, flow label), the protocol chain.
        var r = HostTools.Run(tshark, $"-n -r {pcap} -d mpls.label==0-1048575,pwethcw -T fields -E separator=/t -e udp.srcport -e udp.dstport -e mpls.label -e frame.protocols");
        Assert.True(r.ExitCode == 0, r.ToString());
        var rows = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split('\t'))
            .Select(f => (Src: int.Parse(f[0].Split(',')[0]), Dst: int.Parse(f[1].Split(',')[0]), FlowLabel: f[2].Split(',')[1], Chain: f[3].Trim()))
            .ToArray();
        Assert.Equal(3 * Flows, rows.Length);
        Assert.All(rows, x => Assert.Equal(MplsInUdp.Port, x.Dst));
        Assert.All(rows, x => Assert.InRange(x.Src, PwUnderlay.FirstEntropyPort, ushort.MaxValue));
        Assert.All(rows, x => Assert.Contains("udp:mpls", x.Chain, StringComparison.Ordinal));
        // The flow label is the flow's hash (RFC 6391): one flow label, one source port.
        var portsPerFlow = rows.GroupBy(x => x.FlowLabel).ToDictionary(g => g.Key, g => g.Select(x => x.Src).Distinct().Count());
        Assert.True(portsPerFlow.Count > Flows * 9 / 10, $"{portsPerFlow.Count} distinct flow labels for {Flows} flows");
        Assert.All(portsPerFlow, kv => Assert.Equal(1, kv.Value));
        var sources = rows.Select(x => x.Src).Distinct().ToArray();
        output.WriteLine($"{rows.Length} datagrams, {portsPerFlow.Count} flows, source ports: {string.Join(" ", sources.Order())}");
        Assert.Equal(PwUnderlay.EntropyPorts, sources.Length);
        Assert.True(a.Senders.Select(s => s.Local.Port).ToHashSet().SetEquals(sources.Select(s => (ushort)s)), "the ports are the underlay's sending sockets");
    }
}
