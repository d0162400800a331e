using System.Collections.Immutable;
using Fabric.Messages.Intent;

namespace Fabric.Messages.Gateway;

/// <summary>
/// A message for one flow-cache entity: the bucket <paramref name="Bucket"/> of gateway
/// <paramref name="Gateway"/>'s flow cache (a Cluster.Sharding entity, id <c>gateway:bucket</c>).
/// </summary>
public interface IFlowCacheMessage : IFabricMessage
{
    string Gateway { get; }

    int Bucket { get; }
}

/// <summary>A tenant's VNI (the flow key's tenant field), as the gateway compiled it.</summary>
public sealed record TenantVni(string Tenant, uint Vni) : IFabricMessage;

/// <summary>
/// Tells a flow-cache entity the gateway configuration to run the stages with (sent by the
/// gateway when it starts, on every change, and when the entity asks for it after a move).
/// </summary>
public sealed record ConfigureFlowCache(
    string Gateway, int Bucket, uint Generation, GatewayIntent Intent, ImmutableArray<TenantVni> Vnis, ulong Mac) : IFlowCacheMessage;

/// <summary>
/// A batch of cache misses of one bucket: the entity runs the stages for each (creating NAT
/// bindings and connections it owns) and answers <see cref="FlowsResolved"/> in the same order.
/// </summary>
public sealed record ResolveFlows(
    string Gateway, int Bucket, uint Generation, long Sequence, ImmutableArray<FlowMiss> Misses, bool Trace) : IFlowCacheMessage;

/// <summary>
/// One missed packet as the stages see it: the 48-byte flow key (its in-memory layout, see
/// FlowKey.SizeInBytes), TCP flags, TTL and whether it came in on the uplink.
/// </summary>
public sealed record FlowMiss(byte[] Key, byte TcpFlags, byte Ttl, bool FromUplink) : IFabricMessage;

/// <summary>The entity's answers to a <see cref="ResolveFlows"/> (same order), or a request for configuration.</summary>
public sealed record FlowsResolved(
    string Gateway, int Bucket, uint Generation, long Sequence, ImmutableArray<FlowResolution> Resolutions) : IFlowCacheMessage;

/// <summary>The entity has no configuration of that generation (it just started or moved): send <see cref="ConfigureFlowCache"/>.</summary>
public sealed record FlowCacheNeedsConfig(string Gateway, int Bucket, uint Generation) : IFlowCacheMessage;

/// <summary>
/// What the stages decided for one miss, in the shape the gateway synthesizes its local cache
/// entries from (numbers are the Fabric.Actors enums: StageVerdict, GatewayDrop, RejectKind,
/// RewriteFields, ConnectionState; bit i of StageMask = GatewayStage i ran). <see cref="Reply"/> is the reply direction's entry made with
/// the first packet, when there is one. <see cref="ConnectionState"/> 255 = no tracked connection.
/// <see cref="Consulted"/>: the Fabric.Actors FlowFields the stages read (the megaflow mask); 0 = unknown, cache exact.
/// </summary>
public sealed record FlowResolution(
    byte Verdict,
    byte Reason,
    byte Reject,
    FlowRewrite Rewrite,
    ushort OutPort,
    uint NextHop,
    byte Stages,
    byte StageMask,
    bool Cacheable,
    byte ConnectionState,
    FlowConnection? Connection,
    FlowRewrite? Reply,
    ImmutableArray<string> Trace,
    ushort Consulted = 0) : IFabricMessage;

/// <summary>Rewrites and output of one synthesized entry.</summary>
public sealed record FlowRewrite(byte Fields, uint SourceAddress, uint DestinationAddress, ushort SourcePort, ushort DestinationPort, ushort OutPort, byte Stages) : IFabricMessage;

/// <summary>A tracked connection, named from the inside.</summary>
public sealed record FlowConnection(uint Tenant, byte Protocol, uint InsideAddress, ushort InsidePort, uint RemoteAddress, ushort RemotePort, bool FromInside) : IFabricMessage;

/// <summary>Ask a flow-cache entity for its statistics; replies <see cref="FlowCacheEntityStats"/>.</summary>
public sealed record GetFlowCacheStats(string Gateway, int Bucket) : IFlowCacheMessage;

/// <summary>One entity's state: where it runs, what it owns, how much it resolved.</summary>
public sealed record FlowCacheEntityStats(
    string Gateway, int Bucket, string Node, uint Generation, int NatBindings, int Connections, long Resolved, long Batches, DateTimeOffset Started) : IFlowCacheMessage;
