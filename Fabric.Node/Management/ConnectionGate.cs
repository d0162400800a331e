using Microsoft.AspNetCore.Connections;

namespace Fabric.Node.Management;

/// <summary>
/// Caps the management connections open at once (<c>--management-max-connections</c>). A
/// connection over the cap is closed at once, before TLS or HTTP, so idle sockets cannot take
/// every file descriptor of the node (issue 15: 1,100 idle sockets held a node with nofile 1024).
/// The first refusal is logged as a warning, then at most one summary every
/// <see cref="LogEvery"/> while refusals go on.
/// </summary>
public sealed class ConnectionGate(int max, ILogger log)
{
    public static readonly TimeSpan LogEvery = TimeSpan.FromSeconds(10);

    private int _open;
    private long _refused;
    private long _refusedAtLastLog;
    private long _lastLogTicks = long.MinValue;
    private readonly object _logLock = new();

    public int Open => Volatile.Read(ref _open);

    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>The connection middleware: put it before UseHttps so refused sockets cost no handshake.</summary>
    public ConnectionDelegate Wrap(ConnectionDelegate next) => async connection =>
    {
        if (Interlocked.Increment(ref _open) > max)
        {
            Interlocked.Decrement(ref _open);
            Interlocked.Increment(ref _refused);
            LogRefusal(connection.RemoteEndPoint?.ToString());
            connection.Abort(new ConnectionAbortedException("management connection limit reached"));
            return;
        }
        try
        {
            await next(connection);
        }
        finally
        {
            Interlocked.Decrement(ref _open);
        }
    };

    private void LogRefusal(string? remote)
    {
        var now = Environment.TickCount64;
        lock (_logLock)
        {
            var first = _lastLogTicks == long.MinValue;
            if (!first && now - _lastLogTicks < (long)LogEvery.TotalMilliseconds) return;
            var refused = Refused;
            log.LogWarning(
                "Management connection limit reached ({Max} open): refusing new connections ({Refused} refused since the last warning, latest from {Remote}); " +
                "raise --management-max-connections if this is not an attack",
                max, refused - _refusedAtLastLog, remote ?? "?");
            _lastLogTicks = now;
            _refusedAtLastLog = refused;
        }
    }
}
