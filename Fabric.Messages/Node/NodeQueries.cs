using System.Collections.Immutable;

namespace Fabric.Messages.Node;

/// <summary>Ask a node's guardian (/user/fabric) what intent it has applied; replies <see cref="AppliedIntent"/>.</summary>
public sealed record GetAppliedIntent : IFabricMessage
{
    public static readonly GetAppliedIntent Instance = new();
}

/// <summary>The intent version a node runs, and the elements of it this node hosts.</summary>
public sealed record AppliedIntent(
    string Node,
    long Version,
    long ChangeId,
    ImmutableArray<HostedElement> Elements) : IFabricMessage
{
    /// <summary>Elements of the intent this node should run whose actor failed to start: retried with backoff.</summary>
    public ImmutableArray<RestartingElement> Restarting { get; init; } = ImmutableArray<RestartingElement>.Empty;
}

/// <summary>One element of the intent hosted on a node, e.g. ("pe", "pe-1").</summary>
public sealed record HostedElement(string Kind, string Name) : IFabricMessage;

/// <summary>
/// An element whose actor failed to start, e.g. ("pe", "pe-1"): <paramref name="State"/> "restarting",
/// why the last attempt failed in <paramref name="LastError"/> (as a gateway port or attachment
/// circuit that failed to open), and how many attempts failed.
/// </summary>
public sealed record RestartingElement(string Kind, string Name, string State, string LastError, int StartFailures) : IFabricMessage;
