using System.Net;
using System.Net.Sockets;

namespace Fabric.Benchmarks.Scenarios;

/// <summary>
/// Free TCP and UDP ports on 127.0.0.1 for the processes a scenario or a test starts (remoting,
/// management, a database server). The same source is compiled into Fabric.Tests (linked in its
/// project file), so both hand out ports one way.
/// </summary>
internal static class FreePorts
{
    private static readonly HashSet<int> HandedOut = [];

    /// <summary>
    /// A port free now and not handed out before by this process: the kernel may give the same
    /// free port to two calls in a row (each listener is closed at once), and three nodes started
    /// on ports from three calls once got one port twice.
    /// </summary>
    public static int Tcp() => Next(() =>
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    });

    /// <summary>A UDP port free now (on every loopback address) and not handed out before by this process.</summary>
    public static int Udp() => Next(() =>
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Any, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    });

    private static int Next(Func<int> bindAny)
    {
        while (true)
        {
            int port = bindAny();
            lock (HandedOut)
            {
                if (HandedOut.Add(port)) return port;
            }
        }
    }
}
