using System.Net;
using System.Net.Sockets;
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
        using var dir = new TempDir();
        int port = NodeProcess.FreeTcpPort();
        string[] Args() => ["run", "--name", "node-1", "--port", $"{port}", "--management", $"127.0.0.1:{NodeProcess.FreeTcpPort()}", "--data", dir.Sub("d"), "--intent", "none"];
        using (var first = NodeProcess.Start(Args()))
        {
            await Eventually.Holds(() => first.Output.Contains("Node node-1 up"), TimeSpan.FromSeconds(60), "first start up");
            // A connection to the remoting port, closed by the node's side first when it stops: TIME_WAIT on the node's port.
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, port);
            Assert.Equal(0, await first.TerminateAsync(TimeSpan.FromSeconds(60)));
        }

        using var second = NodeProcess.Start(Args());
        await Eventually.Holds(() => second.Output.Contains("Node node-1 up") || second.HasExited, TimeSpan.FromSeconds(60), "second start up or exit");
        output.WriteLine(second.Output);
        Assert.False(second.HasExited, "the restarted node exited");
    }
}
