using Fabric.Actors.Settings;

namespace Fabric.Actors.Gateway;

/// <summary>
/// SNAT port allocation (hocon <c>fabric.gateway.nat</c>). A host gets port blocks of
/// <see cref="PortBlockSize"/> ports on demand (at most <see cref="MaxBlocksPerHost"/>); each
/// flow-cache bucket keeps <see cref="SpareBlocks"/> blocks leased ahead so a new host or a full
/// host never waits for the gateway. A TCP binding its last connection let go stays reserved for
/// its inside endpoint for <see cref="TcpMappingMemory"/> (zero = freed at once), so that endpoint's
/// next connection leaves from the same external port (<see cref="NatTable"/>).
/// </summary>
public sealed record NatSettings(int PortBlockSize, int MaxBlocksPerHost, int SpareBlocks, TimeSpan TcpMappingMemory = default)
{
    public static NatSettings Default => GatewaySettings.Default.Nat;
}

/// <summary>
/// Connection tracking (hocon <c>fabric.gateway.conntrack</c>): idle timeouts per state, and how
/// long a closed TCP connection (RST, or both FINs) keeps its NAT binding for its last ACK or a
/// retransmitted FIN before the port can be reused.
/// </summary>
public sealed record ConntrackSettings(TimeSpan TcpNew, TimeSpan TcpEstablished, TimeSpan TcpClosing, TimeSpan TcpClosedHold, TimeSpan Datagram)
{
    public static ConntrackSettings Default => GatewaySettings.Default.Conntrack;

    public long TcpNewMs => (long)TcpNew.TotalMilliseconds;
    public long TcpEstablishedMs => (long)TcpEstablished.TotalMilliseconds;
    public long TcpClosingMs => (long)TcpClosing.TotalMilliseconds;
    public long TcpClosedHoldMs => (long)TcpClosedHold.TotalMilliseconds;
    public long DatagramMs => (long)Datagram.TotalMilliseconds;
}

/// <summary>
/// A port that fails or goes away is re-opened after <see cref="MinBackoff"/>, doubling up to
/// <see cref="MaxBackoff"/>; one that then stays up <see cref="StableAfter"/> starts over
/// (hocon <c>fabric.gateway.port-restart</c>).
/// </summary>
public sealed record PortRestartSettings(TimeSpan MinBackoff, TimeSpan MaxBackoff, TimeSpan StableAfter)
{
    public PortRestartPolicy NewPolicy() => new(MinBackoff, MaxBackoff, StableAfter);
}

/// <summary>
/// A gateway's settings, read once from <c>fabric.gateway</c> (hocon/fabric.conf, each key
/// commented there) as part of <see cref="FabricSettings"/>; the data path reads the fields, never
/// the configuration.
/// </summary>
public sealed record GatewaySettings(NatSettings Nat, ConntrackSettings Conntrack, TimeSpan SweepInterval, TimeSpan ResolverTimeout, int ResolverBacklog)
{
    public static GatewaySettings Default => FabricSettings.Default.Gateway;

    /// <summary>Longest a port's receive thread waits for the data path before dropping its batch at ingress (hocon <c>ingress-wait</c>).</summary>
    public required TimeSpan IngressWait { get; init; }

    /// <summary>MTU of a gateway port whose intent names none (hocon <c>port-mtu</c>); a TAP port's device is given it.</summary>
    public required int PortMtu { get; init; }

    /// <summary>
    /// ICMP errors the gateway sends (time exceeded, unreachable, fragmentation needed): a token
    /// bucket of <see cref="IcmpErrorBurst"/> refilled at <see cref="IcmpErrorsPerSecond"/>
    /// (hocon <c>icmp-errors.rate</c>, <c>icmp-errors.burst</c>; Linux's icmp_msgs_per_sec and icmp_msgs_burst).
    /// </summary>
    public required int IcmpErrorsPerSecond { get; init; }

    public required int IcmpErrorBurst { get; init; }

    /// <summary>Flow-cache buckets (sharding entities, and shards of the local cache) per gateway (hocon <c>buckets</c>).</summary>
    public required int Buckets { get; init; }

    /// <summary>Flows each bucket's cache holds (hocon <c>cache.flows-per-bucket</c>).</summary>
    public required int CacheFlowsPerBucket { get; init; }

    /// <summary>A cache entry not hit for this long is dropped (hocon <c>cache.idle-timeout</c>).</summary>
    public required TimeSpan CacheIdleTimeout { get; init; }

    /// <summary>Most distinct megaflow masks per bucket; entries with a further mask are installed exact (hocon <c>cache.max-masks</c>).</summary>
    public required int CacheMaxMasks { get; init; }

    /// <summary>How often the ports' states are checked while a port's supervision is unsettled (a port that went away says so itself; hocon <c>port-check-interval</c>).</summary>
    public required TimeSpan PortCheckInterval { get; init; }

    /// <summary>First wait before an unanswered next hop is asked for again with ARP; doubles up to <see cref="NeighborRetryMax"/> (hocon <c>neighbor-retry-min</c>).</summary>
    public required TimeSpan NeighborRetryMin { get; init; }

    /// <summary>Longest wait between ARP requests for an unanswered next hop (hocon <c>neighbor-retry-max</c>).</summary>
    public required TimeSpan NeighborRetryMax { get; init; }

