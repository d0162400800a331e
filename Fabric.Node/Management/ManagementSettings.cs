namespace Fabric.Node.Management;

/// <summary>
/// The management API's settings, read once from <c>fabric.management</c> (hocon/fabric.conf,
/// each key commented there with its default and unit).
/// </summary>
public sealed record ManagementSettings(
    TimeSpan ProposeTimeout,
    TimeSpan LookupTimeout,
    TimeSpan AskTimeout,
    TimeSpan HealthTimeout,
    int LogLines,
    TimeSpan ScrapeTimeout)
{
    public static ManagementSettings Default { get; } = new(
        TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(2), 2000, TimeSpan.FromSeconds(3));

    public static ManagementSettings From(Akka.Configuration.Config config)
    {
        var section = config.GetConfig("fabric.management");
        if (section is null || section.IsEmpty) return Default;
        var settings = new ManagementSettings(
            section.GetTimeSpan("propose-timeout", Default.ProposeTimeout),
            section.GetTimeSpan("lookup-timeout", Default.LookupTimeout),
            section.GetTimeSpan("ask-timeout", Default.AskTimeout),
            section.GetTimeSpan("health-timeout", Default.HealthTimeout),
            section.GetInt("log-lines", Default.LogLines),
            section.GetTimeSpan("scrape-timeout", Default.ScrapeTimeout));
        if (settings.ProposeTimeout <= TimeSpan.Zero || settings.LookupTimeout <= TimeSpan.Zero || settings.AskTimeout <= TimeSpan.Zero
            || settings.HealthTimeout <= TimeSpan.Zero || settings.ScrapeTimeout <= TimeSpan.Zero)
            throw new ArgumentException("fabric.management: propose-timeout, lookup-timeout, ask-timeout, health-timeout and scrape-timeout must be > 0");
        if (settings.LogLines is < 1 or > 1_000_000)
            throw new ArgumentException("fabric.management.log-lines must be 1..1000000");
        return settings;
    }
}
