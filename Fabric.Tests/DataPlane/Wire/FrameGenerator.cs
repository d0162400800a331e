using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Tests.DataPlane.Wire;

/// <summary>
/// Builds valid frames of every protocol with our Reprs from a seeded Random, inside out
/// (payload, then L4, L3, tags, Ethernet), for the cross-check and robustness tests.
/// </summary>
public sealed class FrameGenerator(int seed)
{
    public enum Kind { Arp, IcmpEcho, IcmpError, Udp, Tcp, Fragment, MplsInUdp, Vxlan, Geneve, Dhcp, MplsIpv4 }

    public static readonly Kind[] AllKinds = Enum.GetValues<Kind>();

    private readonly Random _random = new(seed);

    public Random Random => _random;

    public MacAddress Mac() => new(((ulong)_random.NextInt64() & 0xFEFF_FFFF_FFFFUL) | 0x0200_0000_0000UL);
    public Ipv4Address Ip() => new((uint)_random.NextInt64(0x0100_0000, 0xE000_0000));
    public ushort Port() => (ushort)_random.Next(10_000, 60_000);

    public byte[] Bytes(int min, int max)
    {
        var bytes = new byte[_random.Next(min, max + 1)];
        _random.NextBytes(bytes);
        return bytes;
    }

    /// <summary>0, 1 or 2 VLAN tags at random.</summary>
    public VlanTagRepr[] Tags()
    {
        var n = _random.Next(3);
        var tags = new VlanTagRepr[n];
        for (var i = 0; i < n; i++)
        {
            tags[i] = new VlanTagRepr(new VlanId(_random.Next(1, 4095)), 0, (byte)_random.Next(8), _random.Next(4) == 0);
        }
        return tags;
    }

