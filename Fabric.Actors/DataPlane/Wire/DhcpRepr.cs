using System.Buffers.Binary;

namespace Fabric.Actors.DataPlane.Wire;

/// <summary>
/// Up to four IPv4 addresses held inline (option 6 DNS servers, option 3 routers), so a
/// <see cref="DhcpRepr"/> stays a value with value equality. Longer lists keep their first four.
/// </summary>
public readonly record struct DhcpAddressList
{
    public const int Capacity = 4;

    private readonly Ipv4Address _a0, _a1, _a2, _a3;

    public DhcpAddressList(ReadOnlySpan<Ipv4Address> addresses)
    {
        Count = Math.Min(addresses.Length, Capacity);
        _a0 = Count > 0 ? addresses[0] : default;
        _a1 = Count > 1 ? addresses[1] : default;
        _a2 = Count > 2 ? addresses[2] : default;
        _a3 = Count > 3 ? addresses[3] : default;
    }

    public int Count { get; }
    public bool IsEmpty => Count == 0;

    public Ipv4Address this[int index] => (uint)index < (uint)Count
        ? index switch { 0 => _a0, 1 => _a1, 2 => _a2, _ => _a3 }
        : throw new ArgumentOutOfRangeException(nameof(index));

    /// <summary>Reads the addresses of an option's data (a multiple of 4 bytes; a remainder is ignored).</summary>
    public static DhcpAddressList Read(ReadOnlySpan<byte> data)
    {
        Span<Ipv4Address> addresses = stackalloc Ipv4Address[Capacity];
        var n = Math.Min(data.Length / Ipv4Address.Length, Capacity);
        for (var i = 0; i < n; i++)
        {
            addresses[i] = new Ipv4Address(BinaryPrimitives.ReadUInt32BigEndian(data[(i * 4)..]));
        }
        return new DhcpAddressList(addresses[..n]);
    }

    public override string ToString()
    {
        var parts = new string[Count];
        for (var i = 0; i < Count; i++)
        {
            parts[i] = this[i].ToString();
        }
        return "[" + string.Join(", ", parts) + "]";
    }
}

/// <summary>
/// A DHCP client identifier (option 61, RFC 2132 §9.14): a type byte and an opaque id, compared by
/// content. It is the lease key when present; clients usually send type 1 + their MAC.
/// Allocates (a byte array): DHCP is the control path.
/// </summary>
public readonly struct DhcpClientId : IEquatable<DhcpClientId>
{
    private readonly byte[]? _bytes;

    public DhcpClientId(ReadOnlySpan<byte> bytes) => _bytes = bytes.ToArray();

    public static DhcpClientId FromMac(MacAddress mac)
    {
        Span<byte> bytes = stackalloc byte[1 + MacAddress.Length];
        bytes[0] = (byte)ArpLayout.HardwareTypeEthernet;
        mac.WriteTo(bytes[1..]);
        return new DhcpClientId(bytes);
    }

    public ReadOnlySpan<byte> Bytes => _bytes;
    public int Length => _bytes?.Length ?? 0;

    public bool Equals(DhcpClientId other) => Bytes.SequenceEqual(other.Bytes);
    public override bool Equals(object? obj) => obj is DhcpClientId other && Equals(other);
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.AddBytes(Bytes);
        return hash.ToHashCode();
    }
    public override string ToString() => Convert.ToHexString(Bytes).ToLowerInvariant();
    public static bool operator ==(DhcpClientId left, DhcpClientId right) => left.Equals(right);
    public static bool operator !=(DhcpClientId left, DhcpClientId right) => !left.Equals(right);
}

