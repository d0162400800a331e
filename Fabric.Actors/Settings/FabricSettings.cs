using Akka.Actor;
using Fabric.Actors.Cellular;
using Fabric.Actors.Config;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.Gateway;
using Fabric.Actors.Ghost;
using Fabric.Actors.Guardian;
using Fabric.Actors.Pseudowire;
using Fabric.Actors.Switching;
using Fabric.Messages.Intent;
using ConfigurationFactory = Akka.Configuration.ConfigurationFactory;
using Hocon = Akka.Configuration.Config;

namespace Fabric.Actors.Settings;

/// <summary>
/// Every node setting, read once from the <c>fabric</c> hocon block into one immutable record
/// (one sub-record per area), checked as it is read: a bad value stops the node at start with the
/// key and the reason (an <see cref="ArgumentException"/> from <see cref="SettingsReader"/>).
/// Defaults live only in hocon/fabric.conf, which is embedded in this assembly and is the fallback
/// of every read, so <see cref="Default"/> is that file. Actors get their area's record through <see cref="Get"/> (one Akka extension) or
/// their props; hot paths read its plain fields, never the configuration.
/// </summary>
public sealed record FabricSettings(
    IntentParseLimits Intent,
    ManagementSettings Management,
    KubernetesDiscoverySettings Kubernetes,
    ConfigStoreSettings ConfigStore,
    IoSettings Io,
    PseudowireSettings Pseudowire,
    GhostSettings Ghost,
    CellularSettings Cellular,
    GatewaySettings Gateway,
    SwitchingSettings Switching,
    TapSettings Tap,
    ElementRestartSettings Elements)
{
    private const string ResourceName = "Fabric.Actors.hocon.fabric.conf";

    /// <summary>hocon/fabric.conf as shipped (embedded in this assembly).</summary>
    public static Hocon Embedded { get; } = LoadEmbedded();

    /// <summary>The settings of the shipped hocon/fabric.conf.</summary>
    public static FabricSettings Default { get; } = From(Embedded);

    /// <summary>Reads and checks the <c>fabric</c> block of <paramref name="config"/>; keys it lacks keep the shipped value.</summary>
    public static FabricSettings From(Hocon config)
    {
        var fabric = Reader(config);
        var elements = ReadElements(fabric.Section("elements"));
        return new FabricSettings(
            ReadIntent(fabric.Section("intent")),
            ManagementSettings.Read(fabric.Section("management")),
            KubernetesDiscoverySettings.Read(fabric.Section("discovery").Section("kubernetes")),
            ConfigStoreSettings.Read(fabric.Section("config-store")),
            ReadIo(fabric.Section("io")),
            ReadPseudowire(fabric.Section("pseudowire")),
            ReadGhost(fabric.Section("ghost")) with { ElementRestart = elements },
            CellularSettings.Read(fabric.Section("cellular")),
            GatewaySettings.Read(fabric.Section("gateway")),
            SwitchingSettings.Read(fabric.Section("switching")),
            TapSettings.Read(fabric.Section("tap")),
            elements);
    }

    /// <summary>The settings of <paramref name="system"/>, read from its configuration once (the first time they are asked for).</summary>
    public static FabricSettings Get(ActorSystem system) => system.WithExtension<FabricSettingsExtension, FabricSettingsProvider>().Settings;

    /// <summary>A reader of the <c>fabric</c> block of <paramref name="config"/> over the shipped file.</summary>
    internal static SettingsReader Reader(Hocon config) =>
        new(config is null || config.IsEmpty || ReferenceEquals(config, Embedded) ? Embedded : config.WithFallback(Embedded), "fabric");

    private static IntentParseLimits ReadIntent(SettingsReader r) => new(
        r.Bytes("max-bytes", 1),
        r.Positive("max-values"),
        r.Positive("max-errors"),
        r.Interval("parse-timeout"));

    // IoHocon (Guardian/) reads the pool and loop counts; the rest are checked and read here.
    private static IoSettings ReadIo(SettingsReader r)
    {
        r.Int("loops", 0, 256);
        r.Positive("pool-max-batches");
        r.Positive("pool-retained-batches");
        return IoHocon.From(r.Config) with
        {
            BatchesPerTurn = r.Positive("batches-per-turn"),
            MaxEvents = r.Int("max-events", 1, 4096),
            BusyPoll = r.NonNegativeDuration("busy-poll"),
            Realtime = new LoopRealtime(r.Int("realtime-priority", 0, 99), r.Int("realtime-max-load-percent", 1, 100), r.Interval("realtime-window")),
        };
    }

    // Pseudowire/ keeps its own readers (LivenessSettings, TrunkBalanceSettings); they check their values.
    private static PseudowireSettings ReadPseudowire(SettingsReader r) =>
        new(LivenessSettings.From(r.Config), TrunkBalanceSettings.From(r.Config), ReadQueueDelay(r.Section("underlay")));

    /// <summary><c>fabric.pseudowire.underlay</c>: the receive queue's delay limit (a target of 0: off, <see cref="CoDelSettings.IsOn"/>).</summary>
    private static CoDelSettings ReadQueueDelay(SettingsReader r)
    {
        var target = r.NonNegativeDuration("queue-delay-target");
        var interval = r.Interval("queue-delay-interval");
        var max = r.Interval("queue-delay-max");
        if (target != TimeSpan.Zero && max < target) throw new ArgumentException($"fabric.pseudowire.underlay.queue-delay-max: must be >= queue-delay-target ({target}), not {max}");
        return new CoDelSettings(target, interval, max);
    }

    // Ghost/ keeps its own reader (GhostSettings.From); its values are checked here first.
    private static GhostSettings ReadGhost(SettingsReader r)
    {
        r.Port("pw-underlay-port");
        foreach (var key in new[] { "identity-interval", "identify-wait", "readiness-timeout", "readiness-max", "probe-quiet", "probe-max-wait", "probe-wave-quiet" })
            r.Interval(key);
        r.Positive("probe-wave");
        return GhostSettings.From(r.Config);
    }

    private static ElementRestartSettings ReadElements(SettingsReader r)
    {
        var e = new ElementRestartSettings(r.Interval("restart-min"), r.Interval("restart-max"));
        return e.Max >= e.Min ? e : throw new ArgumentException($"fabric.elements.restart-max: must be >= restart-min ({e.Min}), not {e.Max}");
    }

    private static Hocon LoadEmbedded()
    {
        using var stream = typeof(FabricSettings).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"resource {ResourceName} (hocon/fabric.conf) is not embedded in Fabric.Actors");
        using var reader = new StreamReader(stream);
        return ConfigurationFactory.ParseString(reader.ReadToEnd());
    }
}

/// <summary>The pseudowire settings (<c>fabric.pseudowire</c>): the liveness clock and trunk balancing.</summary>
public sealed record PseudowireSettings(LivenessSettings Liveness, TrunkBalanceSettings Trunk, CoDelSettings UnderlayQueueDelay);

/// <summary>Holds a system's <see cref="FabricSettings"/>, read once.</summary>
public sealed class FabricSettingsExtension(FabricSettings settings) : IExtension
{
    public FabricSettings Settings { get; } = settings;
}

public sealed class FabricSettingsProvider : ExtensionIdProvider<FabricSettingsExtension>
{
    public override FabricSettingsExtension CreateExtension(ExtendedActorSystem system) => new(FabricSettings.From(system.Settings.Config));
}
