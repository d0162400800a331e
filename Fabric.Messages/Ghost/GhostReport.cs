using System.Collections.Immutable;

namespace Fabric.Messages.Ghost;

/// <summary>
/// One thing the ghost verifier found. <paramref name="Check"/> is a declared check's name or an
/// implicit check's (<c>tenant-isolation</c>, <c>trunk-members</c>, <c>pw-remote-pe</c>,
/// <c>dnat-reachable</c>, <c>no-loops</c>, <c>ghost-placement</c>); <paramref name="Reason"/> one
/// sentence; <paramref name="Path"/> the hops of the failing probe, in order.
/// </summary>
public sealed record GhostFinding(string Check, string Reason, ImmutableArray<string> Path) : IFabricMessage;

/// <summary>A probe whose outcome differs between the current main intent and the proposal.</summary>
public sealed record ProbeDiff(string Probe, string Before, string After) : IFabricMessage;

/// <summary>
/// The ghost verifier's report on a change: findings (empty = verified), the differential
/// reachability against main, where each ghost copy ran, and counts.
/// </summary>
public sealed record GhostReport(
    bool Verified,
    ImmutableArray<GhostFinding> Findings,
    ImmutableArray<ProbeDiff> Diff,
    ImmutableArray<string> Placement,
    int Probes,
    int ChecksPassed,
    int ChecksFailed,
    double Seconds) : IFabricMessage;
