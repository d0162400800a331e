namespace Fabric.Actors.Gateway;

/// <summary>
/// When to re-open a gateway port that failed (its device vanished, or opening it failed), plain
/// C# for the actor to hold: the delay starts at <see cref="Initial"/> and doubles up to
/// <see cref="Max"/>; a port that then stays up for <see cref="StableAfter"/> starts from the
/// initial delay again. Counts the restarts (re-opens that worked) and the failed attempts.
/// </summary>
public sealed class PortRestartPolicy(TimeSpan initial, TimeSpan max, TimeSpan stableAfter)
{
    public TimeSpan Initial { get; } = initial;
    public TimeSpan Max { get; } = max;
    public TimeSpan StableAfter { get; } = stableAfter;

    /// <summary>The delay the next failure will wait.</summary>
    public TimeSpan Backoff { get; private set; } = initial;
    /// <summary>Re-opens that succeeded after a failure.</summary>
    public long Restarts { get; private set; }
    /// <summary>Attempts to open the port that failed.</summary>
    public long OpenFailures { get; private set; }
    /// <summary>True between a failure and the re-open that ends it.</summary>
    public bool Restarting { get; private set; }
    /// <summary>Why the port last went away or failed to open.</summary>
    public string? LastError { get; private set; }
    private long _upSince;

    /// <summary>The port went away (<paramref name="openFailed"/> false) or could not be opened: how long to wait before trying again.</summary>
    public TimeSpan Failed(string? error, bool openFailed)
    {
        if (openFailed) OpenFailures++;
        LastError = error;
        Restarting = true;
        var delay = Backoff;
        Backoff = TimeSpan.FromTicks(Math.Min(Backoff.Ticks * 2, Max.Ticks));
        return delay;
    }

    /// <summary>The port is open (at <paramref name="now"/>, ms); a restart when it had failed.</summary>
    public void Opened(long now)
    {
        if (Restarting) Restarts++;
        Restarting = false;
        _upSince = now;
    }

    /// <summary>Called while the port is up: after <see cref="StableAfter"/> the backoff starts over.</summary>
    public void StillUp(long now)
    {
        if (Backoff != Initial && !Restarting && now - _upSince >= StableAfter.TotalMilliseconds) Backoff = Initial;
    }
}
