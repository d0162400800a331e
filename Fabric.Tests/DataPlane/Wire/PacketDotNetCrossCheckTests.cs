using System.Net;
using System.Net.NetworkInformation;
using Fabric.Actors.DataPlane.Flow;
using Fabric.Actors.DataPlane.Wire;
using PacketDotNet;
using PacketDotNet.Utils;
using PdnArpOperation = PacketDotNet.ArpOperation;

namespace Fabric.Tests.DataPlane.Wire;

/// <summary>
/// PacketDotNet, an independent parser, reads what we emit; we read what it builds; field by
/// field, over thousands of seeded random frames.
/// </summary>
public class PacketDotNetCrossCheckTests
{
    private const int FramesPerKind = 2000;

    private static PhysicalAddress Pdn(MacAddress mac)
    {
        var bytes = new byte[6];
        mac.WriteTo(bytes);
        return new PhysicalAddress(bytes);
    }

    private static MacAddress Ours(PhysicalAddress mac) => MacAddress.Read(mac.GetAddressBytes());
    private static Ipv4Address Ours(IPAddress address) => Ipv4Address.FromIPAddress(address);

    [Theory]
    [InlineData(FrameGenerator.Kind.Arp)]
    [InlineData(FrameGenerator.Kind.IcmpEcho)]
    [InlineData(FrameGenerator.Kind.IcmpError)]
    [InlineData(FrameGenerator.Kind.Udp)]
    [InlineData(FrameGenerator.Kind.Tcp)]
    public void PacketDotNet_reads_every_field_we_emit(FrameGenerator.Kind kind)
    {
        var generator = new FrameGenerator(seed: 100 + (int)kind);
        for (var n = 0; n < FramesPerKind; n++)
        {
            var frame = generator.Frame(kind);
            var context = $"frame {n}: {Convert.ToHexString(frame)}";
            var packet = (EthernetPacket)Packet.ParsePacket(LinkLayers.Ethernet, frame);
            Assert.True(EthernetView.TryParse(frame, out var ours, out _));
            Assert.Equal(ours.Destination, Ours(packet.DestinationHardwareAddress));
            Assert.Equal(ours.Source, Ours(packet.SourceHardwareAddress));
            Assert.Equal((ushort)ours.EtherType, (ushort)packet.Type);

            Packet inner = packet.PayloadPacket;
            var payload = ours.Payload;
            var type = ours.EtherType;
            while (type.IsVlanTag())
            {
                var tag = Assert.IsType<Ieee8021QPacket>(inner);
                Assert.True(VlanTagView.TryParse(payload, out var ourTag, out _));
                Assert.Equal(ourTag.VlanId.Value, tag.VlanIdentifier);
                Assert.Equal(ourTag.Priority, (byte)tag.PriorityControlPoint);
                Assert.Equal(ourTag.DropEligible, tag.CanonicalFormatIndicator);
                Assert.Equal((ushort)ourTag.EtherType, (ushort)tag.Type);
                inner = tag.PayloadPacket;
                payload = ourTag.Payload;
                type = ourTag.EtherType;
            }

            if (kind == FrameGenerator.Kind.Arp)
            {
                var arp = Assert.IsType<ArpPacket>(inner);
                Assert.True(ArpRepr.TryParse(payload, out var ourArp, out _));
                Assert.Equal((ushort)ourArp.Operation, (ushort)arp.Operation);
                Assert.Equal(ourArp.SenderHardwareAddress, Ours(arp.SenderHardwareAddress));
                Assert.Equal(ourArp.SenderProtocolAddress, Ours(arp.SenderProtocolAddress));
                Assert.Equal(ourArp.TargetHardwareAddress, Ours(arp.TargetHardwareAddress));
                Assert.Equal(ourArp.TargetProtocolAddress, Ours(arp.TargetProtocolAddress));
                continue;
            }

            var ip = Assert.IsType<IPv4Packet>(inner);
            Assert.True(Ipv4Repr.TryParse(payload, out var ourIp, out _), context);
            Assert.True(ip.ValidIPChecksum, context);
            Assert.Equal(ourIp.Source, Ours(ip.SourceAddress));
            Assert.Equal(ourIp.Destination, Ours(ip.DestinationAddress));
            Assert.Equal(ourIp.Ttl, ip.TimeToLive);
            Assert.Equal(ourIp.Identification, ip.Id);
            Assert.Equal((byte)ourIp.Protocol, (byte)ip.Protocol);
            Assert.Equal(ourIp.BufferLength, ip.TotalLength);
            Assert.Equal((ourIp.Dscp << 2) | ourIp.Ecn, ip.DifferentiatedServices);
            Assert.True(Ipv4View.TryParse(payload, out var ipView, out _));
            var l4 = ipView.Payload;

            switch (kind)
            {
                case FrameGenerator.Kind.IcmpEcho or FrameGenerator.Kind.IcmpError:
                    var icmp = Assert.IsType<IcmpV4Packet>(ip.PayloadPacket);
                    Assert.True(Icmpv4Repr.TryParse(l4, out var ourIcmp, out _));
                    Assert.True(icmp.ValidIcmpChecksum, context);
                    Assert.Equal(((byte)ourIcmp.Type << 8) | ourIcmp.Code, (int)icmp.TypeCode);
                    if (kind == FrameGenerator.Kind.IcmpEcho)
                    {
                        Assert.Equal(ourIcmp.Identifier, icmp.Id);
                        Assert.Equal(ourIcmp.SequenceNumber, icmp.Sequence);
                    }
                    break;
                case FrameGenerator.Kind.Udp:
                    var udp = Assert.IsType<UdpPacket>(ip.PayloadPacket);
                    Assert.True(UdpRepr.TryParse(l4, ourIp.Source, ourIp.Destination, out var ourUdp, out _), context);
                    Assert.True(udp.ValidUdpChecksum, context);
                    Assert.Equal(ourUdp.SourcePort, udp.SourcePort);
                    Assert.Equal(ourUdp.DestinationPort, udp.DestinationPort);
                    Assert.Equal(ourUdp.BufferLength, udp.Length);
                    Assert.Equal(l4[8..].ToArray(), udp.PayloadData ?? []);
                    break;
                case FrameGenerator.Kind.Tcp:
                    var tcp = Assert.IsType<TcpPacket>(ip.PayloadPacket);
                    Assert.True(TcpRepr.TryParse(l4, ourIp.Source, ourIp.Destination, out var ourTcp, out _), context);
                    Assert.True(tcp.ValidTcpChecksum, context);
                    Assert.Equal(ourTcp.SourcePort, tcp.SourcePort);
                    Assert.Equal(ourTcp.DestinationPort, tcp.DestinationPort);
                    Assert.Equal(ourTcp.SequenceNumber, tcp.SequenceNumber);
                    Assert.Equal(ourTcp.AcknowledgmentNumber, tcp.AcknowledgmentNumber);
                    Assert.Equal((ushort)ourTcp.Flags, tcp.Flags);
                    Assert.Equal(ourTcp.WindowSize, tcp.WindowSize);
                    Assert.Equal(ourTcp.HeaderLength / 4, tcp.DataOffset);
                    Assert.Equal(ourTcp.PayloadLength, tcp.PayloadData?.Length ?? 0);
                    break;
            }
        }
    }

