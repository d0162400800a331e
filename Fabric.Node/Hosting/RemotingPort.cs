using System.Net;
using System.Net.Sockets;

namespace Fabric.Node.Hosting;

/// <summary>
/// Refuses to start a node whose remoting address another process already listens on. Akka.Remote's
/// DotNetty transport binds with <c>tcp-reuse-addr</c> on (as it should: a restarted node rebinds
/// at once past its last connections' TIME_WAIT), and .NET maps that to SO_REUSEADDR and
/// SO_REUSEPORT on Linux, so a second node given the same <c>--port</c> bound it too, silently:
/// the kernel then split new connections between the two. Seen in a test whose three nodes were
/// handed one port twice: node-3 shared node-1's port, took its own seed address for itself,
/// formed a second cluster, and node-2's join went to it.
/// </summary>
internal static class RemotingPort
{
    private const int SolSocket = 1;
    private const int SoReuseAddr = 2;

    /// <summary>
    /// Binds a probe with SO_REUSEADDR alone: sockets of an earlier run in TIME_WAIT let it bind,
    /// a listener (or any socket bound there without SO_REUSEADDR) does not.
    /// </summary>
    /// <exception cref="ArgumentException">the address is taken (the node exits 2 with the message).</exception>
    public static void EnsureFree(string host, int port)
    {
        if (port == 0) return; // the kernel picks a free one
        var address = IPAddress.TryParse(host, out var parsed) ? parsed : Resolve(host);
        if (address is null) return; // Akka.Remote reports a name it cannot bind
        using var probe = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        // .NET sets SO_REUSEADDR on new TCP sockets here already; said explicitly so the probe does not hang on that default.
        probe.SetRawSocketOption(SolSocket, SoReuseAddr, BitConverter.GetBytes(1));
        try
        {
            probe.Bind(new IPEndPoint(address, port));
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            throw new ArgumentException(
                $"--port {port}: another process already listens on {host}:{port} (another node?); give this node another --port");
        }
    }

    private static IPAddress? Resolve(string host)
    {
        try
        {
            return Dns.GetHostAddresses(host).FirstOrDefault();
        }
        catch (SocketException)
        {
            return null;
        }
    }
}
