using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Exporters.Json;
using Fabric.Actors.DataPlane.Flow;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Benchmarks;

/// <summary>
/// The per-frame hot path of the data plane's front end: parse a 64-byte Ethernet/IPv4/TCP
/// frame into a flow key and hash it. Goal: &lt;= 25 ns and 0 B allocated per frame.
/// </summary>
[MemoryDiagnoser]
[JsonExporterAttribute.Full]
[MinColumn, MedianColumn]
public class WireBenchmarks
{
    // 10.0.0.1:43210 -> 10.0.0.2:80 PSH|ACK "GET / HTTP": the Tcp64 fixture of the Wire tests.
    private static readonly byte[] Tcp64 = Convert.FromHexString(
        "525400abcdef52540012345608004500003205054000400621bf0a0000010a000002a8ca0050123456799abcdef05018" +
        "01f6a72a0000474554202f2048545450");

    private byte[] _frame = [];
    private FlowKey _key;

    [GlobalSetup]
    public void Setup()
    {
        _frame = Tcp64.ToArray();
        if (!FlowKeyExtractor.TryExtract(_frame, 1, 1, out _key, out var reason))
        {
            throw new InvalidOperationException($"benchmark frame does not parse: {reason}");
        }
    }

    /// <summary>Parse + flow key + flow hash of one 64-byte TCP frame.</summary>
    [Benchmark]
    public ulong ParseAndFlowKey()
    {
        FlowKeyExtractor.TryExtract(_frame, 7, 42, out var key, out _);
        return FlowHash.Compute(in key);
    }

    /// <summary>The flow key alone, to see what the hash costs on top.</summary>
    [Benchmark]
    public ushort FlowKeyOnly()
    {
        FlowKeyExtractor.TryExtract(_frame, 7, 42, out var key, out _);
        return key.DestinationPort;
    }

    /// <summary>The flow hash alone, of a key already in memory.</summary>
    [Benchmark]
    public ulong FlowHashOnly() => FlowHash.Compute(in _key);

    /// <summary>IPv4 header checksum verification (20 bytes).</summary>
    [Benchmark]
    public bool Ipv4HeaderChecksum()
    {
        Ipv4View.TryParse(_frame.AsSpan(EthernetLayout.HeaderLength), out var ip, out _);
        return ip.IsChecksumValid;
    }
}
