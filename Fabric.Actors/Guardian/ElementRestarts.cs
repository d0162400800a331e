using Fabric.Messages.Node;

namespace Fabric.Actors.Guardian;

/// <summary>
/// How an element whose actor failed to start (its constructor or PreStart threw, e.g. its PE's
/// underlay address is held by another process) is started again, read once from
/// <c>fabric.elements</c> (hocon/fabric.conf, into <see cref="Settings.FabricSettings.Elements"/>): the first retry after <see cref="Min"/>, each
/// further one after twice the previous delay, at most <see cref="Max"/>.
/// </summary>
public sealed record ElementRestartSettings(TimeSpan Min, TimeSpan Max)
{
    public static ElementRestartSettings Default { get; } = new(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(5));
}

/// <summary>
/// The elements of one reconciler that are backing off after a failed start, plain C# for the
/// actor to hold: per child name the failures so far, why the last one failed, and the delay the
/// next failure waits. An element leaves it when a start succeeds or the intent drops it.
/// </summary>
public sealed class ElementRestarts(ElementRestartSettings settings)
{
    private sealed class Backoff
    {
        public required string Kind;
        public required string Name;
        public TimeSpan Next;
        public int Failures;
        public string LastError = "";
        /// <summary>True while a re-created actor has not confirmed its start yet.</summary>
        public bool Starting;
    }

    private readonly Dictionary<string, Backoff> _byChild = new();

    public int Count => _byChild.Count;

    public bool Contains(string childName) => _byChild.ContainsKey(childName);

    /// <summary>The element failed to start (again): how long to wait before the next attempt.</summary>
    public TimeSpan Failed(ElementSpec spec, string error)
    {
        if (!_byChild.TryGetValue(spec.ChildName, out var b))
            _byChild[spec.ChildName] = b = new Backoff { Kind = spec.Kind, Name = spec.Name, Next = settings.Min };
        b.Failures++;
        b.LastError = error;
        b.Starting = false;
        var delay = b.Next;
        b.Next = TimeSpan.FromTicks(Math.Min(b.Next.Ticks * 2, settings.Max.Ticks));
        return delay;
    }

    /// <summary>A new attempt was made; the element stays listed as restarting until it confirms.</summary>
    public void Attempting(string childName)
    {
        if (_byChild.TryGetValue(childName, out var b)) b.Starting = true;
    }

    /// <summary>Whether the element waits for its next attempt (not one in flight).</summary>
    public bool Waiting(string childName) => _byChild.TryGetValue(childName, out var b) && !b.Starting;

    /// <summary>The element started, or left the intent: its backoff is forgotten. True when it was backing off.</summary>
    public bool Forget(string childName) => _byChild.Remove(childName);

    public IEnumerable<RestartingElement> Status() =>
        _byChild.Values.OrderBy(b => b.Kind, StringComparer.Ordinal).ThenBy(b => b.Name, StringComparer.Ordinal)
            .Select(b => new RestartingElement(b.Kind, b.Name, "restarting", b.LastError, b.Failures));
}
