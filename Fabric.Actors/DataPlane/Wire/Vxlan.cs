using System.Buffers.Binary;

namespace Fabric.Actors.DataPlane.Wire;

// VXLAN header (RFC 7348 §5, https://www.rfc-editor.org/rfc/rfc7348#section-5), UDP port 4789.
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |R|R|R|R|I|R|R|R|            Reserved                           |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                VXLAN Network Identifier (VNI) |   Reserved    |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                 Inner Ethernet frame ...                      |
// I must be 1 (a valid VNI); the R bits are sent 0 and ignored on receipt.

public static class VxlanLayout
{
    public const int Flags = 0;
    public const int Vni = 4;
    public const int HeaderLength = 8;
    public const byte ValidVniFlag = 0x08;
    public const uint MaxVni = 0xFF_FFFF;
}

/// <summary>A checked view of a VXLAN header (I flag set) and the inner frame after it.</summary>
public readonly ref struct VxlanView
{
    private readonly ReadOnlySpan<byte> _buffer;

    private VxlanView(ReadOnlySpan<byte> buffer) => _buffer = buffer;

    public static bool TryParse(ReadOnlySpan<byte> buffer, out VxlanView header, out DropReason reason)
    {
        header = default;
        if (buffer.Length < VxlanLayout.HeaderLength)
        {
            reason = DropReason.Truncated;
            return false;
        }
        if ((BigEndian.U8(buffer, VxlanLayout.Flags) & VxlanLayout.ValidVniFlag) == 0)
        {
            reason = DropReason.BadFlags;
            return false;
        }
        header = new VxlanView(buffer);
        reason = DropReason.None;
        return true;
    }

    /// <summary>The 24-bit VXLAN network identifier (the tenant segment).</summary>
    public uint Vni => BigEndian.U24(_buffer, VxlanLayout.Vni);
    /// <summary>The inner Ethernet frame.</summary>
    public ReadOnlySpan<byte> Payload => _buffer[VxlanLayout.HeaderLength..];
}

/// <summary>The value of a VXLAN header; the inner frame follows it.</summary>
public readonly record struct VxlanRepr(uint Vni)
{
    public int BufferLength => VxlanLayout.HeaderLength;

    public static VxlanRepr Parse(VxlanView header) => new(header.Vni);

    public static bool TryParse(ReadOnlySpan<byte> buffer, out VxlanRepr repr, out DropReason reason)
    {
        if (!VxlanView.TryParse(buffer, out var header, out reason))
        {
            repr = default;
            return false;
        }
        repr = Parse(header);
        return true;
    }

    public void Emit(Span<byte> buffer)
    {
        if (buffer.Length < VxlanLayout.HeaderLength || Vni > VxlanLayout.MaxVni)
        {
            throw new ArgumentException("Buffer shorter than a VXLAN header, or VNI over 24 bits", nameof(buffer));
        }
        BinaryPrimitives.WriteUInt32BigEndian(buffer, (uint)VxlanLayout.ValidVniFlag << 24);
        BinaryPrimitives.WriteUInt32BigEndian(buffer[VxlanLayout.Vni..], Vni << 8);
    }
}
