using Fabric.Actors.DataPlane.Flow;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.Gateway;

/// <summary>A connection's state as the firewall and NAT see it.</summary>
public enum ConnectionState : byte
{
    /// <summary>First packet(s) seen from the originator, nothing back yet.</summary>
    New,
    /// <summary>Traffic seen both ways (or picked up mid-stream).</summary>
    Established,
    /// <summary>One FIN seen: the closing timeout applies.</summary>
    Closing,
    /// <summary>RST seen, or both FINs: held for <see cref="ConntrackSettings.TcpClosedHold"/> (its last ACK), then removed with its NAT binding.</summary>
    Closed,
}

/// <summary>
/// A connection, named from the inside: (tenant, protocol, inside endpoint, remote endpoint), so
/// both directions and both sides of NAT find the same entry. ICMP echo uses the identifier as
/// the inside port and 0 as the remote port.
/// </summary>
public readonly record struct ConnectionKey(uint Tenant, IpProtocol Protocol, Ipv4Address InsideAddress, ushort InsidePort, Ipv4Address RemoteAddress, ushort RemotePort);

/// <summary>
/// A tracked connection. Its table reuses the objects of removed connections (no object is
/// allocated per connection under churn, so none survives into the GC's older generations only
/// to die there): <see cref="Generation"/> says which life this is, and a reference kept beyond
/// the table (a cache entry, a change to report) holds only while its generation matches.
/// </summary>
public sealed class Connection
{
    public ConnectionKey Key { get; private set; }
    public ConnectionState State { get; set; }
    /// <summary>True when the inside started it (SNAT/routed egress); false for DNAT and routed ingress.</summary>
    public bool FromInside { get; private set; }
    /// <summary>True when picked up mid-stream (no SYN seen here: after a shard move or restart).</summary>
    public bool PickedUp { get; private set; }
    /// <summary>Which life of this object (1 for its first connection): bumped each time its table reuses it.</summary>
    public uint Generation { get; private set; }
    /// <summary>Last packet seen (hits refresh it where the cache is: the gateway's datapath).</summary>
    public long LastSeen { get; set; }
    public long ClosedAt { get; internal set; }
    public bool FinFromInside { get; set; }
    public bool FinFromOutside { get; set; }
    /// <summary>The SNAT binding this connection keeps alive (null without SNAT, and in a gateway's mirror: see <see cref="External"/>).</summary>
    public NatBinding? Binding { get; internal set; }
    /// <summary>
    /// The external (pool) endpoint SNAT gives it: its binding's, or, in a gateway's mirror of a
    /// flow-cache entity's connection (which holds no binding, so no object of its own for it), the
    /// one the entity answered; (0.0.0.0, 0) without SNAT.
    /// </summary>
    public (Ipv4Address Address, ushort Port) External => Binding is { } b ? (b.ExternalAddress, b.ExternalPort) : (_mirroredAddress, _mirroredPort);
    private Ipv4Address _mirroredAddress;
    private ushort _mirroredPort;

    /// <summary>A mirror remembers its entity's SNAT endpoint (for a restore, and the gateway's view of its port blocks); the first one stays.</summary>
    public void MirrorExternal(Ipv4Address address, ushort port)
    {
        if (Binding is not null || !_mirroredAddress.IsUnspecified) return;
        _mirroredAddress = address;
        _mirroredPort = port;
    }
    /// <summary>The cache entries made for this connection (removed when it closes).</summary>
    public FlowKey ForwardKey { get; set; }
    public ulong ForwardHash { get; set; }
    public FlowKey ReplyKey { get; set; }
    public ulong ReplyHash { get; set; }
    /// <summary>The deadline it is filed under in the table's timer wheel (older filings are stale).</summary>
    internal long Due;
    public bool Removed { get; internal set; }

    /// <summary>Starts a life (a new object, or one its table reuses): every field as a new connection has it.</summary>
    internal void Begin(in ConnectionKey key, bool fromInside, bool pickedUp, long now)
    {
        Generation++;
        Key = key;
        FromInside = fromInside;
        PickedUp = pickedUp;
        State = pickedUp ? ConnectionState.Established : ConnectionState.New;
        LastSeen = now;
        ClosedAt = 0;
        FinFromInside = FinFromOutside = false;
        Binding = null;
        _mirroredAddress = default;
        _mirroredPort = 0;
        ForwardKey = ReplyKey = default;
        ForwardHash = ReplyHash = 0;
        Due = 0;
        Removed = false;
    }
}

