using System.Collections.Concurrent;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.Cellular.Emulator;

/// <summary>The simulated carrier's network, the same for every simulated modem.</summary>
public static class SimulatedCarrier
{
    /// <summary>A server on the carrier's side (TEST-NET-2): the in-memory carrier answers its pings; the namespace carrier of the tests holds it.</summary>
    public static readonly Ipv4Address ServerAddress = new(198, 51, 100, 10);

    /// <summary>The carrier router's address on the server's network.</summary>
    public static readonly Ipv4Address RouterAddress = new(198, 51, 100, 1);
}

/// <summary>
/// An in-process carrier behind a simulated modem's raw-IP interface (ghost elements, the
/// embedded default without root): it keeps what the modem sends (the last
/// <see cref="KeepLast"/> packets, for verifiers and tests), answers ICMP echo requests to
/// <see cref="SimulatedCarrier.ServerAddress"/>, and lets a caller inject packets towards the
/// modem. Control path speed: a packet costs an allocation.
/// </summary>
public sealed class MemoryCarrierPort(string name, ushort id = 0) : Port(name, id)
{
    public const int KeepLast = 256;

    private readonly ConcurrentQueue<byte[]> _toModem = new();
    private readonly ConcurrentQueue<byte[]> _fromModem = new();
    private readonly SemaphoreSlim _ready = new(0);
    private readonly SemaphoreSlim _arrived = new(0);
    private long _echoReplies;

    /// <summary>The last packets the modem sent into the carrier, oldest first.</summary>
    public IReadOnlyList<byte[]> Received => [.. _fromModem];

    public long EchoReplies => Interlocked.Read(ref _echoReplies);

    /// <summary>Queues <paramref name="packet"/> (an IPv4 packet) for the modem.</summary>
    public void Inject(ReadOnlySpan<byte> packet)
    {
        _toModem.Enqueue(packet.ToArray());
        _ready.Release();
    }

    /// <summary>Waits until a packet the modem sent matches <paramref name="match"/>.</summary>
    public bool WaitForReceived(Func<byte[], bool> match, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (_fromModem.Any(match)) return true;
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero) return false;
            _arrived.Wait(left < TimeSpan.FromMilliseconds(50) ? left : TimeSpan.FromMilliseconds(50));
        }
    }

    public override int ReceiveBatch(PacketBatch batch, int timeoutMs)
    {
        if (IsFinished || batch.IsFull) return 0;
        if (!_ready.Wait(timeoutMs < 0 ? Timeout.Infinite : timeoutMs)) return 0;
        var added = 0;
        long bytes = 0;
        var first = true;
        while (!batch.IsFull && (first || _ready.Wait(0)))
        {
            first = false;
            if (!_toModem.TryDequeue(out var packet)) break;
            if (!batch.TryAppend(packet, Id))
            {
                Counters.AddDrop(PortDropReason.RxFrameTooLarge);
                continue;
            }
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
        for (var i = 0; i < batch.Count; i++)
        {
            var packet = batch.Frame(i);
            _fromModem.Enqueue(packet.ToArray());
            while (_fromModem.Count > KeepLast) _fromModem.TryDequeue(out _);
            AnswerEcho(packet);
        }
        _arrived.Release();
        Counters.AddTx(batch.Count, batch.TotalBytes());
        return batch.Count;
    }

    private void AnswerEcho(ReadOnlySpan<byte> packet)
    {
        if (!Ipv4View.TryParse(packet, out var ip, out _) || ip.Destination != SimulatedCarrier.ServerAddress
            || ip.Protocol != IpProtocol.Icmp || ip.IsFragment
            || !Icmpv4View.TryParse(ip.Payload, out var icmp, out _) || icmp.Type != Icmpv4Type.EchoRequest)
        {
            return;
        }
        var echo = Icmpv4Repr.EchoReplyTo(icmp);
        var reply = new Ipv4Repr(ip.Destination, ip.Source, IpProtocol.Icmp, echo.BufferLength) { Identification = ip.Identification };
        var bytes = new byte[reply.BufferLength];
        icmp.Data.CopyTo(bytes.AsSpan(reply.HeaderLength + echo.HeaderLength));
        echo.Emit(bytes.AsSpan(reply.HeaderLength));
        reply.Emit(bytes);
        Interlocked.Increment(ref _echoReplies);
        Inject(bytes);
    }

    protected override void WakeReceiver() => _ready.Release();

    protected override void DisposeCore()
    {
        _ready.Dispose();
        _arrived.Dispose();
    }
}
