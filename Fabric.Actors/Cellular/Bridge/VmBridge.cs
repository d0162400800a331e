using System.Diagnostics;
using Fabric.Actors.DataPlane.Host;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.Cellular.Bridge;

/// <summary>Why the bridge dropped a frame or packet; each reason is counted.</summary>
public enum BridgeDrop
{
    /// <summary>Did not parse as Ethernet / IPv4.</summary>
    Malformed,

    /// <summary>From the VM's port but not from the VM's MAC (only the mapped MAC may use the cellular address).</summary>
    ForeignMac,

    /// <summary>Unicast to a MAC other than the bridge's.</summary>
    NotForBridge,

    /// <summary>Neither ARP nor IPv4 (the bearer is PDP type IP: no IPv6, no other protocols).</summary>
    Unsupported,

    /// <summary>IPv4 from the VM while there is no cellular address (bearer down).</summary>
    NoAddress,

    /// <summary>IPv4 from the VM with a source that is not the cellular address (nor the previous one while the VM moves).</summary>
    WrongSource,

    /// <summary>From the modem for an address that is not the VM's.</summary>
    NotForVm,

    /// <summary>ARP or ICMP for the gateway that needs no answer (replies, other targets, other ICMP).</summary>
    GatewayIgnored,
}

/// <summary>
/// Passthrough of one VM to one modem, the seed's L2 bridge interface: the bridge owns the
/// cellular address and has its own MAC; the VM's MAC is mapped to it.
/// <list type="bullet">
/// <item>VM → bridge: ARP and ping for the gateway are answered, DHCP is served
/// (<see cref="BridgeDhcp"/>: exactly this VM's MAC gets the cellular address), IPv4 with the
/// cellular source is stripped of its Ethernet header and sent on the modem's raw-IP interface.</item>
/// <item>modem → VM: IPv4 for the cellular address is framed bridge MAC → VM MAC.</item>
/// <item>Address change: the new address is taken at once; until the VM has renewed onto it
/// (at most T1 later, see <see cref="LeaseTerms"/>), packets the VM still sends from the old
/// address are translated to the new one and replies back (RFC 1624 checksum updates), so
/// ping and UDP keep flowing while the lease moves. A TCP connection of the old address cannot
/// survive a new address, translated or not.</item>
/// </list>
/// Runs on the ports' receive threads, allocation-free per frame; <see cref="SetAddress"/> may
/// be called from any thread.
/// </summary>
public sealed class VmBridge
{
    private const long NoAddressValue = -1;

    private static readonly int DropCount = Enum.GetValues<BridgeDrop>().Length;

    private readonly IPort _vmPort;
    private readonly IPort _modemPort;
    private readonly PacketBatchPool _pool;
    private readonly L3Host _gatewayHost;
    private readonly Lock _vmSendLock = new();
    private readonly long[] _drops = new long[DropCount];
    private long _address = NoAddressValue;
    private long _previous = NoAddressValue;
    private long _vmAddress = NoAddressValue;
    private long _changedAt;
    private long _lastMoveMs = -1;
    private long _toModem;
    private long _toVm;
    private long _translated;
    private long _offers;
    private long _acks;
    private long _naks;
    private long _addressChanges;

    public VmBridge(string vm, MacAddress bridgeMac, MacAddress vmMac, LeaseTerms terms, IPort vmPort, IPort modemPort, PacketBatchPool pool)
    {
        Vm = vm;
        BridgeMac = bridgeMac;
        VmMac = vmMac;
        Terms = terms;
        _vmPort = vmPort;
        _modemPort = modemPort;
        _pool = pool;
        _gatewayHost = new L3Host(bridgeMac, terms.Gateway);
    }

    public string Vm { get; }

    public MacAddress BridgeMac { get; }

    public MacAddress VmMac { get; }

    public LeaseTerms Terms { get; }

    public IPort VmPort => _vmPort;

    public IPort ModemPort => _modemPort;

    /// <summary>The cellular address the bridge owns, or null while the bearer is down.</summary>
    public Ipv4Address? Address => Read(ref _address);

    /// <summary>The address the VM was last given an ACK for.</summary>
    public Ipv4Address? VmAddress => Read(ref _vmAddress);

    /// <summary>Milliseconds from the last address change to the VM's ACK on the new address (-1: not yet).</summary>
    public long LastMoveMs => Interlocked.Read(ref _lastMoveMs);

    public long ToModem => Interlocked.Read(ref _toModem);

    public long ToVm => Interlocked.Read(ref _toVm);

    public long Translated => Interlocked.Read(ref _translated);

    public long DhcpOffers => Interlocked.Read(ref _offers);

    public long DhcpAcks => Interlocked.Read(ref _acks);

