using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Fabric.Actors.DataPlane.Wire;

// UDP header (RFC 768, https://www.rfc-editor.org/rfc/rfc768).
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |          Source Port          |       Destination Port        |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |            Length             |           Checksum            |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                          Payload ...                          |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// Length counts header + payload. The checksum covers the IPv4 pseudo-header, header and
// payload; 0 means "no checksum" over IPv4, so a computed 0 is sent as 0xFFFF.

/// <summary>Field offsets of a UDP header.</summary>
public static class UdpLayout
{
    public const int SourcePort = 0;
    public const int DestinationPort = 2;
    public const int Length = 4;
    public const int Checksum = 6;
    public const int HeaderLength = 8;
}

/// <summary>Well-known UDP ports the data plane recognises.</summary>
public static class UdpPorts
{
    /// <summary>BOOTP/DHCP server (RFC 2131).</summary>
    public const ushort DhcpServer = 67;
    /// <summary>BOOTP/DHCP client (RFC 2131).</summary>
    public const ushort DhcpClient = 68;
    /// <summary>VXLAN (RFC 7348 §5).</summary>
    public const ushort Vxlan = 4789;
    /// <summary>Geneve (RFC 8926 §3.3).</summary>
    public const ushort Geneve = 6081;
    /// <summary>MPLS-in-UDP (RFC 7510 §3).</summary>
    public const ushort MplsInUdp = 6635;
}

/// <summary>A checked view of a UDP datagram: 8 ≤ Length ≤ buffer. The view ends at Length.</summary>
public readonly ref struct UdpView
{
    private readonly ReadOnlySpan<byte> _buffer;

    private UdpView(ReadOnlySpan<byte> buffer) => _buffer = buffer;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryParse(ReadOnlySpan<byte> buffer, out UdpView datagram, out DropReason reason)
    {
        datagram = default;
        if (buffer.Length < UdpLayout.HeaderLength)
        {
            reason = DropReason.Truncated;
            return false;
        }
        int length = BigEndian.U16(buffer, UdpLayout.Length);
        if (length < UdpLayout.HeaderLength)
        {
            reason = DropReason.BadLength;
            return false;
        }
        if (length > buffer.Length)
        {
            reason = DropReason.Truncated;
            return false;
        }
        datagram = new UdpView(buffer[..length]);
        reason = DropReason.None;
        return true;
    }

    public ushort SourcePort => BigEndian.U16(_buffer, UdpLayout.SourcePort);
    public ushort DestinationPort => BigEndian.U16(_buffer, UdpLayout.DestinationPort);
    public int Length => BigEndian.U16(_buffer, UdpLayout.Length);
    public ushort DatagramChecksum => BigEndian.U16(_buffer, UdpLayout.Checksum);
    public ReadOnlySpan<byte> Payload => _buffer[UdpLayout.HeaderLength..];
    public ReadOnlySpan<byte> Bytes => _buffer;

    /// <summary>Verifies the checksum with the IPv4 pseudo-header; a zero checksum (none sent) passes.</summary>
    public bool IsChecksumValid(Ipv4Address source, Ipv4Address destination) =>
        DatagramChecksum == 0
        || Checksum.Fold(Checksum.Sum(_buffer, Checksum.PseudoHeaderSum(source, destination, IpProtocol.Udp, _buffer.Length))) == 0xFFFF;
}

