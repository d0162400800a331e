namespace Fabric.Node.Management;

/// <summary>The management API's settings, read once from <c>fabric.management</c> (hocon/fabric.conf).</summary>
public sealed record ManagementSettings(TimeSpan ProposeTimeout, TimeSpan LookupTimeout)
{
    public static ManagementSettings Default { get; } = new(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(3));

    public static ManagementSettings From(Akka.Configuration.Config config)
    {
        var section = config.GetConfig("fabric.management");
        if (section is null || section.IsEmpty) return Default;
        var settings = new ManagementSettings(
            section.GetTimeSpan("propose-timeout", Default.ProposeTimeout),
            section.GetTimeSpan("lookup-timeout", Default.LookupTimeout));
        if (settings.ProposeTimeout <= TimeSpan.Zero || settings.LookupTimeout <= TimeSpan.Zero)
            throw new ArgumentException("fabric.management.propose-timeout and lookup-timeout must be > 0");
        return settings;
    }
}
