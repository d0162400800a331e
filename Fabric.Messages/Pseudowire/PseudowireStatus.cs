using System.Collections.Immutable;

namespace Fabric.Messages.Pseudowire;

/// <summary>One PW's configuration, liveness and counters, as management shows it.</summary>
public sealed record PwStatus(
    string Name,
    string Pe,
    string RemotePe,
    string? Trunk,
    uint LocalLabel,
    uint RemoteLabel,
    bool ControlWord,
    bool FlowLabel,
    int Weight,
    string Remote,
    string State,
    long Transitions,
    long TxFrames,
    long TxBytes,
    long RxFrames,
    long RxBytes,
    long RxReordered,
    long RxLost,
    long RxMalformed,
    long HellosSent,
    long HellosReceived,
    long FaultDrops,
    double HelloIntervalMs = 0,
    double TxIntervalMs = 0);

/// <summary>A trunk member: its state and its share of what the trunk sent.</summary>
public sealed record TrunkMemberStatus(
    string Pw,
    int Weight,
    string State,
    bool Active,
    long TxFrames,
    long TxBytes,
    double FrameShare,
    double ByteShare,
    long Transitions,
    int LiveFlows = 0);

/// <summary>A PW trunk interface.</summary>
public sealed record TrunkStatus(
    string Name,
    string Pe,
    string AttachmentCircuit,
    string Mode,
    int MinActive,
    int Active,
    string State,
    long Transitions,
    long MemberTransitions,
    long TrunkDownDrops,
    ImmutableArray<TrunkMemberStatus> Members,
    string Balance = "hash",
    long FlowsAssigned = 0,
    long FlowIdleMoves = 0,
    long FlowFailovers = 0,
    long FlowLiveEvictions = 0);

/// <summary>
/// An attachment circuit and its port. A circuit whose port could not be opened is listed with
/// <paramref name="PortState"/> "restarting" and why in <paramref name="LastError"/> (retried with backoff).
/// </summary>
public sealed record AttachmentCircuitStatus(
    string Name,
    string PortKind,
    string Port,
    string PortState,
    long RxFrames,
    long TxFrames,
    long PortDrops,
    long NoTrunkDrops,
    string? LastError = null);

/// <summary>
/// A PE with its attachment circuits, trunks and PWs. A PE whose actor failed to start (e.g. its
/// underlay address is held by another process) is listed with <paramref name="State"/>
/// "restarting" and why in <paramref name="LastError"/>, retried with backoff by the node's guardian.
/// </summary>
public sealed record PeStatus(
    string Name,
    string Node,
    string RouterId,
    string Underlay,
    ImmutableArray<AttachmentCircuitStatus> AttachmentCircuits,
    ImmutableArray<string> Trunks,
    ImmutableArray<string> Pws,
    string State = "running",
    string? LastError = null,
    int StartFailures = 0);
