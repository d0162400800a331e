namespace Fabric.Actors.Pseudowire;

/// <summary>
/// How the node's PW liveness clock runs (hocon <c>fabric.pseudowire.liveness</c>, each key
/// commented there). Per-trunk hello interval and multiplier stay in the intent.
/// </summary>
/// <param name="RealtimePriority">SCHED_FIFO priority of main's clock thread (1-99); 0 = never
/// ask for it (nice -10 only). Refused without CAP_SYS_NICE: the thread then falls back to nice.</param>
/// <param name="StallSlack">How much later than asked the clock thread may wake and still count
/// the whole wait as awake time; anything beyond is a stall that no session is judged on.</param>
/// <param name="HelloBudget">Most hellos a second main's clock sends (0 = no limit): beyond it every
/// session's TX interval is stretched by a power of two and advertised (RFC 5880 Desired Min TX),
/// so detection times grow instead of hellos missing their deadlines.</param>
/// <param name="GhostHelloBudget">The same for the ghost copy's clock, which only has to show PWs come up.</param>
/// <param name="GhostQuietStretch">What the ghost copy's TX intervals are stretched by (at least)
/// while no verification runs (a power of two; 1 = never quiet).</param>
public sealed record LivenessSettings(int RealtimePriority, TimeSpan StallSlack, int HelloBudget = 10_000, int GhostHelloBudget = 2_000, int GhostQuietStretch = 16)
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

        int budget = section.GetInt("hello-budget", Default.HelloBudget);
        int ghostBudget = section.GetInt("ghost-hello-budget", Default.GhostHelloBudget);
        if (budget < 0 || ghostBudget < 0)
        {
            throw new ArgumentException($"fabric.pseudowire.liveness.hello-budget and ghost-hello-budget must be 0 (no limit) or more, not {budget} and {ghostBudget}");
        }

        int quiet = section.GetInt("ghost-quiet-stretch", Default.GhostQuietStretch);
        if (quiet < 1 || quiet > 1 << 10 || (quiet & (quiet - 1)) != 0)
        {
            throw new ArgumentException($"fabric.pseudowire.liveness.ghost-quiet-stretch must be a power of two from 1 to 1024, not {quiet}");
        }

        return new LivenessSettings(priority, slack, budget, ghostBudget, quiet);
    }
}
