using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.DataPlane.Host;

/// <summary>Why an <see cref="L3Host"/> left a frame unanswered; each reason is counted.</summary>
public enum L3HostIgnoreReason
{
    /// <summary>The frame did not parse (see <see cref="L3Host.MalformedFrames"/> for the Wire reason).</summary>
    Malformed,

    /// <summary>Unicast to another MAC, or an IPv4 packet for another address.</summary>
    NotForUs,

    /// <summary>ARP that is not a request for our address (replies, gratuitous ARP, others' targets).</summary>
    ArpNotAsked,

    /// <summary>An EtherType, IP protocol or ICMP type the host does not answer.</summary>
    Unhandled,

    /// <summary>An IPv4 fragment: the host does not reassemble.</summary>
    Fragment,

    /// <summary>The IPv4 or ICMP checksum did not verify.</summary>
    BadChecksum,

    /// <summary>The reply batch was full.</summary>
    NoRoom,
}

/// <summary>
/// A minimal IPv4 host on one MAC address: answers ARP requests for its address (RFC 826) and
/// ICMP echo requests to it (RFC 792), and nothing else. Enough to make a real namespace's
/// ping reach a fabric port. Built only on the Wire views and Reprs; allocates nothing per frame.
/// </summary>
public sealed class L3Host
{
    private static readonly int ReasonCount = Enum.GetValues<L3HostIgnoreReason>().Length;

    private readonly long[] _ignored = new long[ReasonCount];
    private readonly long[] _malformed = new long[256];
    private long _arpReplies;
    private long _echoReplies;

    public L3Host(MacAddress mac, Ipv4Address address)
    {
        if (!mac.IsUnicast || mac.IsZero)
        {
            throw new ArgumentException($"A host needs a unicast MAC, not {mac}.", nameof(mac));
        }

        Mac = mac;
        Address = address;
    }

    public MacAddress Mac { get; }

    public Ipv4Address Address { get; }

    public long ArpRepliesSent => Interlocked.Read(ref _arpReplies);

    public long EchoRepliesSent => Interlocked.Read(ref _echoReplies);

    public long Ignored(L3HostIgnoreReason reason) => Interlocked.Read(ref _ignored[(int)reason]);

    /// <summary>Frames ignored as malformed for the given Wire reason.</summary>
    public long MalformedFrames(DropReason reason) => Interlocked.Read(ref _malformed[(int)reason]);

    /// <summary>Answers every frame of <paramref name="received"/>; appends the replies to <paramref name="replies"/>. Returns replies added.</summary>
    public int Process(PacketBatch received, PacketBatch replies)
    {
        ArgumentNullException.ThrowIfNull(received);
        ArgumentNullException.ThrowIfNull(replies);
        int added = 0;
        for (int i = 0; i < received.Count; i++)
        {
            if (Process(received.Frame(i), replies))
            {
                added++;
            }
        }

        return added;
    }

    /// <summary>Answers one frame; true when a reply was appended to <paramref name="replies"/>.</summary>
    public bool Process(ReadOnlySpan<byte> frame, PacketBatch replies)
    {
        if (!EthernetView.TryParse(frame, out EthernetView ethernet, out DropReason reason))
        {
            return Malformed(reason);
        }

        if (ethernet.Destination != Mac && !ethernet.Destination.IsBroadcast)
        {
            return Ignore(L3HostIgnoreReason.NotForUs);
        }

        return ethernet.EtherType switch
        {
            EtherType.Arp => AnswerArp(ethernet, replies),
            EtherType.Ipv4 when ethernet.Destination == Mac => AnswerIpv4(ethernet, replies),
            _ => Ignore(L3HostIgnoreReason.Unhandled),
        };
    }

    /// <summary>
    /// Runs the host on <paramref name="port"/>: starts the port's receive thread and sends each
    /// batch's replies back out of the same port. Stop it with <see cref="IPort.StopReceiving"/>.
    /// </summary>
    public void Serve(IPort port, PacketBatchPool pool)
    {
        ArgumentNullException.ThrowIfNull(port);
        ArgumentNullException.ThrowIfNull(pool);
        port.StartReceiving(pool, received =>
        {
            PacketBatch replies = pool.Rent();
            try
            {
                if (Process(received, replies) > 0)
                {
                    port.SendBatch(replies);
                }
            }
            finally
            {
                replies.Return();
                received.Return();
            }
        });
    }

