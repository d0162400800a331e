using System.Collections.Immutable;
using Fabric.Actors.DataPlane.Io;
using Fabric.Messages.Gateway;
using Fabric.Messages.Intent;

namespace Fabric.Actors.Gateway.Actors;

// The gateway actor's local protocol: asked on its own node only (management HTTP, tests), so
// these never cross nodes and are not IFabricMessages.

/// <summary>A gateway element's configuration: its intent and the VNIs of its tenants.</summary>
public sealed record GatewaySpec(GatewayIntent Intent, ImmutableArray<TenantVni> Vnis);

/// <summary>Feeds frames into a simulated port of the gateway as if they had been received (tests, demos). Replies <see cref="FramesInjected"/>.</summary>
public sealed record InjectFrames(string Port, ImmutableArray<byte[]> Frames);

public sealed record FramesInjected(int Count);

/// <summary>Takes the frames the gateway sent out of a simulated port since the last call. Replies <see cref="SentFrames"/>.</summary>
public sealed record TakeSentFrames(string Port);

public sealed record SentFrames(ImmutableArray<byte[]> Frames);

/// <summary>Arms the per-packet trace for the next <paramref name="Packets"/> packets (0 disarms). Replies <see cref="GatewayTraces"/>.</summary>
public sealed record ArmTrace(int Packets);

/// <summary>Reads the traces kept so far. Replies <see cref="GatewayTraces"/>.</summary>
public sealed record GetGatewayTraces
{
    public static readonly GetGatewayTraces Instance = new();
}

/// <summary>The per-packet traces kept, and per (tenant, stage) that stage's newest records of traced packets.</summary>
public sealed record GatewayTraces(string Gateway, int Armed, IReadOnlyList<PacketTrace> Traces, IReadOnlyList<StageTraces>? Stages = null);

/// <summary>One stage table's newest trace records (its generation: the table that holds them now).</summary>
public sealed record StageTraces(string Tenant, string Stage, int Generation, IReadOnlyList<string> Records);

/// <summary>Asks for counters, ports and cache statistics. Replies <see cref="GatewayStatus"/>.</summary>
public sealed record GetGatewayStatus
{
    public static readonly GetGatewayStatus Instance = new();
}

/// <summary>
/// One port of a gateway. State: up, link-down, gone, closed, "restarting" (failed, a re-open is
/// scheduled with backoff) or "absent". Restarts: re-opens that succeeded after the port went away
/// or failed to open; OpenFailures: attempts that failed; LastError: why it last went away or failed.
/// </summary>
public sealed record GatewayPortStatus(ushort Id, string Name, string Kind, string Role, string Tenant, string State, long RxFrames, long TxFrames, long Drops,
    long Restarts = 0, long OpenFailures = 0, string? LastError = null, int Mtu = GatewayPlan.DefaultMtu);

/// <summary>Flow-cache statistics (NSX "get dataplane flow-cache stats") of one bucket or of the whole gateway.</summary>
public sealed record CacheStats(int Bucket, int Active, long Insertions, long Hits, long Misses, double HitRate, long Evictions, long Collisions, int Connections, string? Owner)
{
    public static CacheStats Of(FlowCacheStats s, string? owner) =>
        new(s.Shard, s.Active, s.Insertions, s.Hits, s.Misses, Math.Round(s.HitRate, 4), s.Evictions, s.Collisions, s.Connections, owner);

    public static CacheStats Sum(IReadOnlyCollection<CacheStats> all)
    {
        long hits = all.Sum(s => s.Hits), misses = all.Sum(s => s.Misses);
        return new CacheStats(-1, all.Sum(s => s.Active), all.Sum(s => s.Insertions), hits, misses,
            hits + misses == 0 ? 0 : Math.Round((double)hits / (hits + misses), 4),
            all.Sum(s => s.Evictions), all.Sum(s => s.Collisions), all.Sum(s => s.Connections), null);
    }
}

public sealed record GatewayStatus(
    string Name,
    string Node,
    uint Generation,
    string Mode,
    IReadOnlyList<string> Tenants,
    IReadOnlyList<GatewayPortStatus> Ports,
    IReadOnlyDictionary<string, long> Counters,
    IReadOnlyDictionary<string, long> StageRuns,
    IReadOnlyDictionary<string, long> Drops,
    CacheStats Cache,
    IReadOnlyList<CacheStats> Shards,
    int PendingMisses,
    long ShardMoves,
    int Neighbors,
    IReadOnlyList<NatPoolStatus>? NatPools = null,
    IReadOnlyList<StageTableStatus>? Stages = null);

/// <summary>A tenant's SNAT pool in port blocks: how many, how big, how many the buckets lease, how many are free (in process: held by the datapath's shards).</summary>
public sealed record NatPoolStatus(string Tenant, int BlockSize, int Blocks, int Leased, int Free);

/// <summary>Turns the gateway's flow cache off (every frame runs the miss path: the flow-cache entity in sharded mode) or on again. Replies with the same message.</summary>
public sealed record SetCacheDisabled(bool Disabled);
