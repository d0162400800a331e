using Akka.Actor;
using Akka.Event;

namespace Fabric.Node.Hosting;

/// <summary>
/// The node's Akka logger (<c>akka.loggers</c> in hocon/fabric.conf): standard output like Akka's
/// default logger, except for connections to the remoting port that do not speak Akka remoting
/// (a port scanner, an HTTP client, a peer without the cluster's TLS certificate). DotNetty logs
/// each of those as an ERROR with a stack trace, a TLS refusal as three lines; here they become one
/// WARNING line without a stack trace, at most one per <see cref="ReportInterval"/>, counting the
/// connections in between and naming the latest (with the refused certificate when there was one).
/// </summary>
public sealed class NodeLogger : ReceiveActor
{
    public static readonly TimeSpan ReportInterval = TimeSpan.FromSeconds(10);

    /// <summary>How <see cref="RemotingTls"/>'s validator starts the line naming a refused certificate.</summary>
    public const string RefusedPrefix = "Remoting: refused ";

    private DateTime _lastReport = DateTime.MinValue;
    private int _unreported;
    private string? _refused;
    private string? _latest;

    public NodeLogger()
    {
        Receive<InitializeLogger>(_ => Sender.Tell(new LoggerInitialized()));
        Receive<LogEvent>(e =>
        {
            switch (Classify(e))
            {
                case Kind.Other:
                    Console.Out.WriteLine(e.ToString());
                    break;
                case Kind.Detail:
                    Remember(e);
                    break;
                case Kind.Closed:
                    Remember(e);
                    _unreported++;
                    Report(e);
                    break;
            }
        });
    }

    private enum Kind { Other, Detail, Closed }

    private static Kind Classify(LogEvent e)
    {
        var message = e.Message?.ToString() ?? "";
        if (message.StartsWith(RefusedPrefix, StringComparison.Ordinal)) return Kind.Detail;
        if (!e.LogSource.StartsWith("TcpServerHandler", StringComparison.Ordinal)) return Kind.Other;
        if (message.StartsWith("TLS handshake failed on channel", StringComparison.Ordinal)) return Kind.Detail;
        if (message.StartsWith("Error caught channel", StringComparison.Ordinal) ||
            message.StartsWith("Rejected incoming connection from", StringComparison.Ordinal)) return Kind.Closed;
        return Kind.Other;
    }

    private void Remember(LogEvent e)
    {
        var text = FirstLine(e.Message?.ToString() ?? "") + (e.Cause is null ? "" : $": {e.Cause.GetType().Name}: {FirstLine(e.Cause.Message)}");
        if (text.StartsWith(RefusedPrefix, StringComparison.Ordinal)) _refused = text;
        else _latest = text;
    }

    private void Report(LogEvent e)
    {
        var now = DateTime.UtcNow;
        if (now - _lastReport < ReportInterval) return;
        var line = new Warning(e.LogSource, e.LogClass,
            $"Remoting: closed {_unreported} inbound connection(s) that did not speak Akka remoting or lacked the cluster's TLS certificate " +
            $"since the last such line (at most one per {(int)ReportInterval.TotalSeconds} s); the latest: {_refused ?? _latest}");
        Console.Out.WriteLine(line.ToString());
        _lastReport = now;
        _unreported = 0;
        _refused = _latest = null;
    }

    private static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();
}
