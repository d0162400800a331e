namespace Fabric.Actors.DataPlane.Wire;

// DHCPv4 message (RFC 2131 §2, https://www.rfc-editor.org/rfc/rfc2131#section-2; options
// RFC 2132, client identifier §9.14). UDP 68 -> 67 (client to server) and 67 -> 68.
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +---------------+---------------+---------------+---------------+
// |     op (1)    |   htype (1)   |   hlen (1)    |   hops (1)    |
// +---------------+---------------+---------------+---------------+
// |                            xid (4)                            |
// +-------------------------------+-------------------------------+
// |           secs (2)            |           flags (2)           |  flags: B(roadcast) bit
// +-------------------------------+-------------------------------+
// |                          ciaddr  (4)                          |  client's current address
// |                          yiaddr  (4)                          |  "your" (offered) address
// |                          siaddr  (4)                          |  next server
// |                          giaddr  (4)                          |  relay agent
// +---------------------------------------------------------------+
// |                          chaddr  (16)                         |
// |                          sname   (64)                         |
// |                          file    (128)                        |
// +---------------------------------------------------------------+
// |          magic cookie 99.130.83.99  |  options (TLV) ... 255  |
// +---------------------------------------------------------------+
// Options are code, length, data; code 0 is one byte of padding, 255 ends the list.
// Not handled: option overload (52, options in sname/file) and RFC 3396 split long options.

public static class DhcpLayout
{
    public const int Operation = 0;
    public const int HardwareType = 1;
    public const int HardwareLength = 2;
    public const int Hops = 3;
    public const int TransactionId = 4;
    public const int Seconds = 8;
    public const int Flags = 10;
    public const int ClientAddress = 12;
    public const int YourAddress = 16;
    public const int ServerAddress = 20;
    public const int RelayAgentAddress = 24;
    public const int ClientHardwareAddress = 28;
    public const int ServerName = 44;
    public const int BootFile = 108;
    public const int MagicCookie = 236;
    public const int Options = 240;

    public const uint MagicCookieValue = 0x6382_5363;
    public const ushort BroadcastFlag = 0x8000;
    /// <summary>BOOTP's minimum message (RFC 1542 §2.1): some relays and clients drop shorter ones.</summary>
    public const int MinimumMessageLength = 300;
}

/// <summary>BOOTP op code.</summary>
public enum DhcpOperation : byte
{
    BootRequest = 1,
    BootReply = 2,
}

/// <summary>DHCP message types, option 53 (RFC 2132 §9.6). Unknown values are kept.</summary>
public enum DhcpMessageType : byte
{
    Discover = 1,
    Offer = 2,
    Request = 3,
    Decline = 4,
    Ack = 5,
    Nak = 6,
    Release = 7,
    Inform = 8,
}

/// <summary>DHCP option codes we name (RFC 2132).</summary>
public static class DhcpOptionCode
{
    public const byte Pad = 0;
    public const byte SubnetMask = 1;
    public const byte Router = 3;
    public const byte DomainNameServer = 6;
    public const byte HostName = 12;
    public const byte RequestedIpAddress = 50;
    public const byte LeaseTime = 51;
    /// <summary>T1, when the client starts renewing (RFC 2132 §9.11).</summary>
    public const byte RenewalTime = 58;
    /// <summary>T2, when the client starts rebinding (RFC 2132 §9.12).</summary>
    public const byte RebindingTime = 59;
    public const byte MessageType = 53;
    public const byte ServerIdentifier = 54;
    public const byte ParameterRequestList = 55;
    public const byte ClientIdentifier = 61;
    public const byte End = 255;
}

