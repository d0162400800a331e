using Akka.Actor;

namespace Fabric.Actors.Gateway;

/// <summary>
/// SNAT port allocation (hocon <c>fabric.gateway.nat</c>). A host gets port blocks of
/// <see cref="PortBlockSize"/> ports on demand (at most <see cref="MaxBlocksPerHost"/>); each
/// flow-cache bucket keeps <see cref="SpareBlocks"/> blocks leased ahead so a new host or a full
/// host never waits for the gateway.
/// </summary>
public sealed record NatSettings(int PortBlockSize, int MaxBlocksPerHost, int SpareBlocks)
{
    public static NatSettings Default { get; } = new(256, 128, 2);
}

/// <summary>
/// Connection tracking (hocon <c>fabric.gateway.conntrack</c>): idle timeouts per state, and how
/// long a closed TCP connection (RST, or both FINs) keeps its NAT binding for its last ACK or a
/// retransmitted FIN before the port can be reused.
/// </summary>
public sealed record ConntrackSettings(TimeSpan TcpNew, TimeSpan TcpEstablished, TimeSpan TcpClosing, TimeSpan TcpClosedHold, TimeSpan Datagram)
{
    public static ConntrackSettings Default { get; } = new(
        TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(5), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(30));

    public long TcpNewMs => (long)TcpNew.TotalMilliseconds;
    public long TcpEstablishedMs => (long)TcpEstablished.TotalMilliseconds;
    public long TcpClosingMs => (long)TcpClosing.TotalMilliseconds;
    public long TcpClosedHoldMs => (long)TcpClosedHold.TotalMilliseconds;
    public long DatagramMs => (long)Datagram.TotalMilliseconds;
}

/// <summary>
/// A gateway's settings, read once from <c>fabric.gateway</c> (hocon/fabric.conf) into this
/// immutable object (<see cref="For"/>); the data path reads the fields, never the configuration.
/// </summary>
public sealed record GatewaySettings(NatSettings Nat, ConntrackSettings Conntrack, TimeSpan SweepInterval, TimeSpan ResolverTimeout, int ResolverBacklog)
{
    public static GatewaySettings Default { get; } = new(NatSettings.Default, ConntrackSettings.Default, TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(3), 8192);

