using System.Buffers.Binary;

namespace Fabric.Actors.DataPlane.Wire;

// virtio-net header (Virtual I/O Device (VIRTIO) Version 1.2, §5.1.6 "Device Operation",
// https://docs.oasis-open.org/virtio/virtio/v1.2/virtio-v1.2.html; Linux include/uapi/linux/virtio_net.h).
// A TAP opened with IFF_VNET_HDR puts it in front of every frame read and expects it in front of
// every frame written. Little-endian on a little-endian host (the TAP default, TUNSETVNETLE).
//
//  0               1               2               3
// +---------------+---------------+---------------+---------------+
// |     flags     |   gso_type    |            hdr_len            |
// +---------------+---------------+---------------+---------------+
// |           gso_size            |          csum_start           |
// +---------------+---------------+---------------+---------------+
// |          csum_offset          |
// +---------------+---------------+
//
// flags NEEDS_CSUM: the L4 checksum is partial. The field at csum_start + csum_offset holds the
//   folded (not complemented) pseudo-header sum; the checksum of [csum_start, end) goes there.
// gso_type != NONE: a super-frame (up to 64 KiB) to be cut into gso_size payload pieces, each
//   with a copy of the first hdr_len bytes (TCP segmentation offload); NEEDS_CSUM is then set.

/// <summary>Field offsets of the 10-byte virtio-net header (no num_buffers: TUNSETVNETHDRSZ default).</summary>
public static class VirtioNetLayout
{
    public const int Flags = 0;
    public const int GsoType = 1;
    public const int HeaderLength = 2;
    public const int GsoSize = 4;
    public const int ChecksumStart = 6;
    public const int ChecksumOffset = 8;
    public const int Length = 10;
}

/// <summary>virtio-net header flags.</summary>
[Flags]
public enum VirtioNetFlags : byte
{
    None = 0,
    /// <summary>VIRTIO_NET_HDR_F_NEEDS_CSUM: complete the L4 checksum from csum_start.</summary>
    NeedsChecksum = 1,
    /// <summary>VIRTIO_NET_HDR_F_DATA_VALID: the receiver may skip checksum validation.</summary>
    DataValid = 2,
}

/// <summary>virtio-net GSO types. Unknown values are kept.</summary>
public enum VirtioNetGsoType : byte
{
    None = 0,
    TcpV4 = 1,
    Udp = 3,
    TcpV6 = 4,
    UdpL4 = 5,
    /// <summary>Flag bit: the TCP super-frame carries CWR (TSO with ECN).</summary>
    Ecn = 0x80,
}

/// <summary>A checked view of a virtio-net header: the buffer holds at least 10 bytes.</summary>
public readonly ref struct VirtioNetView
{
    private readonly ReadOnlySpan<byte> _buffer;

    private VirtioNetView(ReadOnlySpan<byte> buffer) => _buffer = buffer;

    public static bool TryParse(ReadOnlySpan<byte> buffer, out VirtioNetView header, out DropReason reason)
    {
        header = default;
        if (buffer.Length < VirtioNetLayout.Length)
        {
            reason = DropReason.Truncated;
            return false;
        }

        header = new VirtioNetView(buffer);
        reason = DropReason.None;
        return true;
    }

    public VirtioNetFlags Flags => (VirtioNetFlags)_buffer[VirtioNetLayout.Flags];

    public VirtioNetGsoType GsoType => (VirtioNetGsoType)_buffer[VirtioNetLayout.GsoType];

    public ushort HeaderLength => BinaryPrimitives.ReadUInt16LittleEndian(_buffer[VirtioNetLayout.HeaderLength..]);

    public ushort GsoSize => BinaryPrimitives.ReadUInt16LittleEndian(_buffer[VirtioNetLayout.GsoSize..]);

    public ushort ChecksumStart => BinaryPrimitives.ReadUInt16LittleEndian(_buffer[VirtioNetLayout.ChecksumStart..]);

    public ushort ChecksumOffset => BinaryPrimitives.ReadUInt16LittleEndian(_buffer[VirtioNetLayout.ChecksumOffset..]);
}

/// <summary>A virtio-net header as a value.</summary>
public readonly record struct VirtioNetHeader(
    VirtioNetFlags Flags,
    VirtioNetGsoType GsoType,
    ushort HeaderLength,
    ushort GsoSize,
    ushort ChecksumStart,
    ushort ChecksumOffset)
{
    /// <summary>A complete frame: no checksum to finish, no segmentation.</summary>
    public static readonly VirtioNetHeader Plain = default;

    public const int BufferLength = VirtioNetLayout.Length;

    /// <summary>The GSO type without the ECN flag bit.</summary>
    public VirtioNetGsoType BaseGsoType => GsoType & ~VirtioNetGsoType.Ecn;

    public bool NeedsChecksum => (Flags & VirtioNetFlags.NeedsChecksum) != 0;

    public static VirtioNetHeader Parse(VirtioNetView view) =>
        new(view.Flags, view.GsoType, view.HeaderLength, view.GsoSize, view.ChecksumStart, view.ChecksumOffset);

    public static bool TryParse(ReadOnlySpan<byte> buffer, out VirtioNetHeader header, out DropReason reason)
    {
        header = default;
        if (!VirtioNetView.TryParse(buffer, out var view, out reason))
        {
            return false;
        }

        header = Parse(view);
        return true;
    }

    /// <summary>Writes the 10 bytes into <paramref name="buffer"/>.</summary>
    public void Emit(Span<byte> buffer)
    {
        buffer = buffer[..VirtioNetLayout.Length];
        buffer[VirtioNetLayout.Flags] = (byte)Flags;
        buffer[VirtioNetLayout.GsoType] = (byte)GsoType;
        BinaryPrimitives.WriteUInt16LittleEndian(buffer[VirtioNetLayout.HeaderLength..], HeaderLength);
        BinaryPrimitives.WriteUInt16LittleEndian(buffer[VirtioNetLayout.GsoSize..], GsoSize);
        BinaryPrimitives.WriteUInt16LittleEndian(buffer[VirtioNetLayout.ChecksumStart..], ChecksumStart);
        BinaryPrimitives.WriteUInt16LittleEndian(buffer[VirtioNetLayout.ChecksumOffset..], ChecksumOffset);
    }
}
