namespace Fabric.Actors;

/// <summary>How counters and states are named in the API and in /metrics: <c>RxQueueDelay</c> is <c>rx-queue-delay</c>.</summary>
public static class KebabCase
{
    public static string Of(string name) =>
        string.Concat(name.Select((c, i) => char.IsUpper(c) && i > 0 ? $"-{char.ToLowerInvariant(c)}" : char.ToLowerInvariant(c).ToString()));
}