    private bool AnswerArp(EthernetView ethernet, PacketBatch replies)
    {
        if (!ArpRepr.TryParse(ethernet.Payload, out ArpRepr arp, out DropReason reason))
        {
            return reason.IsMalformed() ? Malformed(reason) : Ignore(L3HostIgnoreReason.Unhandled);
        }

        if (arp.Operation != ArpOperation.Request || arp.TargetProtocolAddress != Address)
        {
            return Ignore(L3HostIgnoreReason.ArpNotAsked);
        }

        var reply = ArpRepr.ReplyTo(arp, Mac);
        var header = new EthernetRepr(Mac, arp.SenderHardwareAddress, EtherType.Arp);
        int length = Math.Max(header.BufferLength + reply.BufferLength, EthernetLayout.MinimumFrameLength);
        Span<byte> room = replies.NextFrameRoom();
        if (room.Length < length)
        {
            return Ignore(L3HostIgnoreReason.NoRoom);
        }

        Span<byte> frame = room[..length];
        header.Emit(frame);
        reply.Emit(frame[header.BufferLength..]);
        frame[(header.BufferLength + reply.BufferLength)..].Clear(); // padding to the minimum frame
        replies.Commit(length);
        Interlocked.Increment(ref _arpReplies);
        return true;
    }

    private bool AnswerIpv4(EthernetView ethernet, PacketBatch replies)
    {
        if (!Ipv4View.TryParse(ethernet.Payload, out Ipv4View ip, out DropReason reason))
        {
            return Malformed(reason);
        }

        if (ip.Destination != Address)
        {
            return Ignore(L3HostIgnoreReason.NotForUs);
        }

        if (!ip.IsChecksumValid)
        {
            return Ignore(L3HostIgnoreReason.BadChecksum);
        }

        if (ip.IsFragment)
        {
            return Ignore(L3HostIgnoreReason.Fragment);
        }

        if (ip.Protocol != IpProtocol.Icmp)
        {
            return Ignore(L3HostIgnoreReason.Unhandled);
        }

        if (!Icmpv4View.TryParse(ip.Payload, out Icmpv4View icmp, out reason))
        {
            return Malformed(reason);
        }

        if (icmp.Type != Icmpv4Type.EchoRequest)
        {
            return Ignore(L3HostIgnoreReason.Unhandled);
        }

        if (!icmp.IsChecksumValid)
        {
            return Ignore(L3HostIgnoreReason.BadChecksum);
        }

        var echo = Icmpv4Repr.EchoReplyTo(icmp);
        var ipReply = new Ipv4Repr(Address, ip.Source, IpProtocol.Icmp, echo.BufferLength) { Identification = ip.Identification };
        var header = new EthernetRepr(Mac, ethernet.Source, EtherType.Ipv4);
        int ipOffset = header.BufferLength;
        int icmpOffset = ipOffset + ipReply.HeaderLength;
        int length = ipOffset + ipReply.BufferLength;
        Span<byte> room = replies.NextFrameRoom();
        if (room.Length < Math.Max(length, EthernetLayout.MinimumFrameLength))
        {
            return Ignore(L3HostIgnoreReason.NoRoom);
        }

        // Inside out: echo data first, then the headers whose checksums cover it.
        icmp.Data.CopyTo(room[(icmpOffset + echo.HeaderLength)..]);
        echo.Emit(room[icmpOffset..]);
        ipReply.Emit(room[ipOffset..]);
        header.Emit(room);
        if (length < EthernetLayout.MinimumFrameLength)
        {
            room[length..EthernetLayout.MinimumFrameLength].Clear();
            length = EthernetLayout.MinimumFrameLength;
        }

        replies.Commit(length);
        Interlocked.Increment(ref _echoReplies);
        return true;
    }

    private bool Ignore(L3HostIgnoreReason reason)
    {
        Interlocked.Increment(ref _ignored[(int)reason]);
        return false;
    }

    private bool Malformed(DropReason reason)
    {
        Interlocked.Increment(ref _malformed[(int)reason]);
        return Ignore(L3HostIgnoreReason.Malformed);
    }
}
