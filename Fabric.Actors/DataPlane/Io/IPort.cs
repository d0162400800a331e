namespace Fabric.Actors.DataPlane.Io;

/// <summary>Life of a port as its owner sees it.</summary>
public enum PortState
{
    /// <summary>Open and moving frames.</summary>
    Up,

    /// <summary>Open, but the link is down (TAP interface down): frames are dropped, not fatal.</summary>
    LinkDown,

    /// <summary>The device or socket vanished under the port; it will not come back (restart the port).</summary>
    Gone,

    /// <summary>Disposed by its owner.</summary>
    Closed,
}

/// <summary>
/// An attachment that moves Ethernet frames (or, for the underlay, encapsulated frames) in
/// batches. Two ways to receive: pull with <see cref="ReceiveBatch"/>, or let the port run a
/// dedicated receive thread with <see cref="StartReceiving"/> that hands full-or-idle batches to
/// a callback. Do not mix them on one port.
/// <para>Threading: one receiver and one sender may run at the same time (each direction has its
/// own scratch state), but not two senders or two receivers. Counters and state are safe to read
/// from any thread. Do not dispose a port from its own receive callback.</para>
/// </summary>
public interface IPort : IDisposable
{
    string Name { get; }

    /// <summary>Written into <see cref="Packet.IngressPort"/> of every received frame.</summary>
    ushort Id { get; }

    PortState State { get; }

    /// <summary>
    /// Raised once, on whichever thread noticed, when the port becomes <see cref="PortState.Gone"/>
    /// (its device vanished, its receive failed): an owner restarts it on this instead of
    /// polling <see cref="State"/> on a timer.
    /// </summary>
    event Action? WentAway;

    /// <summary>Why the port left <see cref="PortState.Up"/>, if it did.</summary>
    string? StateDetail { get; }

    PortCounters Counters { get; }

    /// <summary>Optional capture every received and sent frame is copied into.</summary>
    PcapWriter? Tee { get; set; }

    /// <summary>
    /// Appends received frames to <paramref name="batch"/> (after any it already holds), waiting
    /// up to <paramref name="timeoutMs"/> ms for the first (0 = do not wait, -1 = forever). Returns
    /// how many were added; 0 on timeout, or once the port is gone or closed.
    /// </summary>
    int ReceiveBatch(PacketBatch batch, int timeoutMs);

    /// <summary>
    /// Sends every frame of <paramref name="batch"/>; returns how many left. Frames that could not
    /// be sent are counted as drops with a reason. The batch is only borrowed: the caller still
    /// owns it afterwards.
    /// </summary>
    int SendBatch(PacketBatch batch);

    /// <summary>
    /// Starts receiving: on one of the shared I/O loops (simulated, ghost and UDP underlay ports) or
    /// on a receive thread of the port's own (TAP and device ports), batches are rented from
    /// <paramref name="pool"/> (null = the loop's shared pool), filled, and each non-empty one is
    /// passed to <paramref name="onBatch"/>, which then owns it (and must return it or hand it on).
    /// The callback runs on the receiving thread and must not block. Receiving ends on
    /// <see cref="StopReceiving"/>, on dispose, when the port is gone, or if the callback throws
    /// (the port then reports <see cref="PortState.Gone"/>).
    /// </summary>
    void StartReceiving(PacketBatchPool? pool, Action<PacketBatch> onBatch);

    /// <summary>
    /// Receives with batches from the shared pool of the I/O loop the port is given to (bounded:
    /// when it is exhausted the port drops at ingress and counts <see cref="PortDropReason.RxNoBuffer"/>).
    /// </summary>
    void StartReceiving(Action<PacketBatch> onBatch);

    /// <summary>Stops receiving and waits until no receive or callback of this port runs any more.</summary>
    void StopReceiving();
}
