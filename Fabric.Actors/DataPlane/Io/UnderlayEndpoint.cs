using System.Net;
using System.Net.Sockets;

namespace Fabric.Actors.DataPlane.Io;

/// <summary>
/// An IPv4 address and UDP port of an underlay socket, as plain numbers so that per-frame
/// metadata holds no object reference. <see cref="Address"/> is in host order
/// (127.0.0.1 = 0x7F000001).
/// </summary>
public readonly record struct UnderlayEndpoint(uint Address, ushort Port)
{
    /// <summary>True for the default value, which names no peer.</summary>
    public bool IsEmpty => Address == 0 && Port == 0;

    public static UnderlayEndpoint FromIPEndPoint(IPEndPoint endPoint)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        if (endPoint.AddressFamily != AddressFamily.InterNetwork)
        {
            throw new ArgumentException("The underlay is IPv4 only.", nameof(endPoint));
        }

        Span<byte> bytes = stackalloc byte[4];
        endPoint.Address.TryWriteBytes(bytes, out _);
        return new UnderlayEndpoint(System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(bytes), (ushort)endPoint.Port);
    }

    public IPEndPoint ToIPEndPoint()
    {
        Span<byte> bytes = stackalloc byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(bytes, Address);
        return new IPEndPoint(new IPAddress(bytes), Port);
    }

    public override string ToString() =>
        $"{Address >> 24}.{(Address >> 16) & 0xFF}.{(Address >> 8) & 0xFF}.{Address & 0xFF}:{Port}";
}
