using System.Numerics;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Exporters.Json;
using Fabric.Actors.DataPlane.Flow;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Benchmarks;

/// <summary>
/// Flow-cache lookups that hit: 10,000 flows in the table, looked up in batches of 256 (the
/// shape of a PacketBatch). Goal: >= 20 M lookups/s, i.e. <= 50 ns per lookup; BenchmarkDotNet
/// reports per lookup (OperationsPerInvoke = batch size). The 1,000,000-flow case shows what
/// the batch API's prefetch buys once the table no longer fits in cache.
/// </summary>
[MemoryDiagnoser]
[JsonExporterAttribute.Full]
[MinColumn, MedianColumn]
public class FlowTableBenchmarks
{
    private const int Batch = 256;
    private const uint Generation = 1;

    /// <summary>A per-flow value of the size a cache entry carries (a verdict and a counter).</summary>
    public readonly record struct CachedAction(int OutputPort, int Rewrite);

    private FlowTable<CachedAction> _table = null!;
    private FlowKey[][] _batches = [];
    private ulong[][] _hashes = [];
    private CachedAction[] _values = new CachedAction[Batch];
    private bool[] _found = new bool[Batch];
    private int _next;

    /// <summary>10,000 flows (the goal's case; the table fits in L2/L3) and 1,000,000 (it does not).</summary>
    [Params(10_000, 1_000_000)]
    public int Flows { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _table = new FlowTable<CachedAction>(Flows);
        var keys = new FlowKey[Flows];
        var random = new Random(20);
        for (var i = 0; i < Flows; i++)
        {
            keys[i] = new FlowKey
            {
                Tenant = 1,
                IngressPort = (ushort)(i % 4),
                EtherType = EtherType.Ipv4,
                Source = new MacAddress(0x5254_0000_0000UL + (ulong)i),
                Destination = new MacAddress(0x5254_00FF_FFFFUL),
                SourceAddress = new Ipv4Address(0x0A00_0000u + (uint)i),
                DestinationAddress = new Ipv4Address(0xC0A8_0000u + (uint)random.Next(1 << 8)),
                IpProtocol = IpProtocol.Tcp,
                SourcePort = (ushort)(1024 + i),
                DestinationPort = 443,
                Flags = FlowKeyFlags.Ipv4 | FlowKeyFlags.Transport,
            };
            _table.Insert(keys[i], FlowHash.Compute(keys[i]), new CachedAction(i, 0), Generation, 0);
        }
        // Batches drawn at random from all flows, as many as it takes to name each flow about
        // once, so successive batches touch different parts of the table, as traffic would.
        var batches = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(64, Flows / Batch));
        _batches = new FlowKey[batches][];
        _hashes = new ulong[batches][];
        for (var b = 0; b < _batches.Length; b++)
        {
            _batches[b] = new FlowKey[Batch];
            _hashes[b] = new ulong[Batch];
            for (var i = 0; i < Batch; i++)
            {
                _batches[b][i] = keys[random.Next(Flows)];
                _hashes[b][i] = FlowHash.Compute(_batches[b][i]);
            }
        }
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public int LookupHitsBatch256()
    {
        var b = _next++ & (_batches.Length - 1);
        var hits = _table.LookupBatch(_batches[b], _hashes[b], Generation, now: 1, _values, _found);
        return hits == Batch ? hits : throw new InvalidOperationException("expected only hits");
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public int LookupHitsOneByOne()
    {
        var b = _next++ & (_batches.Length - 1);
        var keys = _batches[b];
        var hashes = _hashes[b];
        var hits = 0;
        for (var i = 0; i < Batch; i++)
        {
            hits += _table.TryGetValue(keys[i], hashes[i], Generation, 1, out _) ? 1 : 0;
        }
        return hits;
    }
}
