using System.Collections.Immutable;

namespace Fabric.Messages.Ghost;

/// <summary>Marker of the messages between ghost-shadow nodes during a verification.</summary>
public interface IGhostMessage : IFabricMessage { }

/// <summary>Published to every fabric and ghost-shadow node: say who you are (replies <see cref="NodeIdentity"/>).</summary>
public sealed record IdentifyNodes(long Session) : IGhostMessage;

/// <summary>A node's name (as the intent calls it) and whether it runs ghost copies.</summary>
public sealed record NodeIdentity(long Session, string Node, bool GhostShadow) : IGhostMessage;

/// <summary>
/// Run these elements as the ghost copy (the intent as this node's ghost plane sees it: stand-in
/// nodes already folded in). <paramref name="UrgentPws"/>: the ghost PWs the verification judges
/// (both ends), to run at their intent intervals whatever the ghost hello budget does to the
/// others (default: none). Replies <see cref="GhostIntentApplied"/>.
/// </summary>
public sealed record ApplyGhostIntent(long Session, string Node, Intent.IntentDocument Intent, ImmutableArray<string> UrgentPws = default) : IGhostMessage;

/// <summary>
/// A node's ghost copy: elements running, ghost PWs up of total, which of the asked-for ports are
/// not open yet, and the longest time one of its ghost links that is up would go on reading up
/// after its other end went silent (its liveness detection time, long while the copy was quiet),
/// and the ghost elements whose actor failed to start, with why (retried with backoff meanwhile).
/// </summary>
public sealed record GhostIntentApplied(long Session, string Node, int Elements, int PwsUp, int PwsTotal, int PortsMissing = 0, double LongestDetectionMs = 0,
    ImmutableArray<Node.RestartingElement> NotStarted = default) : IGhostMessage;

/// <summary>
/// Asks for the ghost copy's readiness: PW liveness, and whether <paramref name="PortKeys"/> (the
/// ports probes will be injected into) are open. Replies <see cref="GhostIntentApplied"/>.
/// </summary>
public sealed record GetGhostReadiness(long Session, ImmutableArray<string> PortKeys) : IGhostMessage;

/// <summary>One probe frame for a ghost port of the receiving node.</summary>
public sealed record ProbeFrame(uint Id, string PortKey, byte[] Frame) : IGhostMessage;

/// <summary>Inject every frame into its ghost port. Replies <see cref="ProbesInjected"/>.</summary>
public sealed record InjectProbes(long Session, ImmutableArray<ProbeFrame> Frames) : IGhostMessage;

public sealed record ProbesInjected(long Session, string Node, int Injected, ImmutableArray<uint> NoPort) : IGhostMessage;

/// <summary>Asks for every hop recorded for probe ids in [First, Last]. Replies <see cref="ProbeHops"/>.</summary>
public sealed record CollectHops(long Session, uint First, uint Last) : IGhostMessage;

/// <summary>One hop of a probe: where (node, element) and what happened.</summary>
public sealed record ProbeHop(uint Id, string Node, string Element, string Detail, bool Dropped, long AtTicks) : IGhostMessage;

public sealed record ProbeHops(long Session, string Node, ImmutableArray<ProbeHop> Hops) : IGhostMessage;

/// <summary>
/// Asks how far the probes with ids in [First, Last] have got on the receiving node, without
/// their hops (the verifier polls this while it waits, and collects the hops once at the end).
/// Replies <see cref="HopCount"/>.
/// </summary>
public sealed record CountHops(long Session, uint First, uint Last) : IGhostMessage;

/// <summary>
/// Hops recorded on <paramref name="Node"/> for the asked ids, and which of those probes ended
/// there (dropped, or delivered): bit i of <paramref name="Ended"/> is id First + i.
/// </summary>
public sealed record HopCount(long Session, string Node, long Hops, byte[] Ended) : IGhostMessage;

/// <summary>Progress of a verification, kept by the config store for <c>change show</c> / <c>--wait</c>.</summary>
public sealed record VerificationProgress(long ChangeId, string Line) : Config.IConfigCommand;

/// <summary>Distributed pub-sub topics of the ghost network.</summary>
public static class GhostTopics
{
    /// <summary>Node identities (<see cref="NodeIdentity"/> heartbeats and <see cref="IdentifyNodes"/>): fabric and ghost-shadow nodes publish, ghost-shadow nodes listen.</summary>
    public const string Nodes = "fabric.nodes";
}
