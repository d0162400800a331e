using System.Text;

namespace Fabric.Actors.Cellular.Serial;

/// <summary>
/// A file descriptor read as lines on its own thread (poll with a wake eventfd, so stopping
/// never waits for the device). Ends when the device hangs up or reads fail (EIO: a USB modem
/// unplugged, a pseudo-terminal's other end closed).
/// </summary>
internal sealed unsafe class FdLineReader : IDisposable
{
    private readonly int _fd;
    private readonly int _wakeFd;
    private readonly LineSplitter _splitter = new();
    private Thread? _thread;
    private volatile bool _stop;

    public FdLineReader(int fd, string name)
    {
        _fd = fd;
        Name = name;
        _wakeFd = TtyNative.EventFd(0, TtyNative.EFD_NONBLOCK | TtyNative.EFD_CLOEXEC);
        if (_wakeFd < 0) throw new IOException($"eventfd failed: {TtyNative.Describe(TtyNative.LastError)}");
    }

    public string Name { get; }

    public void Start(Action<string> onLine, Action<string> onClosed)
    {
        _thread = new Thread(() => Loop(onLine, onClosed)) { IsBackground = true, Name = $"at-{Name}" };
        _thread.Start();
    }

    private void Loop(Action<string> onLine, Action<string> onClosed)
    {
        var buffer = new byte[512];
        string? closed = null;
        while (!_stop && closed is null)
        {
            var revents = TtyNative.WaitReadable(_fd, _wakeFd, -1, out var errno); // Dispose signals the wake eventfd
            if (revents < 0)
            {
                closed = $"poll: {TtyNative.Describe(errno)}";
                break;
            }
            if ((revents & TtyNative.POLLIN) != 0)
            {
                fixed (byte* p = buffer)
                {
                    var n = TtyNative.Read(_fd, p, (nuint)buffer.Length);
                    if (n > 0)
                    {
                        _splitter.Feed(buffer.AsSpan(0, (int)n), onLine);
                        continue;
                    }
                    var err = n < 0 ? TtyNative.LastError : 0;
                    if (n < 0 && err is TtyNative.EAGAIN or TtyNative.EINTR) continue;
                    closed = n == 0 ? "end of file" : $"read: {TtyNative.Describe(err)}";
                }
            }
            else if ((revents & (TtyNative.POLLHUP | TtyNative.POLLERR | TtyNative.POLLNVAL)) != 0)
            {
                closed = $"device hung up (poll revents 0x{revents:x})";
            }
        }
        if (closed is not null && !_stop) onClosed(closed);
    }

    public void Dispose()
    {
        _stop = true;
        TtyNative.Signal(_wakeFd);
        if (_thread is not null && _thread != Thread.CurrentThread) _thread.Join(TimeSpan.FromSeconds(2));
        TtyNative.Close(_wakeFd);
    }
}

/// <summary>
/// A serial AT port: a character device under /dev that is a terminal (a USB modem's
/// /dev/ttyUSB2, /dev/ttyACM0, or a pseudo-terminal the emulator serves), opened in raw mode at
/// 115200 baud. The path is resolved (symlinks, <c>..</c>) before it is opened, and must stay
/// under /dev/.
/// </summary>
public sealed class SerialModemLink : IModemLink
{
    private readonly int _fd;
    private readonly FdLineReader _reader;
    private readonly Lock _writeLock = new();
    private int _closed;

    private SerialModemLink(string path, string resolved, int fd)
    {
        Description = path == resolved ? path : $"{path} -> {resolved}";
        _fd = fd;
        _reader = new FdLineReader(fd, Path.GetFileName(resolved));
    }

    public string Description { get; }

    /// <summary>
    /// Resolves <paramref name="path"/> and checks it is a terminal under /dev/, without opening
    /// anything else. Returns the resolved path, or null with the reason.
    /// </summary>
    public static string? ResolveDevice(string path, out string reason)
    {
        reason = "";
        var resolved = TtyNative.Resolve(path, out var errno);
        if (resolved is null)
        {
            reason = $"{path}: {TtyNative.Describe(errno)}";
            return null;
        }
        if (!resolved.StartsWith("/dev/", StringComparison.Ordinal))
        {
            reason = $"{path} resolves to {resolved}, which is not under /dev/";
            return null;
        }
        return resolved;
    }

