using System.Text;

namespace Fabric.Actors.Cellular.Serial;

/// <summary>
/// A modem's control channel as lines: a serial AT port (a real device or a pseudo-terminal) or
/// an in-memory link to an emulator. Lines come in on a thread of the link; <see cref="TrySend"/>
/// may be called from another.
/// </summary>
public interface IModemLink : IDisposable
{
    /// <summary>What the link is, for logs and status (<c>/dev/ttyUSB2</c>, <c>emulator (in memory)</c>).</summary>
    string Description { get; }

    /// <summary>
    /// Starts delivering lines (without CR/LF) to <paramref name="onLine"/>; calls
    /// <paramref name="onClosed"/> once if the device goes away. Both may run on the link's thread.
    /// </summary>
    void Start(Action<string> onLine, Action<string> onClosed);

    /// <summary>Writes <paramref name="line"/> followed by CR (V.250 S3); false when the link is gone.</summary>
    bool TrySend(string line);
}

/// <summary>
/// Cuts a byte stream into lines at CR or LF (a modem frames responses with CR LF, commands end
/// in CR). Bytes are read as Latin-1, so anything outside ASCII reaches the parser as a
/// non-printable character and is refused there. A line longer than
/// <see cref="MaximumLength"/> is cut (the parser then refuses it as too long).
/// </summary>
public sealed class LineSplitter
{
    public const int MaximumLength = 1024;

    private readonly StringBuilder _line = new();

    public void Feed(ReadOnlySpan<byte> bytes, Action<string> onLine)
    {
        foreach (var b in bytes)
        {
            if (b is (byte)'\r' or (byte)'\n')
            {
                if (_line.Length > 0) onLine(_line.ToString());
                _line.Clear();
                continue;
            }
            _line.Append((char)b);
            if (_line.Length > MaximumLength)
            {
                onLine(_line.ToString());
                _line.Clear();
            }
        }
    }
}

/// <summary>A link that hands lines to and from an in-process peer (the emulator of a ghost modem).</summary>
public sealed class InMemoryModemLink(string description, Action<string> toModem) : IModemLink
{
    private Action<string>? _onLine;
    private Action<string>? _onClosed;
    private int _closed;

    public string Description => description;

    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    public void Start(Action<string> onLine, Action<string> onClosed)
    {
        _onLine = onLine;
        _onClosed = onClosed;
    }

    public bool TrySend(string line)
    {
        if (IsClosed) return false;
        toModem(line);
        return true;
    }

    /// <summary>A line from the modem.</summary>
    public void Deliver(string line)
    {
        if (!IsClosed) _onLine?.Invoke(line);
    }

    /// <summary>The modem side went away (a simulated unplug).</summary>
    public void Sever(string reason)
    {
        if (Interlocked.Exchange(ref _closed, 1) == 0) _onClosed?.Invoke(reason);
    }

    public void Dispose() => Interlocked.Exchange(ref _closed, 1);
}
