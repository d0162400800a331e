using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.Gateway;

/// <summary>A connection's state as the firewall sees it.</summary>
public enum ConnectionState : byte
{
    /// <summary>First packet(s) seen from the originator, nothing back yet.</summary>
    New,
    /// <summary>Traffic seen both ways (or picked up mid-stream).</summary>
    Established,
    /// <summary>A FIN was seen: short timeout, no cache entries.</summary>
    Closing,
    /// <summary>RST seen, or both FINs: the connection is gone.</summary>
    Closed,
}

/// <summary>
/// A connection, named from the inside: (tenant, protocol, inside endpoint, remote endpoint), so
/// both directions and both sides of NAT find the same entry. ICMP echo uses the identifier as
/// the inside port and 0 as the remote port.
/// </summary>
public readonly record struct ConnectionKey(uint Tenant, IpProtocol Protocol, Ipv4Address InsideAddress, ushort InsidePort, Ipv4Address RemoteAddress, ushort RemotePort);

public sealed class Connection
{
    public required ConnectionKey Key { get; init; }
    public ConnectionState State { get; set; }
    /// <summary>True when the inside started it (SNAT/routed egress); false for DNAT and routed ingress.</summary>
    public required bool FromInside { get; init; }
    /// <summary>True when picked up mid-stream (no SYN seen here: after a shard move or restart).</summary>
    public bool PickedUp { get; init; }
    public long LastSeen { get; set; }
    public bool FinFromInside { get; set; }
    public bool FinFromOutside { get; set; }
    /// <summary>The cache entries made for this connection (removed when it closes).</summary>
    public Fabric.Actors.DataPlane.Flow.FlowKey ForwardKey { get; set; }
    public ulong ForwardHash { get; set; }
    public Fabric.Actors.DataPlane.Flow.FlowKey ReplyKey { get; set; }
    public ulong ReplyHash { get; set; }
}

/// <summary>The pure state machine and timeouts of connection tracking (RFC 793 states, folded the way firewalls do).</summary>
public static class ConnectionTracking
{
    /// <summary>Idle timeouts in milliseconds.</summary>
    public const long NewTimeoutMs = 30_000, EstablishedTcpTimeoutMs = 300_000, DatagramTimeoutMs = 30_000, ClosingTimeoutMs = 10_000;

    /// <summary>Whether a packet with no connection may start one: any UDP/ICMP, a TCP SYN, or (loose pickup) a mid-stream TCP segment.</summary>
    public static bool MayStart(IpProtocol protocol, TcpFlags flags, bool loosePickup, out bool pickedUp)
    {
        pickedUp = false;
        if (protocol != IpProtocol.Tcp) return true;
        if ((flags & TcpFlags.Rst) != 0) return false;
        if ((flags & (TcpFlags.Syn | TcpFlags.Ack)) == TcpFlags.Syn) return true;
        pickedUp = loosePickup;
        return loosePickup;
    }

    /// <summary>The state after a packet; <paramref name="fromOriginator"/> says which way it went.</summary>
    public static ConnectionState Next(Connection c, IpProtocol protocol, TcpFlags flags, bool fromOriginator)
    {
        var state = c.State;
        if (protocol != IpProtocol.Tcp)
        {
            return state == ConnectionState.New && !fromOriginator ? ConnectionState.Established : state;
        }
        if ((flags & TcpFlags.Rst) != 0) return ConnectionState.Closed;
        if ((flags & TcpFlags.Fin) != 0)
        {
            var fromInside = fromOriginator == c.FromInside;
            if (fromInside) c.FinFromInside = true; else c.FinFromOutside = true;
            return c.FinFromInside && c.FinFromOutside ? ConnectionState.Closed : ConnectionState.Closing;
        }
        if (state == ConnectionState.New && !fromOriginator && (flags & TcpFlags.Ack) != 0) return ConnectionState.Established;
        return state;
    }

    public static long IdleTimeout(ConnectionState state, IpProtocol protocol) => state switch
    {
        ConnectionState.New => NewTimeoutMs,
        ConnectionState.Established => protocol == IpProtocol.Tcp ? EstablishedTcpTimeoutMs : DatagramTimeoutMs,
        ConnectionState.Closing => ClosingTimeoutMs,
        _ => 0,
    };
}

/// <summary>The connections a flow-cache shard tracks.</summary>
public sealed class ConnectionTable
{
    private readonly Dictionary<ConnectionKey, Connection> _connections = [];

    public int Count => _connections.Count;
    public long Created { get; private set; }
    public long PickedUp { get; private set; }
    public long Closed { get; private set; }

    public IEnumerable<Connection> All => _connections.Values;

    /// <summary>The live connection for <paramref name="key"/>; an expired or closed one is removed and not returned.</summary>
    public Connection? Find(in ConnectionKey key, long now)
    {
        if (!_connections.TryGetValue(key, out var c)) return null;
        var timeout = ConnectionTracking.IdleTimeout(c.State, key.Protocol);
        if (c.State == ConnectionState.Closed || now - c.LastSeen >= timeout)
        {
            _connections.Remove(key);
            return null;
        }
        return c;
    }

    public Connection Add(in ConnectionKey key, bool fromInside, bool pickedUp, long now)
    {
        var c = new Connection { Key = key, FromInside = fromInside, PickedUp = pickedUp, State = pickedUp ? ConnectionState.Established : ConnectionState.New, LastSeen = now };
        _connections[key] = c;
        Created++;
        if (pickedUp) PickedUp++;
        return c;
    }

    public void Remove(in ConnectionKey key)
    {
        if (_connections.Remove(key)) Closed++;
    }

    /// <summary>Drops connections idle past their timeout; returns how many.</summary>
    public int Expire(long now)
    {
        var dead = _connections.Values.Where(c => c.State == ConnectionState.Closed || now - c.LastSeen >= ConnectionTracking.IdleTimeout(c.State, c.Key.Protocol)).Select(c => c.Key).ToList();
        foreach (var k in dead) Remove(k);
        return dead.Count;
    }

    public void Clear() => _connections.Clear();
}
