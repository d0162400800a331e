using System.Buffers.Binary;

namespace Fabric.Actors.DataPlane.Io;

/// <summary>
/// Writes a classic libpcap capture (LINKTYPE_ETHERNET, microsecond timestamps) that tshark
/// and Wireshark read. Thread-safe: any number of ports may tee into one writer; each record is
/// written whole under a lock.
/// </summary>
/// <remarks>
/// File format: https://wiki.wireshark.org/Development/LibpcapFileFormat and
/// draft-ietf-opsawg-pcap. The global header is 24 bytes, each record has a 16-byte header
/// (seconds, microseconds, captured length, original length) followed by the frame. We write
/// little-endian (magic 0xa1b2c3d4 as read in host order tells readers which).
/// </remarks>
public sealed partial class PcapWriter : IDisposable
{
    public const uint MagicMicroseconds = 0xa1b2c3d4;
    public const uint LinkTypeEthernet = 1;
    public const int SnapLength = 262144;
    private const int GlobalHeaderLength = 24;
    private const int RecordHeaderLength = 16;

    private readonly Lock _lock = new();
    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly byte[] _recordHeader = new byte[RecordHeaderLength];
    private long _framesWritten;
    private bool _disposed;

    /// <summary>Creates (or truncates) the capture file at <paramref name="path"/>.</summary>
    public PcapWriter(string path)
        : this(new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16), leaveOpen: false)
    {
    }

    public PcapWriter(Stream stream, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
        _leaveOpen = leaveOpen;
        Span<byte> header = stackalloc byte[GlobalHeaderLength];
        BinaryPrimitives.WriteUInt32LittleEndian(header, MagicMicroseconds);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], 2); // version major
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], 4); // version minor
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], 0); // thiszone: timestamps are UTC
        BinaryPrimitives.WriteUInt32LittleEndian(header[12..], 0); // sigfigs
        BinaryPrimitives.WriteUInt32LittleEndian(header[16..], SnapLength);
        BinaryPrimitives.WriteUInt32LittleEndian(header[20..], LinkTypeEthernet);
        _stream.Write(header);
    }

    /// <summary>Records written so far.</summary>
    public long FramesWritten => Interlocked.Read(ref _framesWritten);

    /// <summary>Appends one Ethernet frame stamped now.</summary>
    public void WriteFrame(ReadOnlySpan<byte> frame) => WriteFrame(frame, DateTime.UtcNow);

    /// <summary>Appends one Ethernet frame stamped <paramref name="timestampUtc"/>.</summary>
    public void WriteFrame(ReadOnlySpan<byte> frame, DateTime timestampUtc)
    {
        lock (_lock)
        {
            WriteRecordLocked(frame, ReadOnlySpan<byte>.Empty, timestampUtc);
        }
    }

    /// <summary>Appends every frame of <paramref name="batch"/> with one timestamp.</summary>
    public void WriteBatch(PacketBatch batch) => WriteBatch(batch, 0, batch?.Count ?? 0);

    /// <summary>Appends frames <paramref name="start"/> .. start + count - 1 of <paramref name="batch"/> with one timestamp.</summary>
    public void WriteBatch(PacketBatch batch, int start, int count)
    {
        ArgumentNullException.ThrowIfNull(batch);
        DateTime now = DateTime.UtcNow;
        lock (_lock)
        {
            for (int i = start; i < start + count; i++)
            {
                WriteRecordLocked(batch.Frame(i), ReadOnlySpan<byte>.Empty, now);
            }
        }
    }

    public void Flush()
    {
        lock (_lock)
        {
            if (!_disposed)
            {
                _stream.Flush();
            }
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _stream.Flush();
            if (!_leaveOpen)
            {
                _stream.Dispose();
            }
        }
    }

    /// <summary>Writes one record whose bytes are <paramref name="head"/> followed by <paramref name="body"/>.</summary>
    private void WriteRecordLocked(ReadOnlySpan<byte> head, ReadOnlySpan<byte> body, DateTime timestampUtc)
    {
        if (_disposed)
        {
            return; // a port may still tee a frame while its capture is being closed
        }

        int originalLength = head.Length + body.Length;
        int capturedLength = Math.Min(originalLength, SnapLength);
        long unixMicros = (timestampUtc.Ticks - DateTime.UnixEpoch.Ticks) / (TimeSpan.TicksPerMillisecond / 1000);
        BinaryPrimitives.WriteUInt32LittleEndian(_recordHeader, (uint)(unixMicros / 1_000_000));
        BinaryPrimitives.WriteUInt32LittleEndian(_recordHeader.AsSpan(4), (uint)(unixMicros % 1_000_000));
        BinaryPrimitives.WriteUInt32LittleEndian(_recordHeader.AsSpan(8), (uint)capturedLength);
        BinaryPrimitives.WriteUInt32LittleEndian(_recordHeader.AsSpan(12), (uint)originalLength);
        _stream.Write(_recordHeader);
        int headPart = Math.Min(head.Length, capturedLength);
        _stream.Write(head[..headPart]);
        _stream.Write(body[..Math.Min(body.Length, capturedLength - headPart)]);
        _framesWritten++;
    }
}