    /// <summary>Opens the serial device at <paramref name="path"/>; throws <see cref="IOException"/> with the reason when it cannot.</summary>
    public static SerialModemLink Open(string path)
    {
        var resolved = ResolveDevice(path, out var reason) ?? throw new IOException(reason);
        var fd = TtyNative.Open(resolved, TtyNative.O_RDWR | TtyNative.O_NOCTTY | TtyNative.O_NONBLOCK | TtyNative.O_CLOEXEC);
        if (fd < 0) throw new IOException($"open {resolved}: {TtyNative.Describe(TtyNative.LastError)}");
        if (TtyNative.IsATty(fd) != 1)
        {
            TtyNative.Close(fd);
            throw new IOException($"{resolved} is not a terminal (a modem's AT port is a tty)");
        }
        if (!TtyNative.MakeRaw(fd, out var errno))
        {
            TtyNative.Close(fd);
            throw new IOException($"raw mode on {resolved}: {TtyNative.Describe(errno)}");
        }
        return new SerialModemLink(path, resolved, fd);
    }

    public void Start(Action<string> onLine, Action<string> onClosed) => _reader.Start(onLine, onClosed);

    public bool TrySend(string line)
    {
        if (Volatile.Read(ref _closed) != 0) return false;
        var bytes = Encoding.ASCII.GetBytes(line + "\r");
        lock (_writeLock)
        {
            return TtyNative.WriteAll(_fd, bytes, out _);
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0) return;
        _reader.Dispose();
        TtyNative.Close(_fd);
    }
}

/// <summary>
/// Serves an emulator on a pseudo-terminal: the DTE opens <see cref="DevicePath"/>
/// (<c>/dev/pts/N</c>) exactly as it would a USB modem's AT port, and the emulator reads
/// commands from the master side and writes its answers there, framed CR LF.
/// <see cref="Dispose"/> is an unplug: the DTE's reads fail with EIO.
/// </summary>
public sealed unsafe class PtyModemHost : IDisposable
{
    private readonly int _master;
    private readonly int _slaveKeeper;
    private readonly FdLineReader _reader;
    private readonly Lock _writeLock = new();
    private int _closed;

    private PtyModemHost(int master, int slaveKeeper, string devicePath)
    {
        _master = master;
        _slaveKeeper = slaveKeeper;
        DevicePath = devicePath;
        _reader = new FdLineReader(master, $"pty-{Path.GetFileName(devicePath)}");
    }

    /// <summary>The slave side, what the modem actor opens: <c>/dev/pts/N</c>.</summary>
    public string DevicePath { get; }

    public static PtyModemHost Open()
    {
        var master = TtyNative.PosixOpenPt(TtyNative.O_RDWR | TtyNative.O_NOCTTY | TtyNative.O_NONBLOCK | TtyNative.O_CLOEXEC);
        if (master < 0) throw new IOException($"posix_openpt: {TtyNative.Describe(TtyNative.LastError)}");
        byte* name = stackalloc byte[128];
        if (TtyNative.GrantPt(master) < 0 || TtyNative.UnlockPt(master) < 0 || TtyNative.PtsNameR(master, name, 128) != 0)
        {
            var errno = TtyNative.LastError;
            TtyNative.Close(master);
            throw new IOException($"pseudo-terminal setup: {TtyNative.Describe(errno)}");
        }
        var path = new string((sbyte*)name);
        // Hold the slave open in raw mode: no echo of what the modem writes before the DTE opens
        // it, and the master never reads EIO merely because no DTE has it open right now.
        var keeper = TtyNative.Open(path, TtyNative.O_RDWR | TtyNative.O_NOCTTY | TtyNative.O_NONBLOCK | TtyNative.O_CLOEXEC);
        if (keeper < 0 || !TtyNative.MakeRaw(keeper, out _))
        {
            var errno = TtyNative.LastError;
            if (keeper >= 0) TtyNative.Close(keeper);
            TtyNative.Close(master);
            throw new IOException($"open {path}: {TtyNative.Describe(errno)}");
        }
        return new PtyModemHost(master, keeper, path);
    }

    /// <summary>Starts reading commands; each complete line goes to <paramref name="onCommand"/>.</summary>
    public void Start(Action<string> onCommand) => _reader.Start(onCommand, _ => { });

    /// <summary>
    /// Writes one modem line, framed CR LF as V.250 responses are. When nobody reads the other side
    /// and its buffer is full, the line is lost after a short wait (a UART overrun), never blocking.
    /// </summary>
    public void Write(string line)
    {
        if (Volatile.Read(ref _closed) != 0) return;
        var bytes = Encoding.ASCII.GetBytes($"\r\n{line}\r\n");
        lock (_writeLock)
        {
            TtyNative.WriteAll(_master, bytes, out _);
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0) return;
        _reader.Dispose();
        TtyNative.Close(_slaveKeeper);
        TtyNative.Close(_master);
    }
}
