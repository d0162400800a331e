namespace Fabric.Messages.Intent;

/// <summary>
/// What one parse may cost: bytes of text, values (every scalar, key, list and mapping, aliases
/// counted each time they are used), reported errors, and wall time. A document over a limit is
/// refused with a line and a reason; past <see cref="MaxErrors"/> errors the rest are only counted.
/// Read from <c>fabric.intent</c> (hocon/fabric.conf) for documents from outside the cluster.
/// </summary>
public sealed record IntentParseLimits(long MaxBytes, int MaxValues, int MaxErrors, TimeSpan Timeout)
{
    /// <summary>For documents from operators and clients: 1 MiB, 200,000 values, 100 errors, 5 s.</summary>
    public static IntentParseLimits Default { get; } = new(1024 * 1024, 200_000, 100, TimeSpan.FromSeconds(5));

    /// <summary>
    /// For canonical documents the config store already accepted (the guardian and the ghost
    /// verifier re-read them): the canonical form writes defaults out, so it holds more values
    /// than its source; no clock, since refusing a committed intent would help nobody.
    /// </summary>
    public static IntentParseLimits Trusted { get; } = new(long.MaxValue, 2_000_000, 100, System.Threading.Timeout.InfiniteTimeSpan);

    /// <summary>Throws <see cref="ArgumentException"/> when a limit is not positive.</summary>
    public IntentParseLimits Validated()
    {
        if (MaxBytes < 1) throw new ArgumentException("fabric.intent.max-bytes must be >= 1");
        if (MaxValues < 1) throw new ArgumentException("fabric.intent.max-values must be >= 1");
        if (MaxErrors < 1) throw new ArgumentException("fabric.intent.max-errors must be >= 1");
        if (Timeout <= TimeSpan.Zero && Timeout != System.Threading.Timeout.InfiniteTimeSpan)
            throw new ArgumentException("fabric.intent.parse-timeout must be > 0");
        return this;
    }
}