    public byte[] Frame(Kind kind) => kind switch
    {
        Kind.Arp => Arp(Tags()),
        Kind.IcmpEcho => Ipv4Frame(Tags(), IcmpEcho(out var proto), proto),
        Kind.IcmpError => Ipv4Frame(Tags(), IcmpError(), IpProtocol.Icmp),
        Kind.Udp => Ipv4Frame(Tags(), Udp(Port(), Port(), Bytes(0, 300)), IpProtocol.Udp),
        Kind.Tcp => Ipv4Frame(Tags(), Tcp(Bytes(0, 300)), IpProtocol.Tcp),
        Kind.Fragment => Ipv4Frame(Tags(), Bytes(8, 200), IpProtocol.Udp, fragmentOffset: _random.Next(0, 100) * 8, moreFragments: true),
        Kind.MplsInUdp => Ipv4Frame([], Udp(MplsInUdp.EntropySourcePort((ulong)_random.NextInt64()), MplsInUdp.Port, PwPayload()), IpProtocol.Udp),
        Kind.Vxlan => Ipv4Frame([], Udp(Port(), UdpPorts.Vxlan, Vxlan()), IpProtocol.Udp),
        Kind.Geneve => Ipv4Frame([], Udp(Port(), UdpPorts.Geneve, Geneve()), IpProtocol.Udp),
        Kind.Dhcp => Ipv4Frame([], Udp(UdpPorts.DhcpClient, UdpPorts.DhcpServer, Dhcp()), IpProtocol.Udp),
        Kind.MplsIpv4 => MplsIpv4(),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    public byte[] Ethernet(VlanTagRepr[] tags, EtherType type, ReadOnlySpan<byte> payload)
    {
        var frame = new byte[EthernetLayout.HeaderLength + (tags.Length * 4) + payload.Length];
        var outerType = tags.Length == 0 ? type : tags.Length == 2 ? EtherType.QinQ : EtherType.Vlan;
        new EthernetRepr(Mac(), Mac(), outerType).Emit(frame);
        for (var i = 0; i < tags.Length; i++)
        {
            var next = i == tags.Length - 1 ? type : EtherType.Vlan;
            (tags[i] with { EtherType = next }).Emit(frame.AsSpan(14 + (i * 4)));
        }
        payload.CopyTo(frame.AsSpan(14 + (tags.Length * 4)));
        return frame;
    }

    public byte[] Ipv4Frame(VlanTagRepr[] tags, byte[] l4, IpProtocol protocol, int fragmentOffset = 0, bool moreFragments = false) =>
        Ethernet(tags, EtherType.Ipv4, Ipv4(l4, protocol, fragmentOffset, moreFragments, out _));

    public byte[] Ipv4(byte[] l4, IpProtocol protocol, int fragmentOffset, bool moreFragments, out Ipv4Repr repr)
    {
        repr = new Ipv4Repr(Ip(), Ip(), protocol, l4.Length, (byte)_random.Next(1, 256))
        {
            Identification = (ushort)_random.Next(65536),
            DontFragment = fragmentOffset == 0 && !moreFragments && _random.Next(2) == 0,
            MoreFragments = moreFragments,
            FragmentOffset = fragmentOffset,
            Dscp = (byte)_random.Next(64),
            Ecn = (byte)_random.Next(4),
        };
        var packet = new byte[repr.BufferLength];
        l4.CopyTo(packet, 20);
        // L4 checksums over the real addresses are recomputed by the L4 builders' callers below.
        FixL4Checksum(packet.AsSpan(20), protocol, repr.Source, repr.Destination);
        repr.Emit(packet);
        return packet;
    }

    private static void FixL4Checksum(Span<byte> l4, IpProtocol protocol, Ipv4Address source, Ipv4Address destination)
    {
        if (protocol == IpProtocol.Udp && l4.Length >= 8 && new UdpWriter(l4).Length == l4.Length)
        {
            new UdpWriter(l4).FillChecksum(source, destination);
        }
        else if (protocol == IpProtocol.Tcp && l4.Length >= 20)
        {
            new TcpWriter(l4).FillChecksum(source, destination, l4.Length);
        }
    }

    public byte[] Udp(ushort sourcePort, ushort destinationPort, byte[] payload)
    {
        var repr = new UdpRepr(sourcePort, destinationPort, payload.Length);
        var datagram = new byte[repr.BufferLength];
        payload.CopyTo(datagram, 8);
        repr.EmitWithoutChecksum(datagram); // checksummed once the addresses are known
        new UdpWriter(datagram).DatagramChecksum = 1;
        return datagram;
    }

    public TcpRepr TcpRepr(int payloadLength) => new(Port(), Port(), (uint)_random.NextInt64(), (uint)_random.NextInt64(),
        (TcpFlags)_random.Next(0x200), (ushort)_random.Next(65536), payloadLength)
    {
        MaxSegmentSize = _random.Next(2) == 0 ? (ushort)_random.Next(536, 9000) : null,
        WindowScale = _random.Next(2) == 0 ? (byte)_random.Next(15) : null,
        SackPermitted = _random.Next(2) == 0,
        Timestamps = _random.Next(2) == 0 ? ((uint)_random.NextInt64(), (uint)_random.NextInt64()) : null,
    };

    public byte[] Tcp(byte[] payload)
    {
        var repr = TcpRepr(payload.Length);
        var segment = new byte[repr.BufferLength];
        payload.CopyTo(segment, repr.HeaderLength);
        repr.Emit(segment, default, default); // checksum redone with the real addresses
        return segment;
    }

    public byte[] IcmpEcho(out IpProtocol protocol)
    {
        protocol = IpProtocol.Icmp;
        var data = Bytes(0, 100);
        var repr = _random.Next(2) == 0
            ? Icmpv4Repr.EchoRequest((ushort)_random.Next(65536), (ushort)_random.Next(65536), data.Length)
            : Icmpv4Repr.EchoReply((ushort)_random.Next(65536), (ushort)_random.Next(65536), data.Length);
        var message = new byte[repr.BufferLength];
        data.CopyTo(message, 8);
        repr.Emit(message);
        return message;
    }

    public byte[] IcmpError()
    {
        var quoted = Ipv4(Udp(Port(), Port(), Bytes(0, 40)), IpProtocol.Udp, 0, false, out _);
        var quoteLength = Math.Min(quoted.Length, 28);
        var repr = _random.Next(2) == 0
            ? Icmpv4Repr.TimeExceeded(Icmpv4TimeExceededCode.TtlExceededInTransit, quoteLength)
            : Icmpv4Repr.DestinationUnreachable((Icmpv4UnreachableCode)_random.Next(16), quoteLength, (ushort)_random.Next(576, 9000));
        var message = new byte[repr.BufferLength];
        quoted.AsSpan(0, quoteLength).CopyTo(message.AsSpan(8));
        repr.Emit(message);
        return message;
    }

    public byte[] Arp(VlanTagRepr[] tags)
    {
        var repr = _random.Next(2) == 0
            ? ArpRepr.Request(Mac(), Ip(), Ip())
            : new ArpRepr(ArpOperation.Reply, Mac(), Ip(), Mac(), Ip());
        var packet = new byte[repr.BufferLength + _random.Next(0, 19)]; // sometimes padded
        repr.Emit(packet);
        return Ethernet(tags, EtherType.Arp, packet);
    }

    /// <summary>Label stack (PW label, optional flow label), optional control word, an inner frame.</summary>
    public byte[] PwPayload()
    {
        var inner = Frame(_random.Next(2) == 0 ? Kind.Udp : Kind.Tcp);
        var repr = new EthernetOverMplsRepr(new MplsLabel((uint)_random.Next(16, 1 << 20)),
            _random.Next(2) == 0 ? EthernetOverMplsRepr.FlowLabelFromHash((ulong)_random.NextInt64()) : null,
            ControlWord: _random.Next(4) != 0, SequenceNumber: (ushort)_random.Next(65536));
        var bytes = new byte[repr.BufferLength + inner.Length];
        repr.Emit(bytes);
        inner.CopyTo(bytes, repr.BufferLength);
        return bytes;
    }

    public byte[] Vxlan()
    {
        var inner = Frame(Kind.Udp);
        var bytes = new byte[8 + inner.Length];
        new VxlanRepr((uint)_random.Next(1 << 24)).Emit(bytes);
        inner.CopyTo(bytes, 8);
        return bytes;
    }

    public byte[] Geneve()
    {
        var inner = Frame(Kind.Tcp);
        var options = _random.Next(3);
        var optionBytes = new byte[options * 8];
        for (var i = 0; i < options; i++)
        {
            optionBytes[i * 8] = 0x01;
            optionBytes[(i * 8) + 2] = (byte)_random.Next(256);
            optionBytes[(i * 8) + 3] = 1; // one word of data
        }
        var repr = new GeneveRepr((uint)_random.Next(1 << 24), OptionsLength: optionBytes.Length);
        var bytes = new byte[repr.BufferLength + inner.Length];
        optionBytes.CopyTo(bytes, 8);
        repr.Emit(bytes);
        inner.CopyTo(bytes, repr.BufferLength);
        return bytes;
    }

    public byte[] Dhcp()
    {
        var types = Enum.GetValues<DhcpMessageType>();
        var repr = new DhcpRepr(types[_random.Next(types.Length)], (uint)_random.NextInt64(), Mac())
        {
            Broadcast = _random.Next(2) == 0,
            YourAddress = Ip(),
            ServerIdentifier = _random.Next(2) == 0 ? Ip() : null,
            RequestedAddress = _random.Next(2) == 0 ? Ip() : null,
            LeaseTime = _random.Next(2) == 0 ? (uint)_random.Next() : null,
            SubnetMask = _random.Next(2) == 0 ? Ipv4Address.MaskOf(_random.Next(33)) : null,
            Routers = new DhcpAddressList([Ip()]),
            DnsServers = new DhcpAddressList([Ip(), Ip()]),
            ClientIdentifier = _random.Next(2) == 0 ? DhcpClientId.FromMac(Mac()) : null,
        };
        var bytes = new byte[repr.BufferLength];
        repr.Emit(bytes);
        return bytes;
    }

    public byte[] MplsIpv4()
    {
        var ip = Ipv4(Udp(Port(), Port(), Bytes(0, 64)), IpProtocol.Udp, 0, false, out _);
        var depth = _random.Next(1, 4);
        var stack = new MplsLabelStackEntry[depth];
        for (var i = 0; i < depth; i++)
        {
            stack[i] = new MplsLabelStackEntry(new MplsLabel((uint)_random.Next(16, 1 << 20)), 0, false, 64);
        }
        var payload = new byte[(depth * 4) + ip.Length];
        MplsLabelStackEntry.EmitStack(payload, stack);
        ip.CopyTo(payload, depth * 4);
        return Ethernet([], EtherType.MplsUnicast, payload);
    }
}