/// <summary>
/// The value of a DHCP message with the options a small server needs: 1 subnet mask, 3 router,
/// 6 DNS servers, 50 requested address, 51 lease time, 53 message type, 54 server identifier,
/// 58/59 renewal (T1) and rebinding (T2) times, 61 client identifier. Other options are skipped on parse and not emitted.
/// The op code follows from the message type. Emit pads to BOOTP's 300-byte minimum.
/// </summary>
public readonly record struct DhcpRepr(DhcpMessageType MessageType, uint TransactionId, MacAddress ClientHardwareAddress)
{
    public ushort Seconds { get; init; }
    public bool Broadcast { get; init; }
    public byte Hops { get; init; }
    /// <summary>ciaddr: the client's address when it is already bound (renewing, releasing, informing).</summary>
    public Ipv4Address ClientAddress { get; init; }
    /// <summary>yiaddr: the address the server offers or acknowledges.</summary>
    public Ipv4Address YourAddress { get; init; }
    /// <summary>siaddr: the next server to use (TFTP); usually the DHCP server itself.</summary>
    public Ipv4Address ServerAddress { get; init; }
    /// <summary>giaddr: the relay agent that forwarded the request, or 0.0.0.0.</summary>
    public Ipv4Address RelayAgentAddress { get; init; }

    public Ipv4Address? SubnetMask { get; init; }
    public DhcpAddressList Routers { get; init; }
    public DhcpAddressList DnsServers { get; init; }
    public Ipv4Address? RequestedAddress { get; init; }
    /// <summary>Lease time in seconds (0xFFFFFFFF = infinite).</summary>
    public uint? LeaseTime { get; init; }
    /// <summary>T1 in seconds: when a bound client asks its server to renew (default half the lease).</summary>
    public uint? RenewalTime { get; init; }
    /// <summary>T2 in seconds: when a renewing client asks any server (default 7/8 of the lease).</summary>
    public uint? RebindingTime { get; init; }
    public Ipv4Address? ServerIdentifier { get; init; }
    public DhcpClientId? ClientIdentifier { get; init; }

    public DhcpOperation Operation => MessageType is DhcpMessageType.Offer or DhcpMessageType.Ack or DhcpMessageType.Nak
        ? DhcpOperation.BootReply
        : DhcpOperation.BootRequest;

    private int OptionsLength =>
        3 // message type
        + (SubnetMask.HasValue ? 6 : 0)
        + (Routers.IsEmpty ? 0 : 2 + (4 * Routers.Count))
        + (DnsServers.IsEmpty ? 0 : 2 + (4 * DnsServers.Count))
        + (RequestedAddress.HasValue ? 6 : 0)
        + (LeaseTime.HasValue ? 6 : 0)
        + (RenewalTime.HasValue ? 6 : 0)
        + (RebindingTime.HasValue ? 6 : 0)
        + (ServerIdentifier.HasValue ? 6 : 0)
        + (ClientIdentifier is { } id ? 2 + id.Length : 0)
        + 1; // end

    public int BufferLength => Math.Max(DhcpLayout.Options + OptionsLength, DhcpLayout.MinimumMessageLength);

    /// <summary>Parses a checked message; fails with MissingMessageType for plain BOOTP.</summary>
    public static bool TryParse(DhcpView message, out DhcpRepr repr, out DropReason reason)
    {
        repr = default;
        if (message.MessageType == 0)
        {
            reason = DropReason.MissingMessageType;
            return false;
        }
        Ipv4Address? mask = null, requested = null, server = null;
        uint? lease = null, renewal = null, rebinding = null;
        DhcpClientId? clientId = null;
        DhcpAddressList routers = default, dns = default;
        var options = message.ReadOptions();
        while (options.TryReadNext(out var code, out var data))
        {
            switch (code)
            {
                case DhcpOptionCode.SubnetMask when data.Length == 4:
                    mask ??= Ipv4Address.Read(data);
                    break;
                case DhcpOptionCode.Router when data.Length >= 4 && routers.IsEmpty:
                    routers = DhcpAddressList.Read(data);
                    break;
                case DhcpOptionCode.DomainNameServer when data.Length >= 4 && dns.IsEmpty:
                    dns = DhcpAddressList.Read(data);
                    break;
                case DhcpOptionCode.RequestedIpAddress when data.Length == 4:
                    requested ??= Ipv4Address.Read(data);
                    break;
                case DhcpOptionCode.LeaseTime when data.Length == 4:
                    lease ??= BinaryPrimitives.ReadUInt32BigEndian(data);
                    break;
                case DhcpOptionCode.RenewalTime when data.Length == 4:
                    renewal ??= BinaryPrimitives.ReadUInt32BigEndian(data);
                    break;
                case DhcpOptionCode.RebindingTime when data.Length == 4:
                    rebinding ??= BinaryPrimitives.ReadUInt32BigEndian(data);
                    break;
                case DhcpOptionCode.ServerIdentifier when data.Length == 4:
                    server ??= Ipv4Address.Read(data);
                    break;
                case DhcpOptionCode.ClientIdentifier when data.Length >= 2:
                    clientId ??= new DhcpClientId(data);
                    break;
            }
        }
        repr = new DhcpRepr(message.MessageType, message.TransactionId, message.ClientHardwareAddress)
        {
            Seconds = message.Seconds,
            Broadcast = message.Broadcast,
            Hops = message.Hops,
            ClientAddress = message.ClientAddress,
            YourAddress = message.YourAddress,
            ServerAddress = message.ServerAddress,
            RelayAgentAddress = message.RelayAgentAddress,
            SubnetMask = mask,
            Routers = routers,
            DnsServers = dns,
            RequestedAddress = requested,
            LeaseTime = lease,
            RenewalTime = renewal,
            RebindingTime = rebinding,
            ServerIdentifier = server,
            ClientIdentifier = clientId,
        };
        reason = DropReason.None;
        return true;
    }

    public static bool TryParse(ReadOnlySpan<byte> buffer, out DhcpRepr repr, out DropReason reason)
    {
        repr = default;
        return DhcpView.TryParse(buffer, out var message, out reason) && TryParse(message, out repr, out reason);
    }

    /// <summary>Writes the whole message (zeroing sname, file and padding) into <paramref name="buffer"/>.</summary>
    public void Emit(Span<byte> buffer)
    {
        var length = BufferLength;
        if (buffer.Length < length || ClientIdentifier is { Length: > byte.MaxValue })
        {
            throw new ArgumentException("Buffer shorter than the DHCP message, or client id over 255 bytes", nameof(buffer));
        }
        var m = buffer[..length];
        m.Clear();
        m[DhcpLayout.Operation] = (byte)Operation;
        m[DhcpLayout.HardwareType] = (byte)ArpLayout.HardwareTypeEthernet;
        m[DhcpLayout.HardwareLength] = MacAddress.Length;
        m[DhcpLayout.Hops] = Hops;
        BinaryPrimitives.WriteUInt32BigEndian(m[DhcpLayout.TransactionId..], TransactionId);
        BinaryPrimitives.WriteUInt16BigEndian(m[DhcpLayout.Seconds..], Seconds);
        BinaryPrimitives.WriteUInt16BigEndian(m[DhcpLayout.Flags..], Broadcast ? DhcpLayout.BroadcastFlag : (ushort)0);
        ClientAddress.WriteTo(m[DhcpLayout.ClientAddress..]);
        YourAddress.WriteTo(m[DhcpLayout.YourAddress..]);
        ServerAddress.WriteTo(m[DhcpLayout.ServerAddress..]);
        RelayAgentAddress.WriteTo(m[DhcpLayout.RelayAgentAddress..]);
        ClientHardwareAddress.WriteTo(m[DhcpLayout.ClientHardwareAddress..]);
        BinaryPrimitives.WriteUInt32BigEndian(m[DhcpLayout.MagicCookie..], DhcpLayout.MagicCookieValue);

        var at = DhcpLayout.Options;
        m[at++] = DhcpOptionCode.MessageType;
        m[at++] = 1;
        m[at++] = (byte)MessageType;
        if (ClientIdentifier is { } id)
        {
            m[at++] = DhcpOptionCode.ClientIdentifier;
            m[at++] = (byte)id.Length;
            id.Bytes.CopyTo(m[at..]);
            at += id.Length;
        }
        at = WriteAddress(m, at, DhcpOptionCode.RequestedIpAddress, RequestedAddress);
        at = WriteAddress(m, at, DhcpOptionCode.ServerIdentifier, ServerIdentifier);
        at = WriteSeconds(m, at, DhcpOptionCode.LeaseTime, LeaseTime);
        at = WriteSeconds(m, at, DhcpOptionCode.RenewalTime, RenewalTime);
        at = WriteSeconds(m, at, DhcpOptionCode.RebindingTime, RebindingTime);
        at = WriteAddress(m, at, DhcpOptionCode.SubnetMask, SubnetMask);
        at = WriteAddresses(m, at, DhcpOptionCode.Router, Routers);
        at = WriteAddresses(m, at, DhcpOptionCode.DomainNameServer, DnsServers);
        m[at] = DhcpOptionCode.End;
    }

    private static int WriteSeconds(Span<byte> m, int at, byte code, uint? seconds)
    {
        if (seconds is not { } value)
        {
            return at;
        }
        m[at] = code;
        m[at + 1] = 4;
        BinaryPrimitives.WriteUInt32BigEndian(m[(at + 2)..], value);
        return at + 6;
    }

    private static int WriteAddress(Span<byte> m, int at, byte code, Ipv4Address? address)
    {
        if (address is not { } a)
        {
            return at;
        }
        m[at] = code;
        m[at + 1] = 4;
        a.WriteTo(m[(at + 2)..]);
        return at + 6;
    }

    private static int WriteAddresses(Span<byte> m, int at, byte code, DhcpAddressList list)
    {
        if (list.IsEmpty)
        {
            return at;
        }
        m[at++] = code;
        m[at++] = (byte)(4 * list.Count);
        for (var i = 0; i < list.Count; i++)
        {
            list[i].WriteTo(m[at..]);
            at += 4;
        }
        return at;
    }
}
