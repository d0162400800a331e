using Akka.Configuration;

namespace Fabric.Actors.Ghost;

/// <summary>The <c>fabric.ghost</c> section of the node's hocon, read once (keys and defaults: hocon/fabric.conf).</summary>
public sealed record GhostSettings(ushort PwUnderlayPort, TimeSpan IdentityInterval, TimeSpan IdentifyWait)
{
    public static readonly GhostSettings Default = new(6636, TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(300));

    /// <summary>Longest wait without progress, after an apply, for the probes' ports to open and the ghost PWs to come up.</summary>
    public TimeSpan ReadinessTimeout { get; init; } = TimeSpan.FromSeconds(8);

    /// <summary>Longest wait for readiness, progress or not.</summary>
    public TimeSpan ReadinessMax { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>Once some probes have no end yet (delivered or dropped), how long no new hop may appear before they count as lost.</summary>
    public TimeSpan ProbeQuiet { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest wait for one round of probes.</summary>
    public TimeSpan ProbeMaxWait { get; init; } = TimeSpan.FromSeconds(6);

    /// <summary>Most probes injected at once; the next wave goes when these have ended (or gone quiet for <see cref="ProbeWaveQuiet"/>).</summary>
    public int ProbeWave { get; init; } = 2048;

    /// <summary>How long a wave's probes may add no hop before the next wave goes anyway.</summary>
    public TimeSpan ProbeWaveQuiet { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>How long after the last verifier request the ghost copy goes quiet (its links' liveness slower); zero = never.</summary>
    public TimeSpan QuietAfter { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How a ghost element that failed to start is started again: as main's (<c>fabric.elements</c>).</summary>
    public Guardian.ElementRestartSettings ElementRestart { get; init; } = Guardian.ElementRestartSettings.Default;

    public static GhostSettings From(Akka.Configuration.Config config)
    {
        var c = config.GetConfig("fabric.ghost");
        if (c is null || c.IsEmpty) return Default;
        return new GhostSettings(
            (ushort)c.GetInt("pw-underlay-port", Default.PwUnderlayPort),
            c.GetTimeSpan("identity-interval", Default.IdentityInterval),
            c.GetTimeSpan("identify-wait", Default.IdentifyWait))
        {
            ReadinessTimeout = c.GetTimeSpan("readiness-timeout", Default.ReadinessTimeout),
            ReadinessMax = c.GetTimeSpan("readiness-max", Default.ReadinessMax),
            ProbeQuiet = c.GetTimeSpan("probe-quiet", Default.ProbeQuiet),
            ProbeMaxWait = c.GetTimeSpan("probe-max-wait", Default.ProbeMaxWait),
            ProbeWave = c.GetInt("probe-wave", Default.ProbeWave),
            ProbeWaveQuiet = c.GetTimeSpan("probe-wave-quiet", Default.ProbeWaveQuiet),
            QuietAfter = c.GetTimeSpan("quiet-after", Default.QuietAfter),
        };
    }
}
