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
/// embedded default without root): it keeps the IPv4 packets the modem sends
/// (<see cref="MemoryPort.Sent"/>), answers ICMP echo requests to
/// <see cref="SimulatedCarrier.ServerAddress"/>, and takes packets to inject towards the modem.
/// </summary>
public sealed class MemoryCarrierPort(string name, ushort id = 0) : MemoryPort(name, id)
{
    private long _echoReplies;

    public long EchoReplies => Interlocked.Read(ref _echoReplies);

    protected override void OnSent(ReadOnlySpan<byte> packet)
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
}
