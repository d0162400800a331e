using System.Diagnostics;
using Fabric.Actors.DataPlane.Flow;
using Fabric.Actors.DataPlane.Wire;
using Xunit.Abstractions;

namespace Fabric.Tests.DataPlane.Wire;

/// <summary>
/// A million random and mutated frames of every protocol through every parser and the flow
/// key: none may throw, and none may read outside its buffer (in Debug, the unchecked reads
/// assert their bounds, and a failed Debug.Assert fails the test).
/// </summary>
public class RobustnessTests(ITestOutputHelper output)
{
    private const int Frames = 1_000_000;
    private static readonly PwEncapsulation[] Encapsulations =
        [new(false, false), new(true, false), new(false, true), new(true, true)];

    private long _sink;

    [Fact]
    public void A_million_random_and_mutated_frames_never_throw_or_read_out_of_range()
    {
        var generator = new FrameGenerator(seed: 1_000_003);
        var corpus = new List<byte[]>();
        foreach (var property in typeof(WireFixtures).GetProperties())
        {
            corpus.Add((byte[])property.GetValue(null)!);
        }
        for (var i = 0; i < 50; i++)
        {
            foreach (var kind in FrameGenerator.AllKinds)
            {
                corpus.Add(generator.Frame(kind));
            }
        }

        var random = new Random(42);
        var buffer = new byte[2048];
        var reasons = new Dictionary<DropReason, int>();
        var stopwatch = Stopwatch.StartNew();
        for (var n = 0; n < Frames; n++)
        {
            int length;
            if (random.Next(10) == 0)
            {
                length = random.Next(0, 200);
                random.NextBytes(buffer.AsSpan(0, length));
            }
            else
            {
                var original = corpus[random.Next(corpus.Count)];
                original.CopyTo(buffer, 0);
                length = original.Length;
                for (var m = random.Next(1, 5); m > 0 && length > 0; m--)
                {
                    var at = random.Next(length);
                    switch (random.Next(5))
                    {
                        case 0: buffer[at] ^= (byte)(1 << random.Next(8)); break;
                        case 1: buffer[at] = (byte)random.Next(256); break;
                        case 2: buffer[at] = Interesting[random.Next(Interesting.Length)]; break;
                        case 3: length = random.Next(length); break;
                        default: // grow with random bytes
                            var grown = Math.Min(buffer.Length, length + random.Next(1, 64));
                            random.NextBytes(buffer.AsSpan(length, grown - length));
                            length = grown;
                            break;
                    }
                }
            }
            var frame = buffer.AsSpan(0, length);
            var reason = Exercise(frame);
            reasons[reason] = reasons.GetValueOrDefault(reason) + 1;
        }
        output.WriteLine($"{Frames:N0} frames in {stopwatch.Elapsed.TotalSeconds:F1} s; flow key outcomes:");
        foreach (var (reason, count) in reasons.OrderByDescending(r => r.Value))
        {
            output.WriteLine($"  {reason,-22} {count,9:N0}");
        }
        // The mutations must reach both sides of the parsers, not just bounce off Ethernet.
        Assert.True(reasons.GetValueOrDefault(DropReason.None) > Frames / 4);
        Assert.True(reasons.GetValueOrDefault(DropReason.Truncated) > 1000);
        Assert.True(reasons.GetValueOrDefault(DropReason.BadVersion) > 1000);
        Assert.True(reasons.GetValueOrDefault(DropReason.BadLength) > 100);
    }

    private static readonly byte[] Interesting = [0x00, 0xFF, 0x7F, 0x80, 0x01, 0x45, 0x46, 0x4F, 0x81, 0x88, 0xA8, 0x47, 0x08, 0x06, 0x11, 0x10];

    private DropReason Exercise(ReadOnlySpan<byte> frame)
    {
        if (FlowKeyExtractor.TryExtract(frame, 1, 2, out var key, out var reason))
        {
            _sink += (long)FlowHash.Compute(key) ^ (long)FlowHash.ComputeSymmetric(key);
        }
        if (EthernetView.TryParse(frame, out var ethernet, out _))
        {
            _sink += (long)(ethernet.Source.ToUInt64() ^ ethernet.Destination.ToUInt64() ^ (ushort)ethernet.EtherType);
        }
        foreach (var offset in (ReadOnlySpan<int>)[14, 18, 22, 26])
        {
            if (frame.Length >= offset)
            {
                ExerciseL3(frame[offset..]);
            }
        }
        return reason;
    }

