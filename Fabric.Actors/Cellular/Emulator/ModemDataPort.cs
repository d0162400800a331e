using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.Cellular.Emulator;

/// <summary>Why the simulated modem's data path refused a packet.</summary>
public enum ModemDataDrop
{
    /// <summary>No bearer is active: nothing passes (the modem has no data call).</summary>
    NoBearer,

    /// <summary>Towards the network with a source other than the bearer's address (the carrier's anti-spoofing).</summary>
    WrongSource,

    /// <summary>From the network for an address other than the bearer's.</summary>
    NotForBearer,

    /// <summary>Not an IPv4 packet (the bearer is of PDP type IP).</summary>
    NotIpv4,
}

/// <summary>
/// The raw-IP data interface of a simulated modem, what a real modem exposes as a wwan net
/// device in raw-IP mode: IPv4 packets without a link header. It passes packets between the
/// bridge and the carrier side (<paramref name="carrier"/>: a TUN device whose other end is in a
/// carrier network namespace, or an in-memory carrier) only while the emulator has a bearer,
/// and only with the bearer's address, as a carrier's gateway does.
/// </summary>
public sealed class ModemDataPort(string name, ushort id, ModemEmulator emulator, IPort carrier) : Port(name, id)
{
    private readonly PacketBatch _inbound = new(capacity: 64);
    private readonly PacketBatch _outbound = new(capacity: 64);
    private readonly long[] _drops = new long[Enum.GetValues<ModemDataDrop>().Length];

    public IPort Carrier => carrier;

    public long Dropped(ModemDataDrop reason) => Interlocked.Read(ref _drops[(int)reason]);

    public override int ReceiveBatch(PacketBatch batch, int timeoutMs)
    {
        if (IsFinished) return 0;
        if (carrier.State is PortState.Closed or PortState.Gone)
        {
            // The carrier answers nothing any more: without this the receive loop would spin.
            SetState(PortState.Gone, $"carrier port {carrier.Name} is {carrier.State.ToString().ToLowerInvariant()}");
            return 0;
        }
        _inbound.Clear();
        var room = Math.Min(_inbound.Capacity, batch.Capacity - batch.Count);
        if (room <= 0 || carrier.ReceiveBatch(_inbound, timeoutMs) == 0) return 0;
        var address = emulator.Address;
        int added = 0;
        long bytes = 0;
        for (var i = 0; i < _inbound.Count && added < room; i++)
        {
            var packet = _inbound.Frame(i);
            if (!Passes(packet, address, inbound: true))
            {
                continue;
            }
            batch.TryAppend(packet, Id);
            added++;
            bytes += packet.Length;
        }
        if (added > 0) Counters.AddRx(added, bytes);
        return added;
    }

    public override int SendBatch(PacketBatch batch)
    {
        if (IsFinished)
        {
            Counters.AddDrop(PortDropReason.TxPortGone, batch.Count);
            return 0;
        }
        var address = emulator.Address;
        _outbound.Clear();
        var sent = 0;
        for (var i = 0; i < batch.Count; i++)
        {
            var packet = batch.Frame(i);
            if (!Passes(packet, address, inbound: false))
            {
                continue;
            }
            _outbound.TryAppend(packet);
            if (_outbound.IsFull) sent += Flush();
        }
        sent += Flush();
        return sent;
    }

    private int Flush()
    {
        if (_outbound.Count == 0) return 0;
        var bytes = _outbound.TotalBytes();
        var sent = carrier.SendBatch(_outbound);
        Counters.AddTx(sent, sent == _outbound.Count ? bytes : 0);
        _outbound.Clear();
        return sent;
    }

    /// <summary>
    /// Whether the bearer carries <paramref name="packet"/>: an IPv4 packet for the bearer's
    /// address (<paramref name="inbound"/>, from the network) or from it (towards the network);
    /// otherwise counts why not.
    /// </summary>
    private bool Passes(ReadOnlySpan<byte> packet, Ipv4Address? address, bool inbound)
    {
        ModemDataDrop? refused = !Ipv4View.TryParse(packet, out var ip, out _) ? ModemDataDrop.NotIpv4
            : address is not { } a ? ModemDataDrop.NoBearer
            : inbound && ip.Destination != a ? ModemDataDrop.NotForBearer
            : !inbound && ip.Source != a ? ModemDataDrop.WrongSource
            : null;
        if (refused is { } reason)
        {
            Drop(reason);
            return false;
        }

        return true;
    }

    private void Drop(ModemDataDrop reason) => Interlocked.Increment(ref _drops[(int)reason]);

    /// <summary>This port waits in its carrier's receive: stopping interrupts that wait.</summary>
    protected override void WakeReceiver()
    {
        if (carrier is Port port) port.InterruptReceive();
    }

    /// <summary>Waits without a timeout when the carrier's wait ends on a wake (memory and TAP carriers do).</summary>
    protected override bool WakeEndsReceiveWait => carrier is Port port && port.ReceiveWaitEndsOnWake;

    protected override void DisposeCore() => carrier.Dispose();
}
