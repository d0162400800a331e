using System.Runtime.InteropServices;

namespace Fabric.Actors.Cellular.Serial;

/// <summary>
/// The libc calls a serial AT port and its emulator need: terminals (raw mode, speed),
/// pseudo-terminals (posix_openpt), realpath, and the poll/read/write loop with a wake eventfd
/// (Linux x86-64 / arm64; errno read back with <see cref="Marshal.GetLastPInvokeError"/>).
/// </summary>
internal static unsafe partial class TtyNative
{
    private const string Libc = "libc";

    public const int O_RDWR = 0x2;
    public const int O_NOCTTY = 0x100;
    public const int O_NONBLOCK = 0x800;
    public const int O_CLOEXEC = 0x80000;

    public const int EINTR = 4;
    public const int EIO = 5;
    public const int EAGAIN = 11;

    public const short POLLIN = 0x001;
    public const short POLLOUT = 0x004;
    public const short POLLERR = 0x008;
    public const short POLLHUP = 0x010;
    public const short POLLNVAL = 0x020;

    public const int EFD_NONBLOCK = 0x800;
    public const int EFD_CLOEXEC = 0x80000;

    /// <summary>termios.h TCSANOW.</summary>
    public const int TCSANOW = 0;

    /// <summary>termios.h B115200 (a speed code, not a number).</summary>
    public const uint B115200 = 0x1002;

    /// <summary>struct termios is 60 bytes on Linux (glibc); room to spare.</summary>
    public const int TermiosSize = 128;

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport(Libc, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags);

    [LibraryImport(Libc, EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport(Libc, EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(int fd, byte* buffer, nuint count);

    [LibraryImport(Libc, EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(int fd, byte* buffer, nuint count);

    [LibraryImport(Libc, EntryPoint = "poll", SetLastError = true)]
    public static partial int Poll(PollFd* fds, nuint count, int timeoutMs);

    [LibraryImport(Libc, EntryPoint = "eventfd", SetLastError = true)]
    public static partial int EventFd(uint initialValue, int flags);

    [LibraryImport(Libc, EntryPoint = "isatty", SetLastError = true)]
    public static partial int IsATty(int fd);

    [LibraryImport(Libc, EntryPoint = "tcgetattr", SetLastError = true)]
    public static partial int TcGetAttr(int fd, byte* termios);

    [LibraryImport(Libc, EntryPoint = "tcsetattr", SetLastError = true)]
    public static partial int TcSetAttr(int fd, int optionalActions, byte* termios);

    [LibraryImport(Libc, EntryPoint = "cfmakeraw")]
    public static partial void CfMakeRaw(byte* termios);

    [LibraryImport(Libc, EntryPoint = "cfsetspeed", SetLastError = true)]
    public static partial int CfSetSpeed(byte* termios, uint speed);

    [LibraryImport(Libc, EntryPoint = "posix_openpt", SetLastError = true)]
    public static partial int PosixOpenPt(int flags);

    [LibraryImport(Libc, EntryPoint = "grantpt", SetLastError = true)]
    public static partial int GrantPt(int fd);

    [LibraryImport(Libc, EntryPoint = "unlockpt", SetLastError = true)]
    public static partial int UnlockPt(int fd);

    [LibraryImport(Libc, EntryPoint = "ptsname_r", SetLastError = true)]
    public static partial int PtsNameR(int fd, byte* buffer, nuint length);

    [LibraryImport(Libc, EntryPoint = "realpath", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint RealPath(string path, nint resolved);

    [LibraryImport(Libc, EntryPoint = "free")]
    public static partial void Free(nint pointer);

    public static int LastError => Marshal.GetLastPInvokeError();

    public static string Describe(int errno) => $"{Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})";

    /// <summary>The path with every symlink, <c>.</c> and <c>..</c> resolved, or null (with errno) when it does not exist.</summary>
    public static string? Resolve(string path, out int errno)
    {
        var resolved = RealPath(path, 0);
        errno = resolved == 0 ? LastError : 0;
        if (resolved == 0) return null;
        try
        {
            return Marshal.PtrToStringUTF8(resolved);
        }
        finally
        {
            Free(resolved);
        }
    }

    /// <summary>Puts a terminal in raw mode at 115200 baud: no echo, no line editing, no CR/LF translation.</summary>
    public static bool MakeRaw(int fd, out int errno)
    {
        byte* termios = stackalloc byte[TermiosSize];
        new Span<byte>(termios, TermiosSize).Clear();
        if (TcGetAttr(fd, termios) < 0)
        {
            errno = LastError;
            return false;
        }
        CfMakeRaw(termios);
        CfSetSpeed(termios, B115200);
        if (TcSetAttr(fd, TCSANOW, termios) < 0)
        {
            errno = LastError;
            return false;
        }
        errno = 0;
        return true;
    }

    public static void Signal(int eventFd)
    {
        ulong one = 1;
        Write(eventFd, (byte*)&one, sizeof(ulong));
    }

    /// <summary>
    /// Waits for <paramref name="fd"/> to be readable or the wake eventfd to fire. Returns the fd's
    /// revents (0 on timeout or wake-up), or -1 with errno when poll itself failed.
    /// </summary>
    public static int WaitReadable(int fd, int wakeFd, int timeoutMs, out int errno)
    {
        PollFd* fds = stackalloc PollFd[2];
        fds[0] = new PollFd { Fd = fd, Events = POLLIN };
        fds[1] = new PollFd { Fd = wakeFd, Events = POLLIN };
        int r;
        do
        {
            r = Poll(fds, 2, timeoutMs);
        }
        while (r < 0 && LastError == EINTR);
        errno = r < 0 ? LastError : 0;
        if (r < 0) return -1;
        if (fds[1].Revents != 0)
        {
            ulong value;
            Read(wakeFd, (byte*)&value, sizeof(ulong));
        }
        return fds[0].Revents;
    }

    /// <summary>Writes all of <paramref name="data"/> to a non-blocking fd, waiting (bounded) while its queue is full.</summary>
    public static bool WriteAll(int fd, ReadOnlySpan<byte> data, out int errno)
    {
        errno = 0;
        fixed (byte* start = data)
        {
            var done = 0;
            for (var attempts = 0; done < data.Length && attempts < 50; attempts++)
            {
                var n = Write(fd, start + done, (nuint)(data.Length - done));
                if (n >= 0)
                {
                    done += (int)n;
                    continue;
                }
                errno = LastError;
                if (errno == EINTR) continue;
                if (errno != EAGAIN) return false;
                PollFd pfd = new() { Fd = fd, Events = POLLOUT };
                Poll(&pfd, 1, 10);
            }
            return done == data.Length;
        }
    }
}
