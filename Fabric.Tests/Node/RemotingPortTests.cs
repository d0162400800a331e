using System.Net;
using System.Net.Sockets;
using Fabric.Tests.DataPlane.Io;
using Fabric.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Fabric.Tests.Node;

/// <summary>
/// A node refuses a remoting port another process listens on. Akka.Remote binds with reuse-addr,
/// which .NET turns into SO_REUSEPORT on Linux: a second node on the same port bound it too, the
/// kernel split connections between the two, and a test's node-3, handed node-1's port, formed a
/// cluster of its own that node-2 then joined. Real `fabric-node run` processes.
/// </summary>
public sealed class RemotingPortTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_node_given_a_remoting_port_another_process_listens_on_exits_2_and_says_so()
    {
        // Bound as a second Akka.Remote would be: .NET's ReuseAddress is SO_REUSEADDR + SO_REUSEPORT here.
        using var holder = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        holder.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        holder.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        holder.Listen();
        int port = ((IPEndPoint)holder.LocalEndPoint!).Port;
        using var dir = new TempDir();
        using var node = NodeProcess.Start("run", "--name", "node-1", "--port", $"{port}", "--management", $"127.0.0.1:{NodeProcess.FreeTcpPort()}",
            "--data", dir.Sub("d"), "--intent", "none");
        var code = await node.WaitForExitAsync(TimeSpan.FromSeconds(60));
        output.WriteLine(node.Output);
        Assert.Equal(2, code);
        Assert.Contains($"another process already listens on 127.0.0.1:{port}", node.Output);
    }

    [Fact]
    public async Task A_node_restarted_on_its_port_starts_though_its_last_connections_are_in_time_wait()
    {
        // An earlier run's listener whose side closed a connection first: the port is left in TIME_WAIT.
        int port;
        using (var earlier = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            earlier.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            earlier.Listen();
            port = ((IPEndPoint)earlier.LocalEndPoint!).Port;
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, port);
            using (var accepted = await earlier.AcceptAsync()) accepted.Close(); // this side first
            await Task.Delay(100);
        }

        var waits = HostTools.Run(HostTools.Require("ss", "iproute2"), $"-tanH state time-wait sport = :{port}").Stdout;
        Assert.False(string.IsNullOrWhiteSpace(waits), $"no TIME_WAIT on port {port}: the test would prove nothing");
        using var dir = new TempDir();
        using var node = NodeProcess.Start("run", "--name", "node-1", "--port", $"{port}", "--management", $"127.0.0.1:{NodeProcess.FreeTcpPort()}",
            "--data", dir.Sub("d"), "--intent", "none");
        await Eventually.Holds(() => node.Output.Contains("Node node-1 up") || node.HasExited, TimeSpan.FromSeconds(60), "start up or exit");
        output.WriteLine(node.Output);
        Assert.False(node.HasExited, "the node refused a port only in TIME_WAIT");
    }
}