/// <summary>The pure state machine of connection tracking (RFC 793 states, folded the way firewalls and NATs do, RFC 7857 §2).</summary>
public static class ConnectionTracking
{
    /// <summary>Whether a packet with no connection may start one: any UDP/ICMP, a TCP SYN, or (loose pickup) a mid-stream TCP segment.</summary>
    public static bool MayStart(IpProtocol protocol, TcpFlags flags, bool loosePickup, out bool pickedUp)
    {
        pickedUp = false;
        if (protocol != IpProtocol.Tcp) return true;
        if ((flags & TcpFlags.Rst) != 0) return false;
        if (IsOpening(flags)) return true;
        pickedUp = loosePickup;
        return loosePickup;
    }

    /// <summary>A SYN without ACK: a connection's first segment.</summary>
    public static bool IsOpening(TcpFlags flags) => (flags & (TcpFlags.Syn | TcpFlags.Ack | TcpFlags.Rst)) == TcpFlags.Syn;

    /// <summary>The state after a packet; <paramref name="fromOriginator"/> says which way it went.</summary>
    public static ConnectionState Next(Connection c, IpProtocol protocol, TcpFlags flags, bool fromOriginator)
    {
        var state = c.State;
        if (protocol != IpProtocol.Tcp)
        {
            return state == ConnectionState.New && !fromOriginator ? ConnectionState.Established : state;
        }
        if ((flags & TcpFlags.Rst) != 0) return ConnectionState.Closed;
        if (state == ConnectionState.Closed) return state;
        if ((flags & TcpFlags.Fin) != 0)
        {
            var fromInside = fromOriginator == c.FromInside;
            if (fromInside) c.FinFromInside = true; else c.FinFromOutside = true;
            return c.FinFromInside && c.FinFromOutside ? ConnectionState.Closed : ConnectionState.Closing;
        }
        if (state == ConnectionState.New && !fromOriginator && (flags & TcpFlags.Ack) != 0) return ConnectionState.Established;
        return state;
    }

    public static long IdleTimeoutMs(this ConntrackSettings s, ConnectionState state, IpProtocol protocol) => state switch
    {
        ConnectionState.New => protocol == IpProtocol.Tcp ? s.TcpNewMs : s.DatagramMs,
        ConnectionState.Established => protocol == IpProtocol.Tcp ? s.TcpEstablishedMs : s.DatagramMs,
        ConnectionState.Closing => s.TcpClosingMs,
        _ => s.TcpClosedHoldMs,
    };
}

/// <summary>
/// The connections a flow-cache shard tracks, with their expiry on a timer wheel (one filing per
/// connection per timeout period, checked lazily: a hit only writes <see cref="Connection.LastSeen"/>).
/// A closed connection stays for the closed hold, then goes; an idle one goes after its state's
/// timeout. Where the last packet times are known elsewhere (a flow-cache entity: hits happen in
/// the gateway) an idle-looking connection is not removed but handed out by <see cref="Expire"/>
/// to be confirmed (<see cref="Confirm"/>). Removing a connection releases its NAT binding when
/// it was the binding's last.
/// </summary>
public sealed class ConnectionTable
{
    private readonly Dictionary<ConnectionKey, Connection> _connections = [];
    private readonly TimerWheel<Connection> _wheel;
    private readonly List<(Connection Item, long Due)> _due = [];
    /// <summary>The first of <see cref="_due"/> a chunked <see cref="Expire"/> has not looked at yet.</summary>
    private int _dueNext;
    private readonly NatTable? _nat;
    private readonly long _closedHoldMs;
    /// <summary>Objects of removed connections, ready for new ones.</summary>
    private readonly Stack<Connection> _free = new();
    /// <summary>Removed since the last sweep: the sweep's callers (and a batch's report of changes) may still hold them, so they are reused from the next sweep on.</summary>
    private readonly List<Connection> _retired = [];
    /// <summary>Spare objects kept beyond the live connections' count (a burst's objects beyond both go to the GC).</summary>
    private const int SpareFloor = 1024;
    /// <summary>Most removed connections waiting for the next sweep to reuse them.</summary>
    private const int RetiredCap = 1 << 16;

