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
    ImmutableArray<HostedElement> Elements) : IFabricMessage;

/// <summary>One element of the intent hosted on a node, e.g. ("pe", "pe-1").</summary>
public sealed record HostedElement(string Kind, string Name) : IFabricMessage;