    /// <summary>How long a reconfiguration waits for the tenants' stage actors to publish their tables before the gateway builds the missing ones itself (hocon <c>stage-build-timeout</c>).</summary>
    public required TimeSpan StageBuildTimeout { get; init; }

    /// <summary>Idle packet batches the gateway's pool keeps for its ports' receive threads and output (hocon <c>pool-retained-batches</c>).</summary>
    public required int PoolRetainedBatches { get; init; }

    /// <summary>
    /// TCP super-frames from offloading TAPs cross the gateway whole on a plain flow-cache hit (hocon
    /// <c>super-frames</c>): each pool batch then pins one 64 KiB super-frame room more.
    /// </summary>
    public required bool SuperFrames { get; init; }

    /// <summary>Re-opening a port that failed (hocon <c>port-restart</c>).</summary>
    public required PortRestartSettings PortRestart { get; init; }

    public long SweepIntervalMs => Math.Max(1, (long)SweepInterval.TotalMilliseconds);

    public long CacheIdleTimeoutMs => (long)CacheIdleTimeout.TotalMilliseconds;

    /// <summary>Reads <c>fabric.gateway</c> of <paramref name="config"/> over the shipped file (as <see cref="FabricSettings.From"/> does).</summary>
    public static GatewaySettings From(Akka.Configuration.Config config) => Read(FabricSettings.Reader(config).Section("gateway"));

    internal static GatewaySettings Read(SettingsReader g)
    {
        var natSection = g.Section("nat");
        var nat = new NatSettings(
            natSection.Int("port-block-size", 16, SnatPlan.PortsPerAddress),
            natSection.Positive("max-blocks-per-host"),
            natSection.Positive("spare-blocks"),
            natSection.NonNegativeDuration("tcp-mapping-memory"));
        var c = g.Section("conntrack");
        var ct = new ConntrackSettings(
            c.Interval("tcp-new-timeout"),
            c.Interval("tcp-established-timeout"),
            c.Interval("tcp-closing-timeout"),
            c.NonNegativeDuration("tcp-closed-hold"),
            c.Interval("datagram-timeout"));
        var resolver = g.Section("resolver");
        var icmp = g.Section("icmp-errors");
        var cache = g.Section("cache");
        var restart = g.Section("port-restart");
        var settings = new GatewaySettings(nat, ct, g.Interval("sweep-interval"), resolver.Interval("timeout"), resolver.Positive("backlog"))
        {
            IngressWait = g.NonNegativeDuration("ingress-wait"),
            PortMtu = g.Int("port-mtu", 68, 65_535),
            IcmpErrorsPerSecond = icmp.Int("rate", 0, int.MaxValue),
            IcmpErrorBurst = icmp.Positive("burst"),
            Buckets = g.Int("buckets", 1, 1024),
            CacheFlowsPerBucket = cache.Int("flows-per-bucket", 16, 1 << 24),
            CacheIdleTimeout = cache.Interval("idle-timeout"),
            CacheMaxMasks = cache.Int("max-masks", 1, 256),
            PortCheckInterval = g.Interval("port-check-interval"),
            NeighborRetryMin = g.Interval("neighbor-retry-min"),
            NeighborRetryMax = g.Interval("neighbor-retry-max"),
            StageBuildTimeout = g.Interval("stage-build-timeout"),
            PoolRetainedBatches = g.Positive("pool-retained-batches"),
            SuperFrames = g.Flag("super-frames"),
            PortRestart = new PortRestartSettings(restart.Interval("min-backoff"), restart.Interval("max-backoff"), restart.NonNegativeDuration("stable-after")),
        };
        restart.Require(settings.PortRestart.MaxBackoff >= settings.PortRestart.MinBackoff, "max-backoff", "must be >= min-backoff");
        g.Require(settings.NeighborRetryMax >= settings.NeighborRetryMin, "neighbor-retry-max", "must be >= neighbor-retry-min");
        return settings;
    }

    /// <summary>What a flow-cache entity needs of these settings (it decides with its gateway's, wherever it runs).</summary>
    public Fabric.Messages.Gateway.FlowCacheSettings ToMessage() => new(
        Nat.PortBlockSize, Nat.MaxBlocksPerHost, Nat.SpareBlocks,
        Conntrack.TcpNewMs, Conntrack.TcpEstablishedMs, Conntrack.TcpClosingMs, Conntrack.TcpClosedHoldMs, Conntrack.DatagramMs, SweepIntervalMs,
        (long)Nat.TcpMappingMemory.TotalMilliseconds);

    public static GatewaySettings FromMessage(Fabric.Messages.Gateway.FlowCacheSettings m) => Default with
    {
        Nat = new NatSettings(m.PortBlockSize, m.MaxBlocksPerHost, m.SpareBlocks, TimeSpan.FromMilliseconds(m.TcpMappingMemoryMs)),
        Conntrack = new ConntrackSettings(
            TimeSpan.FromMilliseconds(m.TcpNewMs), TimeSpan.FromMilliseconds(m.TcpEstablishedMs), TimeSpan.FromMilliseconds(m.TcpClosingMs),
            TimeSpan.FromMilliseconds(m.TcpClosedHoldMs), TimeSpan.FromMilliseconds(m.DatagramMs)),
        SweepInterval = TimeSpan.FromMilliseconds(m.SweepIntervalMs),
    };
}
