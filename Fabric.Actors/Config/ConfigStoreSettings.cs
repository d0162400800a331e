using Fabric.Actors.Settings;

namespace Fabric.Actors.Config;

/// <summary>The config store's settings, read once from <c>fabric.config-store</c> (hocon/fabric.conf, each key commented there).</summary>
public sealed record ConfigStoreSettings(int SnapshotEvery, TimeSpan RepublishInterval, TimeSpan AdoptWait)
{
    /// <summary>Changes the store keeps in memory for GET /changes (older ones stay in the journal).</summary>
    public required int RetainedChanges { get; init; }

    /// <summary>... and at most this many bytes of their documents (the oldest decided ones go first).</summary>
    public required long RetainedBytes { get; init; }

    /// <summary>Abandoned proposal attempts the store remembers, so a late one is still refused.</summary>
    public required int AbandonedAttemptsKept { get; init; }

    /// <summary>Ghost verification progress lines kept per pending change.</summary>
    public required int ProgressLines { get; init; }

    /// <summary>Pending changes whose progress lines are kept (the oldest are forgotten first).</summary>
    public required int ProgressChanges { get; init; }

    public static ConfigStoreSettings Default => FabricSettings.Default.ConfigStore;

    internal static ConfigStoreSettings Read(SettingsReader r) => new(
        r.Positive("snapshot-every"),
        r.Interval("republish-interval"),
        r.NonNegativeDuration("adopt-wait"))
    {
        RetainedChanges = r.Positive("retained-changes"),
        RetainedBytes = r.Bytes("retained-bytes", 1),
        AbandonedAttemptsKept = r.Positive("abandoned-attempts-kept"),
        ProgressLines = r.Positive("progress-lines"),
        ProgressChanges = r.Positive("progress-changes"),
    };
}