/// <summary>Sets UDP fields in place; the NAT rewrites keep the checksum valid (RFC 1624).</summary>
public readonly ref struct UdpWriter
{
    private readonly Span<byte> _buffer;

    public UdpWriter(Span<byte> buffer)
    {
        if (buffer.Length < UdpLayout.HeaderLength)
        {
            throw new ArgumentException("Buffer shorter than a UDP header", nameof(buffer));
        }
        _buffer = buffer;
    }

    public ushort SourcePort { get => Read16(UdpLayout.SourcePort); set => Write16(UdpLayout.SourcePort, value); }
    public ushort DestinationPort { get => Read16(UdpLayout.DestinationPort); set => Write16(UdpLayout.DestinationPort, value); }
    public ushort Length { get => Read16(UdpLayout.Length); set => Write16(UdpLayout.Length, value); }
    public ushort DatagramChecksum { get => Read16(UdpLayout.Checksum); set => Write16(UdpLayout.Checksum, value); }

    public void RewriteSourcePort(ushort port)
    {
        UpdateChecksum(SourcePort, port);
        SourcePort = port;
    }

    public void RewriteDestinationPort(ushort port)
    {
        UpdateChecksum(DestinationPort, port);
        DestinationPort = port;
    }

    /// <summary>Follows an IPv4 address rewrite in the pseudo-header (call it alongside Ipv4Writer.Rewrite…).</summary>
    public void UpdateForAddressChange(Ipv4Address oldAddress, Ipv4Address newAddress)
    {
        var checksum = DatagramChecksum;
        if (checksum != 0)
        {
            DatagramChecksum = NonZero(Checksum.Update(checksum, oldAddress.ToUInt32(), newAddress.ToUInt32()));
        }
    }

    /// <summary>Computes the checksum over pseudo-header, header and payload (Length must be set).</summary>
    public void FillChecksum(Ipv4Address source, Ipv4Address destination)
    {
        var datagram = _buffer[..Length];
        DatagramChecksum = 0;
        var sum = Checksum.Sum(datagram, Checksum.PseudoHeaderSum(source, destination, IpProtocol.Udp, datagram.Length));
        DatagramChecksum = NonZero(Checksum.Finish(sum));
    }

    private void UpdateChecksum(ushort oldWord, ushort newWord)
    {
        var checksum = DatagramChecksum;
        if (checksum != 0) // no checksum sent: nothing to keep valid
        {
            DatagramChecksum = NonZero(Checksum.Update(checksum, oldWord, newWord));
        }
    }

    // RFC 768: a computed checksum of zero is transmitted as all ones.
    private static ushort NonZero(ushort checksum) => checksum == 0 ? (ushort)0xFFFF : checksum;

    private ushort Read16(int offset) => BinaryPrimitives.ReadUInt16BigEndian(_buffer[offset..]);
    private void Write16(int offset, ushort value) => BinaryPrimitives.WriteUInt16BigEndian(_buffer[offset..], value);
}

/// <summary>
/// The value of a UDP header. BufferLength counts the payload, which Emit expects in place.
/// </summary>
public readonly record struct UdpRepr(ushort SourcePort, ushort DestinationPort, int PayloadLength)
{
    public int HeaderLength => UdpLayout.HeaderLength;
    public int BufferLength => UdpLayout.HeaderLength + PayloadLength;

    public static UdpRepr Parse(UdpView datagram) =>
        new(datagram.SourcePort, datagram.DestinationPort, datagram.Payload.Length);

    /// <summary>Parses and verifies the checksum against the IPv4 pseudo-header.</summary>
    public static bool TryParse(ReadOnlySpan<byte> buffer, Ipv4Address source, Ipv4Address destination, out UdpRepr repr, out DropReason reason)
    {
        repr = default;
        if (!UdpView.TryParse(buffer, out var datagram, out reason))
        {
            return false;
        }
        if (!datagram.IsChecksumValid(source, destination))
        {
            reason = DropReason.BadChecksum;
            return false;
        }
        repr = Parse(datagram);
        return true;
    }

    /// <summary>Writes the header and the checksum over pseudo-header, header and in-place payload.</summary>
    public void Emit(Span<byte> buffer, Ipv4Address source, Ipv4Address destination)
    {
        var writer = EmitHeader(buffer);
        writer.FillChecksum(source, destination);
    }

    /// <summary>Writes the header with a zero checksum ("none", allowed over IPv4; RFC 7510 §3 for tunnels).</summary>
    public void EmitWithoutChecksum(Span<byte> buffer) => EmitHeader(buffer);

    private UdpWriter EmitHeader(Span<byte> buffer)
    {
        if (buffer.Length < BufferLength || BufferLength > ushort.MaxValue)
        {
            throw new ArgumentException("Buffer shorter than the UDP datagram, or datagram too long", nameof(buffer));
        }
        return new UdpWriter(buffer)
        {
            SourcePort = SourcePort,
            DestinationPort = DestinationPort,
            Length = (ushort)BufferLength,
            DatagramChecksum = 0,
        };
    }
}
