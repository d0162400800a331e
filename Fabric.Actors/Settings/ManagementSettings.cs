namespace Fabric.Actors.Settings;

/// <summary>
/// The management API's settings (<c>fabric.management</c>; each key commented in hocon/fabric.conf
/// with its default and unit). Read by <see cref="FabricSettings"/> before the node starts.
/// </summary>
public sealed record ManagementSettings(
    TimeSpan ProposeTimeout,
    TimeSpan LookupTimeout,
    TimeSpan AskTimeout,
    TimeSpan HealthTimeout,
    int LogLines,
    TimeSpan ScrapeTimeout)
{
    /// <summary>How much earlier than <see cref="ProposeTimeout"/> the store must have read a proposal (<c>propose-margin</c>).</summary>
    public required TimeSpan ProposeMargin { get; init; }

    /// <summary>How long the intent and change routes wait for the config store or the guardian (<c>store-timeout</c>).</summary>
    public required TimeSpan StoreTimeout { get; init; }

    /// <summary>How long GET /gateways/NAME waits for each flow-cache entity's figures (<c>entity-timeout</c>).</summary>
    public required TimeSpan EntityTimeout { get; init; }

    /// <summary>How often the live status line is printed while the node runs on a terminal (<c>live-status-interval</c>).</summary>
    public required TimeSpan LiveStatusInterval { get; init; }

    /// <summary>How long an idle management connection stays open (Kestrel's keep-alive timeout; <c>keep-alive-timeout</c>).</summary>
    public required TimeSpan KeepAliveTimeout { get; init; }

    /// <summary>How long a client may take to send a request's headers (Kestrel's; <c>request-headers-timeout</c>).</summary>
    public required TimeSpan RequestHeadersTimeout { get; init; }

    /// <summary>How long <c>--intent FILE</c> waits for as many Up members as the intent names nodes before proposing it (<c>intent-file-wait</c>; zero = at once).</summary>
    public required TimeSpan IntentFileWait { get; init; }

    public static ManagementSettings Default => FabricSettings.Default.Management;

    internal static ManagementSettings Read(SettingsReader r) => new(
        r.Interval("propose-timeout"),
        r.Interval("lookup-timeout"),
        r.Interval("ask-timeout"),
        r.Interval("health-timeout"),
        r.Int("log-lines", 1, 1_000_000),
        r.Interval("scrape-timeout"))
    {
        ProposeMargin = r.NonNegativeDuration("propose-margin"),
        StoreTimeout = r.Interval("store-timeout"),
        EntityTimeout = r.Interval("entity-timeout"),
        LiveStatusInterval = r.Interval("live-status-interval"),
        KeepAliveTimeout = r.Interval("keep-alive-timeout"),
        RequestHeadersTimeout = r.Interval("request-headers-timeout"),
        IntentFileWait = r.NonNegativeDuration("intent-file-wait"),
    };
}

/// <summary>Cluster Bootstrap through the Kubernetes API (<c>fabric.discovery.kubernetes</c>).</summary>
public sealed record KubernetesDiscoverySettings(string PortName, int RequiredContactPoints)
{
    internal static KubernetesDiscoverySettings Read(SettingsReader r) => new(r.Text("port-name"), r.Positive("required-contact-points"));
}

/// <summary>TAP ports (<c>fabric.tap</c>): offloads, whether devices the node creates outlive it, and whether a batch's writes go to the kernel through io_uring.</summary>
public sealed record TapSettings(bool Offloads, bool Persistent, bool IoUring, int TxQueueLength = 0)
{
    internal static TapSettings Read(SettingsReader r) => new(r.Flag("offloads"), r.Flag("persistent"), r.Flag("io-uring"), r.Int("tx-queue-length", 0, 1_000_000));
}