    public long DhcpNaks => Interlocked.Read(ref _naks);

    public long AddressChanges => Interlocked.Read(ref _addressChanges);

    public long ArpReplies => _gatewayHost.ArpRepliesSent;

    public long Dropped(BridgeDrop reason) => Interlocked.Read(ref _drops[(int)reason]);

    /// <summary>Takes the modem's new address (null: bearer down). The old one stays translatable until the VM moves.</summary>
    public void SetAddress(Ipv4Address? address)
    {
        var value = address is { } a ? a.ToUInt32() : NoAddressValue;
        var old = Interlocked.Exchange(ref _address, value);
        if (old == value) return;
        // The address the VM still uses: the one just replaced, or (after the bearer was down and
        // came back elsewhere) the one it was last given.
        var vm = Interlocked.Read(ref _vmAddress);
        var stale = old != NoAddressValue ? old : vm;
        if (value != NoAddressValue && stale != NoAddressValue && stale != value)
        {
            Interlocked.Exchange(ref _previous, stale);
            Interlocked.Increment(ref _addressChanges);
        }
        Interlocked.Exchange(ref _changedAt, Stopwatch.GetTimestamp());
        Interlocked.Exchange(ref _lastMoveMs, -1);
    }

    /// <summary>Starts both ports' receive threads.</summary>
    public void Start()
    {
        _vmPort.StartReceiving(_pool, FromVm);
        _modemPort.StartReceiving(_pool, FromModem);
    }

    public void Stop()
    {
        _vmPort.StopReceiving();
        _modemPort.StopReceiving();
    }

    /// <summary>Frames from the VM's port; takes ownership of <paramref name="batch"/>.</summary>
    public void FromVm(PacketBatch batch)
    {
        var replies = _pool.Rent();
        var toModem = _pool.Rent();
        try
        {
            var address = Address;
            var previous = Read(ref _previous);
            for (var i = 0; i < batch.Count; i++)
            {
                if (Tracer is not { } tracer)
                {
                    FromVmFrame(batch.Frame(i), replies, toModem, address, previous);
                    continue;
                }
                var arrived = batch.Frame(i).ToArray();
                _lastDrop = null;
                FromVmFrame(batch.Frame(i), replies, toModem, address, previous);
                if (_lastDrop is { } reason) tracer.Drop(arrived, $"bridge of vm {Vm}", reason.ToString());
                else tracer.Hop(arrived, $"bridge of vm {Vm}", $"to the modem as raw IP (cellular address {address})");
            }
            if (toModem.Count > 0)
            {
                Interlocked.Add(ref _toModem, _modemPort.SendBatch(toModem));
            }
            if (replies.Count > 0)
            {
                SendToVm(replies);
            }
        }
        finally
        {
            toModem.Return();
            replies.Return();
            batch.Return();
        }
    }

    private void FromVmFrame(Span<byte> frame, PacketBatch replies, PacketBatch toModem, Ipv4Address? address, Ipv4Address? previous)
    {
        if (!EthernetView.TryParse(frame, out var ethernet, out _))
        {
            Drop(BridgeDrop.Malformed);
            return;
        }
        if (ethernet.Source != VmMac)
        {
            Drop(BridgeDrop.ForeignMac);
            return;
        }
        if (ethernet.Destination != BridgeMac && !ethernet.Destination.IsBroadcast)
        {
            Drop(ethernet.Destination.IsMulticast ? BridgeDrop.Unsupported : BridgeDrop.NotForBridge);
            return;
        }
        if (ethernet.EtherType == EtherType.Arp)
        {
            if (!_gatewayHost.Process(frame, replies)) Drop(BridgeDrop.GatewayIgnored);
            return;
        }
        if (ethernet.EtherType != EtherType.Ipv4)
        {
            Drop(BridgeDrop.Unsupported);
            return;
        }
        if (!Ipv4View.TryParse(ethernet.Payload, out var ip, out _))
        {
            Drop(BridgeDrop.Malformed);
            return;
        }
        if (ip.Protocol == IpProtocol.Udp && !ip.IsLaterFragment && UdpView.TryParse(ip.Payload, out var udp, out _)
            && udp.DestinationPort == UdpPorts.DhcpServer)
        {
            ServeDhcp(udp.Payload, replies, address);
            return;
        }
        if (ip.Destination == Terms.Gateway)
        {
            if (!_gatewayHost.Process(frame, replies)) Drop(BridgeDrop.GatewayIgnored);
            return;
        }
        if (ip.Destination.IsBroadcast || ip.Destination.IsMulticast)
        {
            Drop(BridgeDrop.Unsupported);
            return;
        }
        if (address is not { } current)
        {
            Drop(BridgeDrop.NoAddress);
            return;
        }
        var packet = frame.Slice(EthernetLayout.HeaderLength, ip.Bytes.Length);
        if (ip.Source == current)
        {
            toModem.TryAppend(packet);
            return;
        }
        if (previous is { } old && ip.Source == old && VmAddress == old)
        {
            // The VM has not renewed onto the new address yet: carry it across.
            if (NatRewrite.TryRewriteSource(packet, current, null, out _))
            {
                Interlocked.Increment(ref _translated);
                toModem.TryAppend(packet);
                return;
            }
        }
        Drop(BridgeDrop.WrongSource);
    }