    /// <param name="floor">Lowered when a filing brings <see cref="NextDue"/> forward (see <see cref="DueFloor"/>).</param>
    public ConnectionTable(ConntrackSettings? settings = null, NatTable? nat = null, bool lastSeenElsewhere = false, long tickMs = 100, DueFloor? floor = null)
    {
        Settings = settings ?? ConntrackSettings.Default;
        _nat = nat;
        // Where the gateway holds the entries (sharded), the binding outlives them by two sweeps:
        // the gateway learns of a close first and both sweep at their own tick.
        _closedHoldMs = Settings.TcpClosedHoldMs + (lastSeenElsewhere ? 2 * tickMs : 0);
        LastSeenElsewhere = lastSeenElsewhere;
        _wheel = new TimerWheel<Connection>(tickMs, floor);
    }

    public ConntrackSettings Settings { get; }
    /// <summary>True in a flow-cache entity: idle connections are confirmed with the gateway before they go.</summary>
    public bool LastSeenElsewhere { get; }
    public int Count => _connections.Count;
    public long Created { get; private set; }
    public long PickedUp { get; private set; }
    public long Closed { get; private set; }
    public long Expired { get; private set; }
    /// <summary>Filings on the timer wheel (stale ones included until swept).</summary>
    public int Scheduled => _wheel.Count;
    /// <summary>When <see cref="Expire"/> can next find something due (ms; <see cref="long.MaxValue"/>: nothing filed). Any thread.</summary>
    public long NextDue => _wheel.NextDue;

    public IEnumerable<Connection> All => _connections.Values;

    /// <summary>The connection for <paramref name="key"/>, closed ones included while they are held.</summary>
    public Connection? Find(in ConnectionKey key) => _connections.GetValueOrDefault(key);

    public Connection Add(in ConnectionKey key, bool fromInside, bool pickedUp, long now)
    {
        if (_connections.TryGetValue(key, out var old)) Remove(old);
        var c = _free.TryPop(out var spare) ? spare : new Connection();
        c.Begin(key, fromInside, pickedUp, now);
        _connections[key] = c;
        Created++;
        if (pickedUp) PickedUp++;
        Arm(c, Deadline(c), now);
        return c;
    }

    /// <summary>Makes <paramref name="c"/> keep <paramref name="binding"/> alive (once).</summary>
    public static void Attach(Connection c, NatBinding binding)
    {
        if (c.Binding is not null || !binding.Live) return;
        c.Binding = binding;
        binding.Connections++;
    }

    /// <summary>Records a state change made by <see cref="ConnectionTracking.Next"/>: a connection that closed is held, then removed.</summary>
    public void Transitioned(Connection c, ConnectionState before, long now)
    {
        if (c.State == ConnectionState.Closed && before != ConnectionState.Closed)
        {
            c.ClosedAt = now;
            Closed++;
            Arm(c, Deadline(c), now);
        }
    }

    /// <summary>A new SYN on a connection held closed: the same endpoints start again (the binding stays).</summary>
    public void Reopen(Connection c, long now)
    {
        c.State = ConnectionState.New;
        c.FinFromInside = c.FinFromOutside = false;
        c.LastSeen = now;
        Arm(c, Deadline(c), now);
    }

    /// <summary>Files <paramref name="c"/> again after its state or last-seen time were set from outside (a restore).</summary>
    public void Rearm(Connection c, long now)
    {
        if (c.State == ConnectionState.Closed && c.ClosedAt == 0) c.ClosedAt = now;
        Arm(c, Deadline(c), now);
    }

    public void Remove(Connection c)
    {
        if (c.Removed) return;
        c.Removed = true;
        if (_connections.TryGetValue(c.Key, out var current) && ReferenceEquals(current, c)) _connections.Remove(c.Key);
        if (c.Binding is { Connections: > 0 } b && --b.Connections == 0) _nat?.Release(b);
        if (_retired.Count < RetiredCap) _retired.Add(c); // beyond (no sweep for long): the GC takes it
    }

