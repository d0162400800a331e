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
/// gateway when it starts, on every change, and when the entity asks for it after a move), the
/// gateway's NAT and conntrack settings, and the port blocks the bucket leases (the complete set
/// as of <paramref name="LeaseVersion"/>). With <paramref name="Restore"/>, <paramref name="Connections"/>
/// is every connection the gateway mirrors for the bucket: a new entity (its node left, the shard
/// moved) takes them and their bindings up; an entity that already has state ignores them.
/// <paramref name="GatewayIncarnation"/> changes when the gateway actor starts again: an entity
/// holding leases of an older incarnation drops its NAT state (the new ledger does not know them).
/// </summary>
public sealed record ConfigureFlowCache(
    string Gateway, int Bucket, uint Generation, GatewayIntent Intent, ImmutableArray<TenantVni> Vnis, ulong Mac,
    long GatewayIncarnation = 0, FlowCacheSettings? Settings = null, long LeaseVersion = 0, ImmutableArray<PortBlockLeases> Leases = default,
    bool Restore = false, ImmutableArray<RestoredConnection> Connections = default) : IFlowCacheMessage;

/// <summary>The gateway's NAT (port blocks) and connection-tracking settings, so its entities on every node decide alike (milliseconds).</summary>
public sealed record FlowCacheSettings(
    int PortBlockSize, int MaxBlocksPerHost, int SpareBlocks,
    long TcpNewMs, long TcpEstablishedMs, long TcpClosingMs, long TcpClosedHoldMs, long DatagramMs, long SweepIntervalMs,
    long TcpMappingMemoryMs = 0) : IFabricMessage;

/// <summary>
/// Port blocks of one tenant's SNAT pool: each block is <c>address &lt;&lt; 16 | first port</c>
/// (<paramref name="BlockSize"/> ports from there).
/// </summary>
public sealed record PortBlockLeases(uint Tenant, int BlockSize, ImmutableArray<ulong> Blocks) : IFabricMessage;

/// <summary>A connection the gateway mirrors, for a moved entity: state (Fabric.Actors ConnectionState), idle time at the gateway.</summary>
public sealed record RestoredConnection(FlowConnection Connection, byte State, long IdleMs) : IFabricMessage;

/// <summary>Gateway → entity: the bucket's complete lease set after the gateway lent it blocks or took returned ones back.</summary>
public sealed record GrantPortBlocks(string Gateway, int Bucket, long GatewayIncarnation, long LeaseVersion, ImmutableArray<PortBlockLeases> Leases) : IFlowCacheMessage;

/// <summary>A tenant's spare blocks in an entity, and how many blocks its hosts wanted when none was spare.</summary>
public sealed record SpareBlocks(uint Tenant, int Spares, int Starved = 0) : IFabricMessage;

/// <summary>
/// Entity → gateway: blocks it hands back (emptied, beyond its spares) and the tenants whose
/// spares ran low (the gateway tops them up and answers <see cref="GrantPortBlocks"/>).
/// <paramref name="EntityIncarnation"/> lets the gateway ignore returns of an incarnation it
/// already replaced (their blocks were handed to the successor).
/// </summary>
public sealed record UpdatePortBlocks(string Gateway, int Bucket, long GatewayIncarnation, long EntityIncarnation, ImmutableArray<PortBlockLeases> Returned, ImmutableArray<SpareBlocks> Wanted) : IFlowCacheMessage;

/// <summary>
/// Entity → gateway: connections idle past their timeout as far as the entity can tell (it sees
/// only misses; hits happen in the gateway). The gateway answers <see cref="ConnectionsChecked"/>.
/// </summary>
public sealed record CheckConnections(string Gateway, int Bucket, ImmutableArray<FlowConnection> Connections) : IFlowCacheMessage;

/// <summary>
/// Gateway → entity: how long each connection has been idle at the gateway, in milliseconds
/// (-1: it has no such connection any more), and its state there (Fabric.Actors ConnectionState).
/// </summary>
public sealed record ConnectionsChecked(string Gateway, int Bucket, ImmutableArray<FlowConnection> Connections, ImmutableArray<long> IdleMs, ImmutableArray<byte> States) : IFlowCacheMessage;

/// <summary>
/// Gateway → entity: TCP connections whose FIN or RST the gateway tracked on cached packets (it
/// forwards them at once and tells the entity after the batch): their new state and which sides
/// sent a FIN. A closed one keeps its binding for the closed hold from when the entity hears of it.
/// </summary>
public sealed record ConnectionsUpdated(string Gateway, int Bucket, ImmutableArray<ConnectionUpdate> Updates) : IFlowCacheMessage;

public sealed record ConnectionUpdate(FlowConnection Connection, byte State, bool FinFromInside, bool FinFromOutside) : IFabricMessage;

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

/// <summary>
/// The entity has no configuration of that generation (it just started or moved): send
/// <see cref="ConfigureFlowCache"/>; with <paramref name="Fresh"/> it holds no state yet and
/// waits for a restore (leases and connections) before resolving anything.
/// </summary>
public sealed record FlowCacheNeedsConfig(string Gateway, int Bucket, uint Generation, bool Fresh = false) : IFlowCacheMessage;

/// <summary>
/// What the stages decided for one miss, in the shape the gateway synthesizes its local cache
/// entries from (numbers are the Fabric.Actors enums: StageVerdict, GatewayDrop, RejectKind,
/// RewriteFields, ConnectionState; bit i of StageMask = GatewayStage i ran). <see cref="Reply"/> is the reply direction's entry made with
/// the first packet, when there is one. <see cref="ConnectionState"/> 255 = no tracked connection.
/// <see cref="Consulted"/>: the Fabric.Actors FlowFields the stages read (the megaflow mask); 0 = unknown, cache exact.
/// <see cref="StageTally"/>: one number per stage run, in order (Fabric.Actors StageTally: stage, verdict and the item of its
/// table that decided), which the gateway counts into its stage tables; empty = not counted.
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
    ushort Consulted = 0,
    ImmutableArray<uint> StageTally = default) : IFabricMessage;

/// <summary>Rewrites and output of one synthesized entry.</summary>
public sealed record FlowRewrite(byte Fields, uint SourceAddress, uint DestinationAddress, ushort SourcePort, ushort DestinationPort, ushort OutPort, byte Stages) : IFabricMessage;

/// <summary>A tracked connection, named from the inside, with its SNAT binding's external endpoint (0 = none).</summary>
public sealed record FlowConnection(uint Tenant, byte Protocol, uint InsideAddress, ushort InsidePort, uint RemoteAddress, ushort RemotePort, bool FromInside,
    uint ExternalAddress = 0, ushort ExternalPort = 0) : IFabricMessage;

/// <summary>Ask a flow-cache entity for its statistics; replies <see cref="FlowCacheEntityStats"/>.</summary>
public sealed record GetFlowCacheStats(string Gateway, int Bucket) : IFlowCacheMessage;

/// <summary>One entity's state: where it runs, what it owns, how much it resolved.</summary>
public sealed record FlowCacheEntityStats(
    string Gateway, int Bucket, string Node, uint Generation, int NatBindings, int Connections, long Resolved, long Batches, DateTimeOffset Started,
    int PortBlocks = 0, int SpareBlocks = 0, long BindingsCreated = 0, long BindingsReleased = 0, long PortsExhausted = 0, long ConnectionsExpired = 0,
    int MappingsRemembered = 0, long MappingsRevived = 0, long MappingsReclaimed = 0) : IFlowCacheMessage;