    /// <summary>Longest a port's receive thread waits for the data path before dropping its batch at ingress (hocon <c>ingress-wait</c>).</summary>
    public TimeSpan IngressWait { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>MTU of a gateway port whose intent names none (hocon <c>port-mtu</c>); a TAP port's device is given it.</summary>
    public int PortMtu { get; init; } = GatewayPlan.DefaultMtu;

    /// <summary>
    /// ICMP errors the gateway sends (time exceeded, unreachable, fragmentation needed): a token
    /// bucket of <see cref="IcmpErrorBurst"/> refilled at <see cref="IcmpErrorsPerSecond"/>
    /// (hocon <c>icmp-errors.rate</c>, <c>icmp-errors.burst</c>; Linux's icmp_msgs_per_sec and icmp_msgs_burst).
    /// </summary>
    public int IcmpErrorsPerSecond { get; init; } = 1000;

    public int IcmpErrorBurst { get; init; } = 50;

    public long SweepIntervalMs => Math.Max(1, (long)SweepInterval.TotalMilliseconds);

    public static GatewaySettings From(Akka.Configuration.Config config)
    {
        var g = config.GetConfig("fabric.gateway");
        if (g is null || g.IsEmpty) return Default;
        var d = Default;
        var nat = new NatSettings(
            g.GetInt("nat.port-block-size", d.Nat.PortBlockSize),
            g.GetInt("nat.max-blocks-per-host", d.Nat.MaxBlocksPerHost),
            g.GetInt("nat.spare-blocks", d.Nat.SpareBlocks));
        var ct = new ConntrackSettings(
            g.GetTimeSpan("conntrack.tcp-new-timeout", d.Conntrack.TcpNew),
            g.GetTimeSpan("conntrack.tcp-established-timeout", d.Conntrack.TcpEstablished),
            g.GetTimeSpan("conntrack.tcp-closing-timeout", d.Conntrack.TcpClosing),
            g.GetTimeSpan("conntrack.tcp-closed-hold", d.Conntrack.TcpClosedHold),
            g.GetTimeSpan("conntrack.datagram-timeout", d.Conntrack.Datagram));
        var settings = new GatewaySettings(nat, ct,
            g.GetTimeSpan("sweep-interval", d.SweepInterval),
            g.GetTimeSpan("resolver.timeout", d.ResolverTimeout),
            g.GetInt("resolver.backlog", d.ResolverBacklog))
        {
            IngressWait = g.GetTimeSpan("ingress-wait", d.IngressWait),
            PortMtu = g.GetInt("port-mtu", d.PortMtu),
            IcmpErrorsPerSecond = g.GetInt("icmp-errors.rate", d.IcmpErrorsPerSecond),
            IcmpErrorBurst = g.GetInt("icmp-errors.burst", d.IcmpErrorBurst),
        };
        settings.Validate();
        return settings;
    }

    public void Validate()
    {
        if (Nat.PortBlockSize is < 16 or > SnatPlan.PortsPerAddress) throw new ArgumentException($"fabric.gateway.nat.port-block-size must be 16..{SnatPlan.PortsPerAddress}, not {Nat.PortBlockSize}");
        if (Nat.MaxBlocksPerHost < 1) throw new ArgumentException("fabric.gateway.nat.max-blocks-per-host must be >= 1");
        if (Nat.SpareBlocks < 1) throw new ArgumentException("fabric.gateway.nat.spare-blocks must be >= 1");
        if (SweepInterval <= TimeSpan.Zero) throw new ArgumentException("fabric.gateway.sweep-interval must be > 0");
        if (ResolverBacklog < 1) throw new ArgumentException("fabric.gateway.resolver.backlog must be >= 1");
        if (IngressWait < TimeSpan.Zero) throw new ArgumentException("fabric.gateway.ingress-wait must be >= 0");
        if (PortMtu is < 68 or > 65_535) throw new ArgumentException($"fabric.gateway.port-mtu must be 68..65535, not {PortMtu}");
        if (IcmpErrorsPerSecond < 0) throw new ArgumentException("fabric.gateway.icmp-errors.rate must be >= 0");
        if (IcmpErrorBurst < 1) throw new ArgumentException("fabric.gateway.icmp-errors.burst must be >= 1");
    }

    /// <summary>What a flow-cache entity needs of these settings (it decides with its gateway's, wherever it runs).</summary>
    public Fabric.Messages.Gateway.FlowCacheSettings ToMessage() => new(
        Nat.PortBlockSize, Nat.MaxBlocksPerHost, Nat.SpareBlocks,
        Conntrack.TcpNewMs, Conntrack.TcpEstablishedMs, Conntrack.TcpClosingMs, Conntrack.TcpClosedHoldMs, Conntrack.DatagramMs, SweepIntervalMs);

    public static GatewaySettings FromMessage(Fabric.Messages.Gateway.FlowCacheSettings m) => Default with
    {
        Nat = new NatSettings(m.PortBlockSize, m.MaxBlocksPerHost, m.SpareBlocks),
        Conntrack = new ConntrackSettings(
            TimeSpan.FromMilliseconds(m.TcpNewMs), TimeSpan.FromMilliseconds(m.TcpEstablishedMs), TimeSpan.FromMilliseconds(m.TcpClosingMs),
            TimeSpan.FromMilliseconds(m.TcpClosedHoldMs), TimeSpan.FromMilliseconds(m.DatagramMs)),
        SweepInterval = TimeSpan.FromMilliseconds(m.SweepIntervalMs),
    };

    /// <summary>The settings of <paramref name="system"/>, read from its configuration the first time they are asked for.</summary>
    public static GatewaySettings For(ActorSystem system) => system.WithExtension<GatewaySettingsExtension, GatewaySettingsProvider>().Settings;
}

/// <summary>Holds a system's <see cref="GatewaySettings"/> (read once).</summary>
public sealed class GatewaySettingsExtension(GatewaySettings settings) : IExtension
{
    public GatewaySettings Settings { get; } = settings;
}

public sealed class GatewaySettingsProvider : ExtensionIdProvider<GatewaySettingsExtension>
{
    public override GatewaySettingsExtension CreateExtension(ExtendedActorSystem system) => new(GatewaySettings.From(system.Settings.Config));
}