    [Fact]
    public void We_read_every_field_of_tcp_udp_and_icmp_frames_PacketDotNet_builds_tagged_or_not()
    {
        var generator = new FrameGenerator(seed: 7);
        var random = generator.Random;
        for (var n = 0; n < FramesPerKind * 3; n++)
        {
            var (src, dst) = (generator.Ip(), generator.Ip());
            var ip = new IPv4Packet(src.ToIPAddress(), dst.ToIPAddress())
            {
                TimeToLive = random.Next(1, 256),
                Id = (ushort)random.Next(65536),
            };
            var payload = generator.Bytes(0, 200);
            var which = n % 3;
            Packet l4;
            if (which == 0)
            {
                var tcp = new TcpPacket(generator.Port(), generator.Port())
                {
                    SequenceNumber = (uint)random.NextInt64(),
                    AcknowledgmentNumber = (uint)random.NextInt64(),
                    Flags = (ushort)random.Next(0x100),
                    WindowSize = (ushort)random.Next(65536),
                    PayloadData = payload,
                };
                l4 = tcp;
            }
            else if (which == 1)
            {
                l4 = new UdpPacket(generator.Port(), generator.Port()) { PayloadData = payload };
            }
            else
            {
                var bytes = new byte[8 + payload.Length];
                payload.CopyTo(bytes, 8);
                var icmp = new IcmpV4Packet(new ByteArraySegment(bytes))
                {
                    TypeCode = random.Next(2) == 0 ? IcmpV4TypeCode.EchoRequest : IcmpV4TypeCode.EchoReply,
                    Id = (ushort)random.Next(65536),
                    Sequence = (ushort)random.Next(65536),
                };
                l4 = icmp;
            }
            ip.PayloadPacket = l4;
            var (smac, dmac) = (generator.Mac(), generator.Mac());
            ip.UpdateCalculatedValues();
            switch (l4)
            {
                case TcpPacket t: t.UpdateTcpChecksum(); break;
                case UdpPacket u: u.UpdateUdpChecksum(); break;
                case IcmpV4Packet i: i.UpdateIcmpChecksum(); break;
            }
            ip.UpdateIPChecksum();

            var tagged = random.Next(2) == 0;
            var vlan = (ushort)random.Next(1, 4095);
            var priority = random.Next(8);
            EthernetPacket ethernet;
            if (tagged)
            {
                // PacketDotNet cannot build a tag from scratch (it parses its payload lazily from
                // the bytes it wraps), so it wraps the finished datagram and sets the tag's fields.
                var tagBytes = new byte[4 + ip.Bytes.Length];
                ip.Bytes.CopyTo(tagBytes, 4);
                var tag = new Ieee8021QPacket(new ByteArraySegment(tagBytes))
                {
                    VlanIdentifier = vlan,
                    PriorityControlPoint = (IeeeP8021PPriority)priority,
                    Type = EthernetType.IPv4,
                };
                ethernet = new EthernetPacket(Pdn(smac), Pdn(dmac), EthernetType.VLanTaggedFrame) { PayloadPacket = tag };
            }
            else
            {
                ethernet = new EthernetPacket(Pdn(smac), Pdn(dmac), EthernetType.IPv4) { PayloadPacket = ip };
            }
            var frame = ethernet.Bytes;
            var context = $"frame {n}: {Convert.ToHexString(frame)}";

            Assert.True(EthernetRepr.TryParse(frame, out var eth, out _));
            Assert.Equal(new EthernetRepr(smac, dmac, tagged ? EtherType.Vlan : EtherType.Ipv4), eth);
            var l3 = 14;
            if (tagged)
            {
                Assert.True(VlanTagRepr.TryParse(frame.AsSpan(14), out var ourTag, out _));
                Assert.Equal(new VlanTagRepr(new VlanId(vlan), EtherType.Ipv4, (byte)priority), ourTag);
                l3 = 18;
            }
            Assert.True(Ipv4Repr.TryParse(frame.AsSpan(l3), out var ourIp, out var reason), $"{reason} {context}");
            Assert.Equal(src, ourIp.Source);
            Assert.Equal(dst, ourIp.Destination);
            Assert.Equal(ip.TimeToLive, ourIp.Ttl);
            Assert.Equal(ip.Id, ourIp.Identification);
            Assert.True(Ipv4View.TryParse(frame.AsSpan(l3), out var view, out _));
            var segment = view.Payload;
            Assert.True(FlowKeyExtractor.TryExtract(frame, 1, 1, out var key, out reason), $"{reason} {context}");
            Assert.Equal(tagged ? new VlanId(vlan) : VlanId.None, key.OuterVlan);

            switch (l4)
            {
                case TcpPacket t:
                    Assert.True(TcpRepr.TryParse(segment, src, dst, out var tcp, out reason), $"{reason} {context}");
                    Assert.Equal((t.SourcePort, t.DestinationPort), (tcp.SourcePort, tcp.DestinationPort));
                    Assert.Equal((t.SequenceNumber, t.AcknowledgmentNumber), (tcp.SequenceNumber, tcp.AcknowledgmentNumber));
                    Assert.Equal(t.Flags, (ushort)tcp.Flags);
                    Assert.Equal(t.WindowSize, tcp.WindowSize);
                    Assert.Equal(payload.Length, tcp.PayloadLength);
                    Assert.Equal((t.SourcePort, t.DestinationPort, IpProtocol.Tcp), (key.SourcePort, key.DestinationPort, key.IpProtocol));
                    break;
                case UdpPacket u:
                    Assert.True(UdpRepr.TryParse(segment, src, dst, out var udp, out reason), $"{reason} {context}");
                    Assert.Equal(new UdpRepr(u.SourcePort, u.DestinationPort, payload.Length), udp);
                    Assert.Equal((u.SourcePort, u.DestinationPort, IpProtocol.Udp), (key.SourcePort, key.DestinationPort, key.IpProtocol));
                    break;
                case IcmpV4Packet i:
                    Assert.True(Icmpv4Repr.TryParse(segment, out var icmp, out reason), $"{reason} {context}");
                    Assert.Equal((int)i.TypeCode, ((byte)icmp.Type << 8) | icmp.Code);
                    Assert.Equal((i.Id, i.Sequence), (icmp.Identifier, icmp.SequenceNumber));
                    Assert.Equal(i.Id, key.DestinationPort);
                    break;
            }
        }
    }

    [Fact]
    public void We_read_every_field_of_arp_packets_PacketDotNet_builds()
    {
        var generator = new FrameGenerator(seed: 826);
        for (var n = 0; n < FramesPerKind; n++)
        {
            var (sha, spa, tha, tpa) = (generator.Mac(), generator.Ip(), generator.Mac(), generator.Ip());
            var operation = n % 2 == 0 ? PdnArpOperation.Request : PdnArpOperation.Response;
            var arp = new ArpPacket(operation, Pdn(tha), tpa.ToIPAddress(), Pdn(sha), spa.ToIPAddress());
            var ethernet = new EthernetPacket(Pdn(sha), Pdn(MacAddress.Broadcast), EthernetType.Arp) { PayloadPacket = arp };
            var frame = ethernet.Bytes;
            Assert.True(ArpRepr.TryParse(frame.AsSpan(14), out var ours, out _));
            Assert.Equal(new ArpRepr(n % 2 == 0 ? Fabric.Actors.DataPlane.Wire.ArpOperation.Request : Fabric.Actors.DataPlane.Wire.ArpOperation.Reply, sha, spa, tha, tpa), ours);
        }
    }
}