    private void ExerciseL3(ReadOnlySpan<byte> bytes)
    {
        if (VlanTagView.TryParse(bytes, out var tag, out _))
        {
            _sink += tag.VlanId.Value + tag.Priority + (tag.DropEligible ? 1 : 0) + (int)tag.EtherType + tag.Payload.Length;
        }
        if (ArpRepr.TryParse(bytes, out var arp, out _))
        {
            _sink += arp.GetHashCode();
        }
        if (MplsLabelStackView.TryParse(bytes, out var stack, out _))
        {
            for (var i = 0; i < stack.Depth; i++)
            {
                _sink += stack[i].Encoded;
            }
            _sink += stack.Bottom.Ttl + stack.Payload.Length;
            ExerciseMpls(bytes);
        }
        if (Ipv4View.TryParse(bytes, out var ip, out _) || Ipv4View.TryParseQuoted(bytes, out ip, out _))
        {
            _sink += ip.Version + ip.HeaderLength + ip.Dscp + ip.Ecn + ip.TotalLength + ip.Identification + ip.FragmentOffset
                + ip.Ttl + (int)ip.Protocol + ip.HeaderChecksum + ip.Source.ToUInt32() + ip.Destination.ToUInt32()
                + (ip.IsChecksumValid ? 1 : 0) + (ip.DontFragment ? 1 : 0) + (ip.IsLaterFragment ? 1 : 0) + ip.PseudoHeaderSum;
            var options = ip.ReadOptions();
            while (options.TryReadNext(out var type, out var data))
            {
                _sink += type + data.Length;
            }
            _ = Ipv4Repr.TryParse(ip.Bytes, out var repr, out _);
            _sink += repr.BufferLength;
            ExerciseL4(ip.Payload, ip.Source, ip.Destination);
        }
    }

    private void ExerciseL4(ReadOnlySpan<byte> bytes, Ipv4Address source, Ipv4Address destination)
    {
        if (TcpView.TryParse(bytes, out var tcp, out _))
        {
            _sink += tcp.SourcePort + tcp.DestinationPort + tcp.SequenceNumber + tcp.AcknowledgmentNumber + tcp.HeaderLength
                + (int)tcp.Flags + tcp.WindowSize + tcp.SegmentChecksum + tcp.UrgentPointer + tcp.Payload.Length
                + (tcp.IsChecksumValid(source, destination) ? 1 : 0);
            _sink += TcpRepr.Parse(tcp).GetHashCode();
        }
        if (Icmpv4View.TryParse(bytes, out var icmp, out _))
        {
            _sink += (int)icmp.Type + icmp.Code + icmp.RestOfHeader + icmp.NextHopMtu + icmp.Pointer + icmp.Data.Length
                + (icmp.IsChecksumValid ? 1 : 0);
            if (icmp.TryGetQuotedDatagram(out var quoted, out _))
            {
                _sink += quoted.Source.ToUInt32() + quoted.Payload.Length;
            }
            _ = Icmpv4Repr.TryParse(bytes, out _, out _);
        }
        if (UdpView.TryParse(bytes, out var udp, out _))
        {
            _sink += udp.SourcePort + udp.DestinationPort + udp.Length + udp.DatagramChecksum
                + (udp.IsChecksumValid(source, destination) ? 1 : 0);
            var payload = udp.Payload;
            if (VxlanView.TryParse(payload, out var vxlan, out _))
            {
                _sink += vxlan.Vni + vxlan.Payload.Length;
            }
            if (GeneveView.TryParse(payload, out var geneve, out _))
            {
                _sink += geneve.Vni + geneve.OptionsLength + (int)geneve.ProtocolType + (geneve.IsOam ? 1 : 0) + geneve.Payload.Length;
                var options = geneve.ReadOptions();
                while (options.TryReadNext(out var option))
                {
                    _sink += option.Class + option.Type + option.Data.Length;
                }
            }
            if (MplsInUdpView.TryParse(udp.Bytes, out var mplsInUdp, out _))
            {
                _sink += mplsInUdp.EntropyPort + mplsInUdp.Labels.Depth + mplsInUdp.Payload.Length;
                ExerciseMpls(mplsInUdp.Mpls);
            }
            if (DhcpView.TryParse(payload, out var dhcp, out _))
            {
                _sink += (int)dhcp.Operation + dhcp.TransactionId + dhcp.Seconds + dhcp.ClientAddress.ToUInt32()
                    + dhcp.YourAddress.ToUInt32() + (long)dhcp.ClientHardwareAddress.ToUInt64() + (int)dhcp.MessageType
                    + (dhcp.TryGetAddressOption(DhcpOptionCode.ServerIdentifier, out var server) ? server.ToUInt32() : 0);
                if (DhcpRepr.TryParse(dhcp, out var repr, out _))
                {
                    _sink += repr.BufferLength + repr.DnsServers.Count;
                }
            }
        }
    }

    private void ExerciseMpls(ReadOnlySpan<byte> mpls)
    {
        foreach (var encapsulation in Encapsulations)
        {
            if (EthernetOverMplsView.TryParse(mpls, encapsulation, out var pw, out _))
            {
                _sink += pw.PwLabel.Value + (pw.FlowLabel?.Value ?? 0) + pw.SequenceNumber + pw.Frame.Length + pw.ChannelPayload.Length;
                _sink += EthernetOverMplsRepr.Parse(pw).BufferLength;
                if (pw.IsAssociatedChannel)
                {
                    _sink += (int)pw.ChannelType + (pw.TryGetControlWord(out var cw) ? cw.SequenceNumber : 0);
                }
            }
        }
        if (PwControlWordRepr.TryParse(mpls, out var word, out _))
        {
            _sink += word.SequenceNumber;
        }
    }
}
