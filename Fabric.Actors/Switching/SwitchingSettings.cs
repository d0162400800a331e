using Fabric.Actors.Settings;

namespace Fabric.Actors.Switching;

/// <summary>The <c>fabric.switching</c> section of the node's hocon (each key commented there), read once as part of <see cref="FabricSettings"/>.</summary>
/// <param name="GhostGenevePort">The ghost copies' overlay port (hocon 0 = <paramref name="GenevePort"/> + 1).</param>
public sealed record SwitchingSettings(ushort GenevePort, ushort GhostGenevePort)
{
    /// <summary>First delay before a VNIC port that failed to open (or went away) is opened again; it doubles up to <see cref="VnicRetryMax"/>.</summary>
    public required TimeSpan VnicRetryMin { get; init; }

    public required TimeSpan VnicRetryMax { get; init; }

    /// <summary>Most tenant-isolation probes (container pairs of different tenants) one ghost verification sends.</summary>
    public required int GhostIsolationProbes { get; init; }

    /// <summary>Idle packet batches each plane's pool keeps for its MFEs (main and ghost).</summary>
    public required int PoolRetainedBatches { get; init; }

    public static SwitchingSettings Default => FabricSettings.Default.Switching;

    internal static SwitchingSettings Read(SettingsReader r)
    {
        var port = r.Port("geneve-port");
        var ghost = r.Int("ghost-geneve-port", 0, 65_535);
        if (ghost == 0) ghost = port == 65_535 ? port - 1 : port + 1;
        r.Require(ghost != port, "ghost-geneve-port", $"must be a UDP port other than geneve-port ({port})");
        var settings = new SwitchingSettings(port, (ushort)ghost)
        {
            VnicRetryMin = r.Interval("vnic-retry-min"),
            VnicRetryMax = r.Interval("vnic-retry-max"),
            GhostIsolationProbes = r.Int("ghost-isolation-probes", 0, 100_000),
            PoolRetainedBatches = r.Positive("pool-retained-batches"),
        };
        r.Require(settings.VnicRetryMax >= settings.VnicRetryMin, "vnic-retry-max", "must be >= vnic-retry-min");
        return settings;
    }
}
