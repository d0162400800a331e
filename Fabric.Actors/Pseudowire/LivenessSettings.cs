namespace Fabric.Actors.Pseudowire;

/// <summary>
/// How the node's PW liveness clock runs (hocon <c>fabric.pseudowire.liveness</c>, each key
/// commented there). Per-trunk hello interval and multiplier stay in the intent.
/// </summary>
/// <param name="RealtimePriority">SCHED_FIFO priority of main's clock thread (1-99); 0 = never
/// ask for it (nice -10 only). Refused without CAP_SYS_NICE: the thread then falls back to nice.</param>
/// <param name="StallSlack">How much later than asked the clock thread may wake and still count
/// the whole wait as awake time; anything beyond is a stall that no session is judged on.</param>
public sealed record LivenessSettings(int RealtimePriority, TimeSpan StallSlack)
{
    public static readonly LivenessSettings Default = new(RealtimePriority: 10, StallSlack: TimeSpan.FromMilliseconds(10));

    /// <summary>Reads <c>fabric.pseudowire.liveness</c>; missing keys keep the defaults.</summary>
    public static LivenessSettings From(Akka.Configuration.Config? config)
    {
        var section = config?.GetConfig("fabric.pseudowire.liveness");
        if (section is null || section.IsEmpty)
        {
            return Default;
        }

        int priority = section.GetInt("realtime-priority", Default.RealtimePriority);
        if (priority is < 0 or > 99)
        {
            throw new ArgumentException($"fabric.pseudowire.liveness.realtime-priority must be 0-99, not {priority}");
        }

        var slack = section.GetTimeSpan("stall-slack", Default.StallSlack);
        if (slack < TimeSpan.Zero || slack > TimeSpan.FromSeconds(1))
        {
            throw new ArgumentException($"fabric.pseudowire.liveness.stall-slack must be 0-1s, not {slack}");
        }

        return new LivenessSettings(priority, slack);
    }
}
