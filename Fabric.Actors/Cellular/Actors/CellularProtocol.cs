using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.Cellular.Actors;

/// <summary>The messages between a hypervisor's actors (local to the node: never serialized).</summary>
public interface ICellularMessage;

/// <summary>A modem's bearer came up, moved to a new address, or went down (null). Modem → hypervisor → bridge.</summary>
public sealed record ModemBearerChanged(string Modem, Ipv4Address? Address, string Reason) : ICellularMessage;
