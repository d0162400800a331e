using System.Net;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.DataPlane.Io;

/// <summary>
/// The IPv4 address and UDP port of an underlay socket, as plain values so that per-frame
/// metadata holds no object reference. <see cref="IPEndPoint"/> only at the API edges.
/// </summary>
public readonly record struct UnderlayEndpoint(Ipv4Address Address, ushort Port)
{
    /// <summary>True for the default value, which names no peer.</summary>
    public bool IsEmpty => Address.IsUnspecified && Port == 0;

    public static UnderlayEndpoint FromIPEndPoint(IPEndPoint endPoint)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        return new UnderlayEndpoint(Ipv4Address.FromIPAddress(endPoint.Address), (ushort)endPoint.Port);
    }

    public IPEndPoint ToIPEndPoint() => new(Address.ToIPAddress(), Port);

    public override string ToString() => $"{Address}:{Port}";
}
