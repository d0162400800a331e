using Fabric.Actors.Config;

namespace Fabric.Node.Hosting;

/// <summary>What the management API and background services need to know about this node.</summary>
public sealed record NodeContext(NodeOptions Options, StoreDatabase Database, string Token, string TokenSource, string DataDir);