/// <summary>
/// A checked view of a DHCP message: fixed part and magic cookie present (else Truncated /
/// BadMagicCookie), every option inside the buffer (else BadOption). The message type is found
/// during that walk; <see cref="MessageType"/> is 0 for plain BOOTP (no option 53).
/// </summary>
public readonly ref struct DhcpView
{
    private readonly ReadOnlySpan<byte> _buffer;

    private DhcpView(ReadOnlySpan<byte> buffer, DhcpMessageType messageType)
    {
        _buffer = buffer;
        MessageType = messageType;
    }

    public static bool TryParse(ReadOnlySpan<byte> buffer, out DhcpView message, out DropReason reason)
    {
        message = default;
        if (buffer.Length < DhcpLayout.Options)
        {
            reason = DropReason.Truncated;
            return false;
        }
        if (BigEndian.U32(buffer, DhcpLayout.MagicCookie) != DhcpLayout.MagicCookieValue)
        {
            reason = DropReason.BadMagicCookie;
            return false;
        }
        var reader = new DhcpOptionReader(buffer[DhcpLayout.Options..]);
        DhcpMessageType type = 0;
        while (reader.TryReadNext(out var code, out var data))
        {
            if (code == DhcpOptionCode.MessageType && data.Length == 1 && type == 0)
            {
                type = (DhcpMessageType)data[0];
            }
        }
        if (reader.Malformed)
        {
            reason = DropReason.BadOption;
            return false;
        }
        message = new DhcpView(buffer, type);
        reason = DropReason.None;
        return true;
    }

    public DhcpOperation Operation => (DhcpOperation)BigEndian.U8(_buffer, DhcpLayout.Operation);
    public byte HardwareType => BigEndian.U8(_buffer, DhcpLayout.HardwareType);
    public byte HardwareLength => BigEndian.U8(_buffer, DhcpLayout.HardwareLength);
    public byte Hops => BigEndian.U8(_buffer, DhcpLayout.Hops);
    public uint TransactionId => BigEndian.U32(_buffer, DhcpLayout.TransactionId);
    public ushort Seconds => BigEndian.U16(_buffer, DhcpLayout.Seconds);
    /// <summary>The client asks for replies to be broadcast (it cannot yet receive unicast).</summary>
    public bool Broadcast => (BigEndian.U16(_buffer, DhcpLayout.Flags) & DhcpLayout.BroadcastFlag) != 0;
    public Ipv4Address ClientAddress => Ipv4Address.ReadUnchecked(_buffer, DhcpLayout.ClientAddress);
    public Ipv4Address YourAddress => Ipv4Address.ReadUnchecked(_buffer, DhcpLayout.YourAddress);
    public Ipv4Address ServerAddress => Ipv4Address.ReadUnchecked(_buffer, DhcpLayout.ServerAddress);
    public Ipv4Address RelayAgentAddress => Ipv4Address.ReadUnchecked(_buffer, DhcpLayout.RelayAgentAddress);
    /// <summary>The first 6 bytes of chaddr: the client's MAC when htype is Ethernet.</summary>
    public MacAddress ClientHardwareAddress => MacAddress.ReadUnchecked(_buffer, DhcpLayout.ClientHardwareAddress);
    /// <summary>Option 53, or 0 for a BOOTP message without it.</summary>
    public DhcpMessageType MessageType { get; }
    public ReadOnlySpan<byte> Options => _buffer[DhcpLayout.Options..];
    public DhcpOptionReader ReadOptions() => new(Options);

    /// <summary>The data of the first option with <paramref name="code"/>.</summary>
    public bool TryGetOption(byte code, out ReadOnlySpan<byte> data)
    {
        var reader = ReadOptions();
        while (reader.TryReadNext(out var c, out data))
        {
            if (c == code)
            {
                return true;
            }
        }
        data = default;
        return false;
    }

    /// <summary>An option holding exactly one IPv4 address (1, 3's first, 50, 54).</summary>
    public bool TryGetAddressOption(byte code, out Ipv4Address address)
    {
        address = default;
        return TryGetOption(code, out var data) && data.Length >= Ipv4Address.Length && Ipv4Address.TryRead(data, out address);
    }
}

/// <summary>Walks DHCP options: 0 pads, 255 ends; stops, never throws, at an option that overruns.</summary>
public ref struct DhcpOptionReader
{
    private readonly ReadOnlySpan<byte> _options;
    private int _offset;

    public DhcpOptionReader(ReadOnlySpan<byte> options)
    {
        _options = options;
        _offset = 0;
        Malformed = false;
    }

    public bool Malformed { get; private set; }

    public bool TryReadNext(out byte code, out ReadOnlySpan<byte> data)
    {
        data = default;
        code = 0;
        while (_offset < _options.Length)
        {
            code = _options[_offset];
            if (code == DhcpOptionCode.End)
            {
                _offset = _options.Length;
                return false;
            }
            if (code == DhcpOptionCode.Pad)
            {
                _offset++;
                continue;
            }
            if (_offset + 2 > _options.Length || _offset + 2 + _options[_offset + 1] > _options.Length)
            {
                Malformed = true;
                _offset = _options.Length;
                return false;
            }
            data = _options.Slice(_offset + 2, _options[_offset + 1]);
            _offset += 2 + data.Length;
            return true;
        }
        return false;
    }
}
