using Akka.Actor;
using Fabric.Messages.Intent;

namespace Fabric.Actors.Guardian;

/// <summary>
/// One element of the intent that this node runs as a child actor of /user/fabric, named
/// <c>{Kind}-{Name}</c> (e.g. <c>pe-pe-a</c>, <c>gw-gw-1</c>). <paramref name="Fingerprint"/>
/// changes exactly when the element's configuration changes (canonical text of its spec).
/// </summary>
public sealed record ElementSpec(string Kind, string Name, object Spec, string Fingerprint)
{
    public string ChildName => $"{Kind}-{Name}";
}

/// <summary>Told to a running element when its configuration changed in a committed intent.</summary>
public sealed record ElementSpecChanged(ElementSpec Spec);

/// <summary>
/// A capability's hook into the guardian: which elements of an intent a node hosts, and how to
/// start one. Capabilities register theirs with <see cref="GuardianHosting.AddElementKind"/>;
/// the guardian creates, updates and stops the children so they match each committed intent.
/// </summary>
public interface IElementKind
{
    /// <summary>Child-name prefix, e.g. "pe" or "gw".</summary>
    string Kind { get; }

    IEnumerable<ElementSpec> Desired(IntentDocument intent, string node);

    Props Props(ElementSpec spec);

    /// <summary>
    /// Called just before a running element is stopped because the intent no longer has it on this
    /// node (not when the node itself stops): e.g. marks the TAP devices the element created for
    /// deletion when its ports close (<see cref="DataPlane.Io.AttachmentDevices.Retire"/>).
    /// </summary>
    void Removed(ElementSpec spec)
    {
    }
}

/// <summary>The element kinds of this node, filled by the capabilities' hosting extensions.</summary>
public sealed class ElementKindRegistry
{
    private readonly List<IElementKind> _kinds = [];

    public IReadOnlyList<IElementKind> Kinds => _kinds;

    public void Add(IElementKind kind)
    {
        if (_kinds.Any(k => k.Kind == kind.Kind)) throw new InvalidOperationException($"element kind '{kind.Kind}' registered twice");
        _kinds.Add(kind);
    }
}

/// <summary>The pure part of reconciliation: what to start, change and stop.</summary>
public static class ElementPlan
{
    public sealed record Plan(IReadOnlyList<ElementSpec> Start, IReadOnlyList<ElementSpec> Change, IReadOnlyList<string> Stop);

    public static Plan Between(IReadOnlyDictionary<string, ElementSpec> running, IEnumerable<ElementSpec> desired)
    {
        var wanted = desired.ToDictionary(s => s.ChildName);
        return new Plan(
            wanted.Values.Where(s => !running.ContainsKey(s.ChildName)).ToList(),
            wanted.Values.Where(s => running.TryGetValue(s.ChildName, out var r) && r.Fingerprint != s.Fingerprint).ToList(),
            running.Keys.Where(n => !wanted.ContainsKey(n)).ToList());
    }
}
