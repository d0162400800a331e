using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Fabric.Actors.DataPlane.Wire;

/// <summary>
/// Big-endian reads without bounds checks, for view accessors only: each caller's TryParse has
/// already proved the offset is inside the buffer (the Wire contract). Everything else uses
/// <see cref="BinaryPrimitives"/> directly.
/// </summary>
internal static class BigEndian
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte U8(ReadOnlySpan<byte> buffer, int offset)
    {
        Debug.Assert((uint)offset < (uint)buffer.Length);
        return Unsafe.Add(ref MemoryMarshal.GetReference(buffer), offset);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort U16(ReadOnlySpan<byte> buffer, int offset)
    {
        Debug.Assert(offset >= 0 && offset + 2 <= buffer.Length);
        var raw = Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref MemoryMarshal.GetReference(buffer), offset));
        return BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(raw) : raw;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint U32(ReadOnlySpan<byte> buffer, int offset)
    {
        Debug.Assert(offset >= 0 && offset + 4 <= buffer.Length);
        var raw = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref MemoryMarshal.GetReference(buffer), offset));
        return BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(raw) : raw;
    }

    /// <summary>Reads 24 bits (VNI fields).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint U24(ReadOnlySpan<byte> buffer, int offset) =>
        ((uint)U16(buffer, offset) << 8) | U8(buffer, offset + 2);

    /// <summary>Writes 24 bits, checked.</summary>
    public static void WriteU24(Span<byte> buffer, int offset, uint value)
    {
        var slice = buffer.Slice(offset, 3);
        slice[0] = (byte)(value >> 16);
        slice[1] = (byte)(value >> 8);
        slice[2] = (byte)value;
    }
}
