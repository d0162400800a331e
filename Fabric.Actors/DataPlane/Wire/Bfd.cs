using System.Buffers.Binary;

namespace Fabric.Actors.DataPlane.Wire;

// BFD control packet, mandatory section (RFC 5880 §4.1, https://www.rfc-editor.org/rfc/rfc5880).
// Carried on a PW associated channel of type 0x0007 "BFD without IP/UDP" (RFC 5885 §3.2).
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |Vers |  Diag   |Sta|P|F|C|A|D|M|  Detect Mult  |    Length     |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                       My Discriminator                        |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                      Your Discriminator                       |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                    Desired Min TX Interval                    |  microseconds
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                   Required Min RX Interval                    |  microseconds
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                 Required Min Echo RX Interval                 |  microseconds
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

/// <summary>Offsets of the BFD control packet.</summary>
public static class BfdLayout
{
    public const int Length = 24;
    public const int VersionDiag = 0;
    public const int StateFlags = 1;
    public const int DetectMult = 2;
    public const int PacketLength = 3;
    public const int MyDiscriminator = 4;
    public const int YourDiscriminator = 8;
    public const int DesiredMinTx = 12;
    public const int RequiredMinRx = 16;
    public const int RequiredMinEchoRx = 20;
    public const byte Version = 1;
}

/// <summary>BFD session states (RFC 5880 §4.1, "Sta").</summary>
public enum BfdState : byte
{
    AdminDown = 0,
    Down = 1,
    Init = 2,
    Up = 3,
}

/// <summary>A checked view: 24 bytes or more, version 1, Length field 24..buffer length, detect multiplier non-zero.</summary>
public readonly ref struct BfdControlView
{
    private readonly ReadOnlySpan<byte> _buffer;

    private BfdControlView(ReadOnlySpan<byte> buffer) => _buffer = buffer;

    public static bool TryParse(ReadOnlySpan<byte> buffer, out BfdControlView packet, out DropReason reason)
    {
        packet = default;
        if (buffer.Length < BfdLayout.Length)
        {
            reason = DropReason.Truncated;
            return false;
        }

        if (buffer[BfdLayout.VersionDiag] >> 5 != BfdLayout.Version)
        {
            reason = DropReason.BadVersion;
            return false;
        }

        int length = buffer[BfdLayout.PacketLength];
        if (length < BfdLayout.Length || length > buffer.Length)
        {
            reason = DropReason.BadLength;
            return false;
        }

        if (buffer[BfdLayout.DetectMult] == 0)
        {
            reason = DropReason.BadFlags;
            return false;
        }

        packet = new BfdControlView(buffer);
        reason = DropReason.None;
        return true;
    }

    public byte Diagnostic => (byte)(_buffer[BfdLayout.VersionDiag] & 0x1F);
    public BfdState State => (BfdState)(_buffer[BfdLayout.StateFlags] >> 6);
    public byte DetectMultiplier => _buffer[BfdLayout.DetectMult];
    public uint MyDiscriminator => BinaryPrimitives.ReadUInt32BigEndian(_buffer[BfdLayout.MyDiscriminator..]);
    public uint YourDiscriminator => BinaryPrimitives.ReadUInt32BigEndian(_buffer[BfdLayout.YourDiscriminator..]);
    public uint DesiredMinTxMicroseconds => BinaryPrimitives.ReadUInt32BigEndian(_buffer[BfdLayout.DesiredMinTx..]);
    public uint RequiredMinRxMicroseconds => BinaryPrimitives.ReadUInt32BigEndian(_buffer[BfdLayout.RequiredMinRx..]);
}

/// <summary>The value of a BFD control packet (no authentication section, no poll/final).</summary>
public readonly record struct BfdControlRepr(
    BfdState State,
    byte DetectMultiplier,
    uint MyDiscriminator,
    uint YourDiscriminator,
    uint DesiredMinTxMicroseconds,
    uint RequiredMinRxMicroseconds,
    byte Diagnostic = 0)
{
    public int BufferLength => BfdLayout.Length;

    public static BfdControlRepr Parse(BfdControlView view) => new(
        view.State, view.DetectMultiplier, view.MyDiscriminator, view.YourDiscriminator,
        view.DesiredMinTxMicroseconds, view.RequiredMinRxMicroseconds, view.Diagnostic);

    public void Emit(Span<byte> buffer)
    {
        if (buffer.Length < BfdLayout.Length)
        {
            throw new ArgumentException("Buffer shorter than a BFD control packet", nameof(buffer));
        }

        buffer[BfdLayout.VersionDiag] = (byte)((BfdLayout.Version << 5) | (Diagnostic & 0x1F));
        buffer[BfdLayout.StateFlags] = (byte)((byte)State << 6);
        buffer[BfdLayout.DetectMult] = DetectMultiplier;
        buffer[BfdLayout.PacketLength] = BfdLayout.Length;
        BinaryPrimitives.WriteUInt32BigEndian(buffer[BfdLayout.MyDiscriminator..], MyDiscriminator);
        BinaryPrimitives.WriteUInt32BigEndian(buffer[BfdLayout.YourDiscriminator..], YourDiscriminator);
        BinaryPrimitives.WriteUInt32BigEndian(buffer[BfdLayout.DesiredMinTx..], DesiredMinTxMicroseconds);
        BinaryPrimitives.WriteUInt32BigEndian(buffer[BfdLayout.RequiredMinRx..], RequiredMinRxMicroseconds);
        BinaryPrimitives.WriteUInt32BigEndian(buffer[BfdLayout.RequiredMinEchoRx..], 0);
    }
}
