using Akka.Actor;
using LogEvent = Akka.Event.LogEvent;
using AkkaLogLevel = Akka.Event.LogLevel;
using Akka.Hosting;

namespace Fabric.Node.Hosting;

/// <summary>One line of the node's log as <c>GET /logs</c> shows it.</summary>
public sealed record NodeLogLine(long Seq, DateTimeOffset Time, string Level, string Source, string Message);

/// <summary>
/// The node's most recent log lines (Akka's log events and the host's own log), numbered from 1 in
/// the order they were recorded, for <c>GET /logs?since=N</c> (<c>fabric-node log tail</c>). Fixed
/// size (<c>fabric.management.log-lines</c>): the oldest line makes room for the newest.
/// </summary>
public sealed class NodeLogRing(int capacity)
{
    private readonly NodeLogLine?[] _lines = new NodeLogLine?[capacity];
    private readonly Lock _lock = new();
    private long _last;

    public int Capacity => _lines.Length;

    public void Add(DateTimeOffset time, string level, string source, string message)
    {
        lock (_lock)
        {
            var seq = ++_last;
            _lines[(seq - 1) % _lines.Length] = new NodeLogLine(seq, time, level, source, message);
        }
    }

    /// <summary>
    /// Lines after <paramref name="since"/> (0 = everything still held), at most
    /// <paramref name="limit"/> of them, the oldest first; and the sequence number of the newest line recorded.
    /// </summary>
    public (IReadOnlyList<NodeLogLine> Lines, long Last) Since(long since, int limit)
    {
        lock (_lock)
        {
            var first = Math.Max(Math.Max(since, 0) + 1, _last - _lines.Length + 1);
            var list = new List<NodeLogLine>();
            for (var seq = first; seq <= _last && list.Count < limit; seq++) list.Add(_lines[(seq - 1) % _lines.Length]!);
            return (list, _last);
        }
    }
}

/// <summary>The host's (ASP.NET Core, fabric-node) log into the ring, Information and above.</summary>
public sealed class NodeLogRingProvider(NodeLogRing ring) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new RingLogger(ring, categoryName);

    public void Dispose() { }

    private sealed class RingLogger(NodeLogRing ring, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information && logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            var message = formatter(state, exception);
            if (exception is not null) message += $" ({exception.GetType().Name}: {exception.Message})";
            ring.Add(DateTimeOffset.UtcNow, logLevel switch
            {
                LogLevel.Information => "INFO",
                LogLevel.Warning => "WARNING",
                LogLevel.Error => "ERROR",
                _ => "CRITICAL",
            }, category, message);
        }
    }
}

/// <summary>Copies Akka's log events (at <c>akka.loglevel</c> and above) into the ring; a system actor, outside /user.</summary>
public sealed class NodeLogActor : ReceiveActor
{
    public NodeLogActor(NodeLogRing ring)
    {
        Receive<LogEvent>(e =>
        {
            var message = e.Message?.ToString() ?? "";
            if (e.Cause is { } cause) message += $" ({cause.GetType().Name}: {cause.Message})";
            ring.Add(new DateTimeOffset(e.Timestamp.ToUniversalTime()), e.LogLevel() switch
            {
                AkkaLogLevel.DebugLevel => "DEBUG",
                AkkaLogLevel.InfoLevel => "INFO",
                AkkaLogLevel.WarningLevel => "WARNING",
                _ => "ERROR",
            }, e.LogSource ?? "", message);
        });
    }
}

public static class NodeLogHosting
{
    public static AkkaConfigurationBuilder AddNodeLog(this AkkaConfigurationBuilder akka, NodeLogRing ring) =>
        akka.WithActors((system, _) =>
        {
            var actor = ((ExtendedActorSystem)system).SystemActorOf(Props.Create(() => new NodeLogActor(ring)), "node-log");
            system.EventStream.Subscribe(actor, typeof(LogEvent));
        });
}
