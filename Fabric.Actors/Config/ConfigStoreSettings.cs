namespace Fabric.Actors.Config;

/// <summary>The config store's settings, read once from <c>fabric.config-store</c> (hocon/fabric.conf).</summary>
public sealed record ConfigStoreSettings(int SnapshotEvery, TimeSpan RepublishInterval, TimeSpan AdoptWait)
{
    public static ConfigStoreSettings Default { get; } = new(100, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(2));

    public static ConfigStoreSettings From(Akka.Configuration.Config config)
    {
        var section = config.GetConfig("fabric.config-store");
        if (section is null || section.IsEmpty) return Default;
        var settings = new ConfigStoreSettings(
            section.GetInt("snapshot-every", Default.SnapshotEvery),
            section.GetTimeSpan("republish-interval", Default.RepublishInterval),
            section.GetTimeSpan("adopt-wait", Default.AdoptWait));
        if (settings.SnapshotEvery < 1) throw new ArgumentException("fabric.config-store.snapshot-every must be >= 1");
        return settings;
    }
}
