using Fabric.Actors.Cellular.Bridge;
using Fabric.Actors.Cellular.Modem;

namespace Fabric.Actors.Cellular;

/// <summary>The cellular capability's settings, read once from <c>fabric.cellular</c> (hocon/fabric.conf).</summary>
public sealed record CellularSettings(ModemTimings Timings, LeaseTerms Lease)
{
    /// <summary>How often each modem's machine is given the time (timeouts, polls, re-opens).</summary>
    public TimeSpan Tick { get; init; } = TimeSpan.FromMilliseconds(50);

    public static CellularSettings Default { get; } = new(new ModemTimings(), new LeaseTerms());

    public static CellularSettings From(Akka.Configuration.Config config)
    {
        var section = config.GetConfig("fabric.cellular");
        if (section is null || section.IsEmpty) return Default;
        int Ms(string key, int fallback) => (int)section.GetTimeSpan(key, TimeSpan.FromMilliseconds(fallback)).TotalMilliseconds;
        uint Seconds(string key, uint fallback) => (uint)section.GetTimeSpan(key, TimeSpan.FromSeconds(fallback)).TotalSeconds;
        var t = Default.Timings;
        var l = Default.Lease;
        var settings = new CellularSettings(
            new ModemTimings
            {
                CommandTimeoutMs = Ms("command-timeout", t.CommandTimeoutMs),
                ActivationTimeoutMs = Ms("activation-timeout", t.ActivationTimeoutMs),
                PollIntervalMs = Ms("poll-interval", t.PollIntervalMs),
                RegistrationPollMs = Ms("registration-poll", t.RegistrationPollMs),
                DialRetryMs = Ms("dial-retry", t.DialRetryMs),
                MaxTimeouts = section.GetInt("max-timeouts", t.MaxTimeouts),
                ReopenMinMs = Ms("reopen-min", t.ReopenMinMs),
                ReopenMaxMs = Ms("reopen-max", t.ReopenMaxMs),
            },
            l with
            {
                LeaseSeconds = Seconds("lease", l.LeaseSeconds),
                RenewSeconds = Seconds("renew", l.RenewSeconds),
                RebindSeconds = Seconds("rebind", l.RebindSeconds),
            });
        if (settings.Timings.MaxTimeouts < 1) throw new ArgumentException("fabric.cellular.max-timeouts must be >= 1");
        if (settings.Lease.RenewSeconds < 1 || settings.Lease.RenewSeconds >= settings.Lease.RebindSeconds
            || settings.Lease.RebindSeconds >= settings.Lease.LeaseSeconds)
            throw new ArgumentException("fabric.cellular: need 1s <= renew < rebind < lease");
        return settings;
    }
}