    private void ServeDhcp(ReadOnlySpan<byte> message, PacketBatch replies, Ipv4Address? address)
    {
        if (!DhcpRepr.TryParse(message, out var request, out _) || request.ClientHardwareAddress != VmMac)
        {
            Drop(BridgeDrop.Malformed);
            return;
        }
        var decision = BridgeDhcp.Answer(request, address, Terms, out var reply);
        switch (decision)
        {
            case DhcpDecision.Offered:
                Interlocked.Increment(ref _offers);
                break;
            case DhcpDecision.Acknowledged:
                Interlocked.Increment(ref _acks);
                var moved = reply.YourAddress.ToUInt32();
                if (Interlocked.Exchange(ref _vmAddress, moved) != moved && Interlocked.Read(ref _changedAt) != 0)
                {
                    Interlocked.Exchange(ref _lastMoveMs, (long)Stopwatch.GetElapsedTime(Interlocked.Read(ref _changedAt)).TotalMilliseconds);
                }
                break;
            case DhcpDecision.Refused:
                Interlocked.Increment(ref _naks);
                break;
            default:
                return;
        }
        BridgeDhcp.AppendFrame(replies, reply, BridgeMac, Terms.Gateway, request.ClientAddress);
    }

    /// <summary>Packets from the modem's raw-IP interface; takes ownership of <paramref name="batch"/>.</summary>
    public void FromModem(PacketBatch batch)
    {
        var toVm = _pool.Rent();
        try
        {
            var address = Address;
            var vmAddress = VmAddress;
            for (var i = 0; i < batch.Count; i++)
            {
                var packet = batch.Frame(i);
                if (!Ipv4View.TryParse(packet, out var ip, out _))
                {
                    Drop(BridgeDrop.Malformed);
                    continue;
                }
                if (address is not { } current || ip.Destination != current)
                {
                    Drop(BridgeDrop.NotForVm);
                    continue;
                }
                var room = toVm.NextFrameRoom();
                var length = EthernetLayout.HeaderLength + ip.Bytes.Length;
                if (room.Length < length) continue;
                ip.Bytes.CopyTo(room[EthernetLayout.HeaderLength..]);
                new EthernetRepr(BridgeMac, VmMac, EtherType.Ipv4).Emit(room);
                if (vmAddress is { } old && old != current && old == Read(ref _previous)
                    && NatRewrite.TryRewriteDestination(room.Slice(EthernetLayout.HeaderLength, ip.Bytes.Length), old, null, out _))
                {
                    Interlocked.Increment(ref _translated);
                }
                if (length < EthernetLayout.MinimumFrameLength)
                {
                    room[length..EthernetLayout.MinimumFrameLength].Clear();
                    length = EthernetLayout.MinimumFrameLength;
                }
                toVm.Commit(length);
            }
            if (toVm.Count > 0) Interlocked.Add(ref _toVm, SendToVm(toVm));
        }
        finally
        {
            toVm.Return();
            batch.Return();
        }
    }

    /// <summary>The VM port has one sender at a time (IPort): replies and forwarded packets come from two threads.</summary>
    private int SendToVm(PacketBatch frames)
    {
        if (Ghost)
        {
            // A ghost bridge's frames belong to the ghost network (its VM port refuses others).
            for (var i = 0; i < frames.Count; i++) frames[i].IsGhost = true;
        }
        lock (_vmSendLock)
        {
            return _vmPort.SendBatch(frames);
        }
    }

    private void Drop(BridgeDrop reason)
    {
        Interlocked.Increment(ref _drops[(int)reason]);
        _lastDrop = reason;
    }

    /// <summary>The ghost network's bridge: what it sends its VM is marked ghost.</summary>
    public bool Ghost { get; init; }

    /// <summary>Ghost only: reports each probe from the VM (to the modem, or dropped and why).</summary>
    public IHopTracer? Tracer { get; init; }

    private BridgeDrop? _lastDrop; // the VM receive thread only

    private static Ipv4Address? Read(ref long field)
    {
        var value = Interlocked.Read(ref field);
        return value == NoAddressValue ? null : new Ipv4Address((uint)value);
    }
}
