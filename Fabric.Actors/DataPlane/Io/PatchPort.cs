using System.Collections.Concurrent;

namespace Fabric.Actors.DataPlane.Io;

/// <summary>
/// One node's in-process links between two of its elements, by name (what OVS patch ports are
/// between two bridges): the element on one side opens a <see cref="PatchPort"/> like any port,
/// the element on the other side attaches a handler to the same <see cref="PatchLink"/>. A
/// gateway's router port on a tenant's logical switch is one: the gateway opens the port, the MFE
/// of the gateway's node carries the switch side. Either side may come and go first; frames
/// offered while the other side is absent are dropped and counted. One panel per plane (main,
/// ghost), so a ghost element never meets a main one.
/// </summary>
public sealed class PatchPanel
{
    private readonly ConcurrentDictionary<string, PatchLink> _links = new(StringComparer.Ordinal);

    /// <summary>The link called <paramref name="name"/>, made the first time either side asks.</summary>
    public PatchLink Link(string name) => _links.GetOrAdd(name, n => new PatchLink(n));

    /// <summary>Name of the link between gateway <paramref name="gateway"/>'s router port for <paramref name="tenant"/> and that tenant's logical switch.</summary>
    public static string RouterPort(string gateway, string tenant) => $"lrp:{gateway}/{tenant}";

    /// <summary>Opens the port side of <paramref name="name"/> (a port opened again replaces the earlier one).</summary>
    public PatchPort Open(string name, ushort id) => new(Link(name), id);
}

/// <summary>
/// A patch link: the port side (a <see cref="PatchPort"/>, whose owner receives what the switch
/// side sends) and the switch side (a handler given each batch the port sends, borrowed, on the
/// port owner's thread).
/// </summary>
public sealed class PatchLink(string name)
{
    private volatile Action<PacketBatch>? _switch;
    private volatile PatchPort? _port;

    public string Name => name;

    /// <summary>True while an element carries the switch side.</summary>
    public bool HasSwitch => _switch is not null;

    /// <summary>True while the port side is open and listening.</summary>
    public bool HasPort => _port is { IsListening: true };

    /// <summary>Attaches the switch side: <paramref name="handler"/> gets every batch the port sends (borrowed).</summary>
    public void AttachSwitch(Action<PacketBatch> handler) => _switch = handler;

    /// <summary>Detaches the switch side if <paramref name="handler"/> is still the attached one.</summary>
    public void DetachSwitch(Action<PacketBatch> handler) => Interlocked.CompareExchange(ref _switch, null, handler);

    /// <summary>
    /// Hands the frames of <paramref name="batch"/> (borrowed) to the port's owner, copied into a
    /// batch of its pool (ghost flags kept). Returns how many were handed over: 0 when no port
    /// listens. Safe from several threads at once.
    /// </summary>
    public int ToPort(PacketBatch batch) => _port is { } port ? port.Deliver(batch) : 0;

    internal void SendToSwitch(PacketBatch batch) => _switch?.Invoke(batch);

    internal void Attach(PatchPort port) => _port = port;

    internal void Detach(PatchPort port) => Interlocked.CompareExchange(ref _port, null, port);
}

/// <summary>
/// The port side of a <see cref="PatchLink"/>: sending hands the batch to the switch side on the
/// sender's thread (dropped as <see cref="PortDropReason.TxNoPeer"/> while nothing carries it);
/// receiving has no thread of its own: the switch side's frames are pushed to the callback given
/// to <see cref="Listen"/>, which owns each batch it gets.
/// </summary>
public sealed class PatchPort : Port
{
    private readonly PatchLink _link;
    private volatile Listener? _listener;

    internal PatchPort(PatchLink link, ushort id)
        : base(link.Name, id)
    {
        _link = link;
        link.Attach(this);
    }

    public PatchLink Link => _link;

    internal bool IsListening => _listener is not null && !IsFinished;

    /// <summary>From now on the switch side's frames arrive at <paramref name="onBatch"/> (owned), in batches of <paramref name="pool"/>.</summary>
    public void Listen(PacketBatchPool pool, Action<PacketBatch> onBatch) => _listener = new Listener(pool, onBatch);

    /// <summary>Nothing to pull: frames are pushed to <see cref="Listen"/>'s callback.</summary>
    public override int ReceiveBatch(PacketBatch batch, int timeoutMs) => 0;

    public override int SendBatch(PacketBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (IsFinished || !_link.HasSwitch)
        {
            Counters.AddDrop(PortDropReason.TxNoPeer, batch.Count);
            return 0;
        }

        long bytes = 0;
        for (int i = 0; i < batch.Count; i++)
        {
            bytes += batch[i].Length;
        }

        Tee?.WriteBatch(batch);
        _link.SendToSwitch(batch);
        Counters.AddTx(batch.Count, bytes);
        return batch.Count;
    }

    internal int Deliver(PacketBatch frames)
    {
        if (_listener is not { } listener || IsFinished)
        {
            return 0;
        }

        PacketBatch copy = listener.Pool.Rent();
        long bytes = 0;
        for (int i = 0; i < frames.Count; i++)
        {
            ReadOnlySpan<byte> frame = frames.Frame(i);
            if (!copy.TryAppend(frame, Id))
            {
                Counters.AddDrop(PortDropReason.RxFrameTooLarge);
                continue;
            }

            copy[copy.Count - 1].IsGhost = frames[i].IsGhost;
            bytes += frame.Length;
        }

        int count = copy.Count;
        if (count == 0)
        {
            copy.Return();
            return 0;
        }

        Counters.AddRx(count, bytes);
        Tee?.WriteBatch(copy);
        listener.OnBatch(copy); // ownership passes to the listener
        return count;
    }

    protected override void DisposeCore()
    {
        _listener = null;
        _link.Detach(this);
    }

    private sealed record Listener(PacketBatchPool Pool, Action<PacketBatch> OnBatch);
}
