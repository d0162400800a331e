using System.Collections.Concurrent;
using Fabric.Actors.DataPlane.Io;

namespace Fabric.Actors.Guardian;

/// <summary>
/// A node's ghost network, as the capabilities see it (ghost routing): the element kinds that run
/// ghost copies (each capability registers one beside its main kind, built on ghost ports), the
/// ghost ports by attachment point, the tracer every ghost element reports probes to, and the
/// capabilities' ghost node objects (for status). The ghost-shadow actor reconciles
/// <see cref="Kinds"/> to the intent under test exactly as the guardian reconciles the main kinds.
/// </summary>
public sealed class GhostPlaneContext(IHopTracer tracer, ushort pwUnderlayPort) : IDisposable
{
    private readonly ConcurrentDictionary<Type, object> _published = new();

    public ElementKindRegistry Kinds { get; } = new();

    /// <summary>Each capability's liveness of its ghost links (up, total), e.g. ghost PWs' BFD sessions: the verifier waits for them.</summary>
    public List<Func<(int Up, int Total)>> Liveness { get; } = [];

    /// <summary>Each capability's pace of its ghost links' liveness (<see cref="GhostLivenessPace"/>).</summary>
    public List<GhostLivenessPace> LivenessPace { get; } = [];

    /// <summary>Each capability's resolver of its check ends and its implicit probes.</summary>
    public List<IGhostAttachments> Attachments { get; } = [];

    public GhostPortSet Ports { get; } = new(tracer);

    /// <summary>The ghost plane's links between elements of this node (a ghost gateway's router port and the ghost MFE carrying it).</summary>
    public PatchPanel Patches { get; } = new();

    public IHopTracer Tracer => tracer;

    /// <summary>UDP port of the ghost PW underlay (main: 6635).</summary>
    public ushort PwUnderlayPort => pwUnderlayPort;

    /// <summary>A capability's ghost node object (e.g. the ghost PseudowireNode), for the verifier's status.</summary>
    public void Publish<T>(T node) where T : class => _published[typeof(T)] = node;

    public T? Get<T>() where T : class => _published.TryGetValue(typeof(T), out var o) ? (T)o : null;

    /// <summary>Closes the capabilities' ghost node objects (their ghost underlay sockets).</summary>
    public void Dispose()
    {
        foreach (var o in _published.Values) (o as IDisposable)?.Dispose();
        _published.Clear();
    }

    /// <summary>Key of a gateway tenant's ghost port (<paramref name="role"/>: downlink or uplink).</summary>
    public static string GatewayPortKey(string gateway, string tenant, string role) => $"gw:{gateway}/{tenant}/{role}";
}

/// <summary>
/// A capability's pace of its ghost links' liveness: <paramref name="SetQuiet"/> between
/// verifications (true = hellos less often); <paramref name="SetUrgent"/> names the links a
/// verification is about to judge (they run at their intent intervals; empty: none);
/// <paramref name="LongestDetection"/> is the longest time one of its links that is up can go on
/// reading up after its other end went silent (the verifier waits that long before it judges).
/// </summary>
public sealed record GhostLivenessPace(Action<bool> SetQuiet, Action<IReadOnlySet<string>> SetUrgent, Func<TimeSpan> LongestDetection);
