using System.Collections.Concurrent;
using System.Collections.Immutable;
using Akka.Actor;
using Fabric.Actors.DataPlane.Flow;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Messages.Gateway;

namespace Fabric.Actors.Gateway.Actors;

/// <summary>A connection state the gateway moved on a cached packet, as a gateway on the entity's node hands it over (no message).</summary>
internal readonly record struct ConnectionChange(ConnectionKey Key, ConnectionState State, bool FinFromInside, bool FinFromOutside);

/// <summary>
/// A flow-cache entity's state (its bucket's NAT bindings and connections, and the plan it
/// decides with) behind a lock, so that a gateway on the same node can decide a miss on the
/// port's receive thread instead of sending it: a new connection's SYN then costs no thread hop
/// and no mailbox on either side (see <see cref="MissResolver"/>'s direct mode). The entity takes
/// the lock in every handler; the gateway reaches it only through <see cref="TryDecide"/>,
/// <see cref="Update"/> and <see cref="Confirm"/>, once its messages to the entity have drained.
/// Lock order: the gateway's data path, then this.
/// </summary>
internal sealed class FlowCacheBucket(IActorRef entity)
{
    private int _upkeepAsked;

    /// <summary>Held by the entity's handlers and by a gateway deciding here.</summary>
    public Lock Gate { get; } = new();

    public FlowCacheShard? Shard { get; set; }
    public GatewayPlan? Plan { get; set; }
    /// <summary>A new incarnation waits for the gateway's restore before it decides anything.</summary>
    public bool AwaitingRestore { get; set; } = true;
    /// <summary>The entity stopped: what is here is no one's any more.</summary>
    public bool Stopped { get; set; }
    /// <summary>Misses decided, by message and here.</summary>
    public long Resolved { get; set; }
    public long Batches { get; set; }
    /// <summary>The deadline the entity's sweep is armed for (<see cref="long.MaxValue"/>: none).</summary>
    public long SweepArmedAt { get; set; } = long.MaxValue;

    /// <summary>
    /// Decides one miss here, as the entity's ResolveFlows does (<see cref="FlowResolver.Decide"/>,
    /// no message made), when the entity can (configured for <paramref name="generation"/> or
    /// later, restored, running); false: send it instead. The entity is asked afterwards (once, off
    /// this thread) to hand back emptied blocks, ask for spares and arm its sweep, when there is any
    /// of that to do.
    /// </summary>
    public bool TryDecide(in FlowKey key, TcpFlags tcpFlags, byte ttl, bool fromUplink, uint generation, bool trace, long now, Span<uint> tally,
        out EntityAnswer answer, out List<string>? traceLines, out uint decidedWith)
    {
        lock (Gate)
        {
            if (Stopped || AwaitingRestore || Shard is null || Plan is null || generation > Plan.Generation)
            {
                answer = default;
                traceLines = null;
                decidedWith = 0;
                return false;
            }
            FlowResolver.Decide(Shard, Plan, key, tcpFlags, ttl, fromUplink, now, tally, out answer);
            traceLines = null;
            if (trace && answer.TallyCount > 0)
            {
                traceLines = new List<string>(answer.TallyCount + 1);
                foreach (var rec in Shard.LastRecords(answer.TallyCount)) traceLines.Add(rec.ToString());
            }
            decidedWith = Plan.Generation;
            Resolved++;
            AskUpkeep();
        }
        return true;
    }

    /// <summary>The gateway, directly: connection states it moved on cached packets (<see cref="ApplyUpdates"/>).</summary>
    public void Update(ImmutableArray<ConnectionUpdate> updates, long now)
    {
        lock (Gate)
        {
            ApplyUpdates(updates, now);
            AskUpkeep();
        }
    }

    /// <summary>The gateway, directly: its answer to the entity's idle check (<see cref="ApplyConfirm"/>).</summary>
    public void Confirm(ConnectionsChecked m, long now)
    {
        lock (Gate)
        {
            ApplyConfirm(m, now);
            AskUpkeep();
        }
    }

    /// <summary>The gateway on this node, directly: the same as <see cref="Update(ImmutableArray{ConnectionUpdate}, long)"/>, with no message made.</summary>
    public void Update(ReadOnlySpan<ConnectionChange> changes, long now)
    {
        lock (Gate)
        {
            if (Shard is not null)
            {
                foreach (ref readonly var change in changes) Apply(change.Key, change.State, change.FinFromInside, change.FinFromOutside, now);
            }
            AskUpkeep();
        }
    }

    /// <summary>FINs and RSTs the gateway tracked on cached packets: a closed connection starts its hold now. Holding the lock.</summary>
    public void ApplyUpdates(ImmutableArray<ConnectionUpdate> updates, long now)
    {
        if (Shard is null) return;
        foreach (var u in updates) Apply(FlowResolver.KeyOf(u.Connection), (ConnectionState)u.State, u.FinFromInside, u.FinFromOutside, now);
    }

    private void Apply(in ConnectionKey key, ConnectionState state, bool finFromInside, bool finFromOutside, long now)
    {
        if (Shard!.Connections.Find(key) is not { } c) return;
        c.LastSeen = Math.Max(c.LastSeen, now);
        Shard.Connections.Update(c, state, finFromInside, finFromOutside, now);
    }

    /// <summary>The gateway's answer to an idle check: how long each connection has been idle there, and its state. Holding the lock.</summary>
    public void ApplyConfirm(ConnectionsChecked m, long now)
    {
        if (Shard is null) return;
        for (var i = 0; i < m.Connections.Length && i < m.IdleMs.Length && i < m.States.Length; i++)
        {
            Shard.Connections.Confirm(FlowResolver.KeyOf(m.Connections[i]), m.IdleMs[i], (ConnectionState)m.States[i], now);
        }
    }

    /// <summary>The entity ran its upkeep: the next change here asks again.</summary>
    public void UpkeepDone() => Volatile.Write(ref _upkeepAsked, 0);

    /// <summary>Holding the lock: wakes the entity (once until it ran) when blocks are to go back or be asked for, or a connection is due before its sweep.</summary>
    private void AskUpkeep()
    {
        if (Shard is null || (!Shard.Nat.HasLedgerNews && Shard.Connections.NextDue >= SweepArmedAt)) return;
        if (Interlocked.Exchange(ref _upkeepAsked, 1) == 0) entity.Tell(FlowCacheUpkeep.Instance);
    }
}

/// <summary>To an entity whose state a gateway changed directly: hand back blocks, ask for spares, arm the sweep. Local only.</summary>
internal sealed class FlowCacheUpkeep
{
    public static readonly FlowCacheUpkeep Instance = new();
}

/// <summary>
/// The flow-cache entities running on this node, by their actor: where a gateway on the node
/// finds the one it may decide misses with. An entity is listed from its start to its stop.
/// </summary>
internal sealed class FlowCacheBuckets : IExtension
{
    private readonly ConcurrentDictionary<IActorRef, FlowCacheBucket> _buckets = new();

    public static FlowCacheBuckets For(ActorSystem system) => system.WithExtension<FlowCacheBuckets, FlowCacheBucketsProvider>();

    public void Add(IActorRef entity, FlowCacheBucket bucket) => _buckets[entity] = bucket;

    public void Remove(IActorRef entity) => _buckets.TryRemove(entity, out _);

    public FlowCacheBucket? Of(IActorRef entity) => _buckets.GetValueOrDefault(entity);
}

internal sealed class FlowCacheBucketsProvider : ExtensionIdProvider<FlowCacheBuckets>
{
    public override FlowCacheBuckets CreateExtension(ExtendedActorSystem system) => new();
}