    public void Remove(in ConnectionKey key)
    {
        if (_connections.TryGetValue(key, out var c)) Remove(c);
    }

    /// <summary>
    /// Sweeps the wheel up to <paramref name="now"/>: closed connections past their hold and idle
    /// ones past their timeout are removed and added to <paramref name="removed"/>; with
    /// <see cref="LastSeenElsewhere"/> idle ones are added to <paramref name="toConfirm"/> instead
    /// (and filed again one timeout later, in case no answer comes). At most <paramref name="max"/>
    /// are looked at; true when more due ones wait (the next call goes on with them before it
    /// sweeps the wheel again), so a caller holding a lock others wait on can let go in between.
    /// </summary>
    public bool Expire(long now, List<Connection> removed, List<Connection> toConfirm, int max = int.MaxValue)
    {
        if (_dueNext >= _due.Count)
        {
            _due.Clear();
            _dueNext = 0;
            Recycle();
            _wheel.Advance(now, _due);
        }
        var end = (int)Math.Min(_due.Count, (long)_dueNext + max);
        for (; _dueNext < end; _dueNext++)
        {
            var (c, due) = _due[_dueNext];
            if (c.Removed || c.Due != due) continue; // filed again since, or gone
            var deadline = Deadline(c);
            if (deadline > now)
            {
                Arm(c, deadline, now); // seen since it was filed
                continue;
            }
            if (c.State == ConnectionState.Closed || !LastSeenElsewhere)
            {
                Remove(c);
                Expired++;
                removed.Add(c);
                continue;
            }
            toConfirm.Add(c);
            Arm(c, now + Settings.IdleTimeoutMs(c.State, c.Key.Protocol), now);
        }
        return _dueNext < _due.Count;
    }

    /// <summary>
    /// The gateway's answer about an idle-looking connection: idle for <paramref name="idleMs"/>
    /// there, in <paramref name="state"/> (negative: it knows the connection no more, so it goes;
    /// the gateway sees every packet and expires by its own clock). Else the time and state are
    /// taken over and the connection filed again. True when it was removed.
    /// </summary>
    public bool Confirm(in ConnectionKey key, long idleMs, ConnectionState state, long now)
    {
        if (!_connections.TryGetValue(key, out var c) || c.State == ConnectionState.Closed) return false;
        if (idleMs < 0)
        {
            Remove(c);
            Expired++;
            return true;
        }
        c.LastSeen = Math.Max(c.LastSeen, now - idleMs);
        Update(c, state, c.FinFromInside, c.FinFromOutside, now);
        Arm(c, Deadline(c), now);
        return false;
    }

    /// <summary>A state the gateway tracked on cached packets (FIN, RST): taken over, never going back from closed.</summary>
    public void Update(Connection c, ConnectionState state, bool finFromInside, bool finFromOutside, long now)
    {
        if (c.State == ConnectionState.Closed && state != ConnectionState.Closed) return;
        var before = c.State;
        c.FinFromInside |= finFromInside;
        c.FinFromOutside |= finFromOutside;
        c.State = state;
        Transitioned(c, before, now);
    }

    public void Clear()
    {
        _connections.Clear();
        _wheel.Clear();
    }

    /// <summary>
    /// The connections removed before this sweep become spares. Nothing of the table refers to
    /// them any more; a filing of theirs left on the wheel finds a deadline of the object's next
    /// life (judged as that life's, so harmless), and a cache entry checks the generation.
    /// </summary>
    private void Recycle()
    {
        _nat?.Recycle();
        var keep = Math.Max(SpareFloor, _connections.Count);
        foreach (var c in _retired)
        {
            if (_free.Count >= keep) break;
            _free.Push(c);
        }
        _retired.Clear();
    }

    private long Deadline(Connection c) => c.State == ConnectionState.Closed
        ? c.ClosedAt + _closedHoldMs
        : c.LastSeen + Settings.IdleTimeoutMs(c.State, c.Key.Protocol);

    private void Arm(Connection c, long due, long now)
    {
        c.Due = due;
        _wheel.Schedule(c, due, now);
    }
}
