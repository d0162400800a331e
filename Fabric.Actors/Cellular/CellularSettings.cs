using Fabric.Actors.Cellular.Bridge;
using Fabric.Actors.Cellular.Modem;
using Fabric.Actors.Settings;

namespace Fabric.Actors.Cellular;

/// <summary>The cellular capability's settings, read once from <c>fabric.cellular</c> (hocon/fabric.conf, each key commented there).</summary>
public sealed record CellularSettings(ModemTimings Timings, LeaseTerms Lease)
{
    /// <summary>First delay before a VM port that failed is opened again; doubles up to <see cref="BridgeRetryMax"/>.</summary>
    public required TimeSpan BridgeRetryMin { get; init; }

    public required TimeSpan BridgeRetryMax { get; init; }

    /// <summary>Idle packet batches the hypervisors' pool keeps (their bridges and modem data ports).</summary>
    public required int PoolRetainedBatches { get; init; }

    public static CellularSettings Default => FabricSettings.Default.Cellular;

    internal static CellularSettings Read(SettingsReader r)
    {
        int Ms(string key) => (int)r.Duration(key, TimeSpan.FromMilliseconds(1), TimeSpan.FromDays(1), "must be 1ms..1d").TotalMilliseconds;
        uint Seconds(string key) => (uint)r.Duration(key, TimeSpan.FromSeconds(1), TimeSpan.FromDays(365), "must be 1s..365d").TotalSeconds;
        var settings = new CellularSettings(
            new ModemTimings
            {
                CommandTimeoutMs = Ms("command-timeout"),
                ActivationTimeoutMs = Ms("activation-timeout"),
                PollIntervalMs = Ms("poll-interval"),
                RegistrationPollMs = Ms("registration-poll"),
                DialRetryMs = Ms("dial-retry"),
                MaxTimeouts = r.Positive("max-timeouts"),
                ReopenMinMs = Ms("reopen-min"),
                ReopenMaxMs = Ms("reopen-max"),
            },
            new LeaseTerms
            {
                LeaseSeconds = Seconds("lease"),
                RenewSeconds = Seconds("renew"),
                RebindSeconds = Seconds("rebind"),
            })
        {
            BridgeRetryMin = r.Interval("bridge-retry-min"),
            BridgeRetryMax = r.Interval("bridge-retry-max"),
            PoolRetainedBatches = r.Positive("pool-retained-batches"),
        };
        r.Require(settings.Timings.ReopenMaxMs >= settings.Timings.ReopenMinMs, "reopen-max", "must be >= reopen-min");
        r.Require(settings.BridgeRetryMax >= settings.BridgeRetryMin, "bridge-retry-max", "must be >= bridge-retry-min");
        r.Require(settings.Lease.RenewSeconds < settings.Lease.RebindSeconds, "renew", $"must be below rebind ({settings.Lease.RebindSeconds}s)");
        r.Require(settings.Lease.RebindSeconds < settings.Lease.LeaseSeconds, "rebind", $"must be below lease ({settings.Lease.LeaseSeconds}s)");
        return settings;
    }
}
