using Akka.Actor;

namespace Fabric.Actors.Scheduling;

/// <summary>
/// One actor timer armed for a deadline rather than a period: what an idle element uses so it
/// wakes only when something is due (a connection's expiry, a retry, a command's timeout).
/// </summary>
public static class DeadlineTimer
{
    /// <summary>
    /// Arms the single timer <paramref name="key"/> (its own message) for <paramref name="dueMs"/>
    /// (Environment.TickCount64), or cancels it for <see cref="long.MaxValue"/> (nothing due).
    /// <paramref name="armedAt"/> holds the deadline armed (<see cref="long.MaxValue"/>: none; set it
    /// so when the timer fires): an unchanged deadline costs nothing. Written with a volatile
    /// write, for threads that compare their own deadlines with it.
    /// </summary>
    public static void ArmAt(this ITimerScheduler timers, object key, long dueMs, ref long armedAt)
    {
        if (dueMs == armedAt) return;
        Volatile.Write(ref armedAt, dueMs);
        if (dueMs == long.MaxValue)
        {
            timers.Cancel(key);
            return;
        }
        timers.StartSingleTimer(key, key, TimeSpan.FromMilliseconds(Math.Max(1, dueMs - Environment.TickCount64)));
    }

    /// <summary>
    /// Makes the single timer <paramref name="key"/> fire no later than <paramref name="dueMs"/>:
    /// armed only when nothing earlier is, never cancelled (a timer whose work went away fires
    /// once for nothing, and its handler re-arms for what is then due). For deadlines that come and
    /// go with traffic (a miss waiting for its answer), where re-arming and cancelling on each would
    /// cost a scheduler registration per packet. Set <paramref name="armedAt"/> to
    /// <see cref="long.MaxValue"/> when the timer fires.
    /// </summary>
    public static void ArmNoLaterThan(this ITimerScheduler timers, object key, long dueMs, ref long armedAt)
    {
        if (dueMs >= armedAt) return;
        timers.ArmAt(key, dueMs, ref armedAt);
    }
}
