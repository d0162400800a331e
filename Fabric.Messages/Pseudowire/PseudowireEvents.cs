namespace Fabric.Messages.Pseudowire;

/// <summary>
/// Told by a PW actor to its parent (trunk or PE) when its liveness session enters or leaves Up.
/// Local to a node: a PW and its trunk always live together.
/// </summary>
public sealed record PwLivenessChanged(string Pw, bool Up, string State, string Reason);
