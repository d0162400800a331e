using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.Gateway;

/// <summary>
/// When to ask ARP again for a next hop nobody answers (a static route's router, a DNAT target):
/// at once, then after <c>min</c>, doubling to <c>max</c> per next hop, and never again once it is
/// resolved (the data path still asks on demand when a packet needs it). A gateway whose uplink
/// router is down thus sends a few requests a minute, not two a second forever. Plain state, used
/// by the gateway actor in rounds: <see cref="Ask"/> for each unresolved next hop, then
/// <see cref="EndRound"/>, after which <see cref="NextDue"/> says when the next round is due.
/// </summary>
internal sealed class NeighborRetry(long minMs, long maxMs)
{
    private readonly Dictionary<(ushort Port, Ipv4Address Address), (long At, long DelayMs, int Round)> _hops = [];
    private readonly List<(ushort, Ipv4Address)> _gone = [];
    private int _round;

    /// <summary>When (Environment.TickCount64 ms) a next hop is next due to be asked; <see cref="long.MaxValue"/>: none waits.</summary>
    public long NextDue { get; private set; } = long.MaxValue;

    /// <summary>Next hops asked at least once and still unresolved at the last round.</summary>
    public int Unresolved => _hops.Count;

    /// <summary>An unresolved next hop of this round: true when a request is due now.</summary>
    public bool Ask(ushort port, Ipv4Address address, long now)
    {
        var key = (port, address);
        if (!_hops.TryGetValue(key, out var hop))
        {
            _hops[key] = (now + minMs, minMs, _round);
            return true;
        }
        if (now < hop.At)
        {
            _hops[key] = hop with { Round = _round };
            return false;
        }
        var delay = Math.Min(hop.DelayMs * 2, maxMs);
        _hops[key] = (now + delay, delay, _round);
        return true;
    }

    /// <summary>Forgets the next hops not asked about this round (resolved, or no longer configured) and sets <see cref="NextDue"/>.</summary>
    public void EndRound()
    {
        var next = long.MaxValue;
        foreach (var (key, hop) in _hops)
        {
            if (hop.Round != _round) _gone.Add(key);
            else next = Math.Min(next, hop.At);
        }
        foreach (var key in _gone) _hops.Remove(key);
        _gone.Clear();
        NextDue = next;
        _round++;
    }
}
