using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Fabric.Actors.DataPlane.Io;
using Fabric.Tests.DataPlane.Io;
using Fabric.Tests.Support;
using Xunit.Abstractions;
using static Fabric.Tests.Gateways.GatewayNodeSupport;

namespace Fabric.Tests.Gateways;

/// <summary>
/// New connections through SNAT on real traffic: an inside namespace behind the gateway's TAP
/// downlink, an outside namespace on its TAP uplink with nginx (and iperf3), one pool address
/// and a /24 tenant, the gateway in a whole node (sharded miss path). Short connections keep
/// coming for as long as the client makes them: ports are released when connections close and
/// reused round-robin, so far more connections complete than one port block holds.
/// </summary>
public class GatewaySnatTrafficTests(ITestOutputHelper output)
{
    private const string Server = "203.0.113.80";

    private static string Intent(string down, string up) => $$"""
        version: 1
        nodes:
          - name: node-a
            roles: [fabric, ghost-shadow]
        tenants:
          - name: blue
            vni: 2001
        gateways:
          - name: gw-s
            node: node-a
            tenants:
              - tenant: blue
                networks: [10.0.0.1/24]
                downlink: { kind: tap, name: {{down}} }
                uplink:
                  port: { kind: tap, name: {{up}} }
                  address: 192.0.2.2/24
                routes:
                  - prefix: 0.0.0.0/0
                    nextHop: 192.0.2.1
                snatPool: [192.0.2.10]
                firewall:
                  defaultPolicy: allow
        """;

    /// <summary>The inside and outside namespaces, attached to a running gateway's TAPs.</summary>
    private sealed class Topology : IAsyncDisposable
    {
        public required TestNamespace Inside { get; init; }
        public required TestNamespace Outside { get; init; }
        public required TempDir Dir { get; init; }
        public required TestNode Node { get; init; }
        public required string Down { get; init; }
        public required string Up { get; init; }

        public async ValueTask DisposeAsync()
        {
            await Node.DisposeAsync();
            Inside.Dispose();
            Outside.Dispose();
            Dir.Dispose();
        }
    }

    private static async Task<Topology> StartAsync(string suffix, string extraHocon = "")
    {
        HostTools.RequireRoot();
        var tag = $"snat{Environment.ProcessId % 100000}{suffix}";
        var inside = new TestNamespace("snat-in");
        var outside = new TestNamespace("snat-out");
        var dir = new TempDir();
        var node = await TestNode.StartAsync("node-a", dir.Sub("a"), extraHocon: extraHocon);
        var t = new Topology { Inside = inside, Outside = outside, Dir = dir, Node = node, Down = tag + "d", Up = tag + "u" };
        try
        {
            await Eventually.Holds(async () => await node.UpCount() == 1, Wait, "node-a Up");
            await ApplyAsync(node, Intent(t.Down, t.Up), "gw-s");
            foreach (var tap in new[] { t.Down, t.Up })
                await Eventually.Holds(() => HostTools.Run(HostTools.Require("ip", "iproute2"), $"link show {tap}").ExitCode == 0, Wait, $"tap {tap} opened");
            Attach(inside, t.Down, "10.0.0.10/24", gateway: "10.0.0.1");
            Attach(outside, t.Up, "192.0.2.1/24", gateway: null);
            outside.Ip($"addr add {Server}/32 dev lo");
            await Eventually.Holds(async () => (await GatewayView(node, "gw-s"))["status"]!["neighbors"]!.GetValue<int>() >= 1,
                Wait, "the gateway resolved the upstream router");
            return t;
        }
        catch
        {
            await t.DisposeAsync();
            throw;
        }
    }

    [Fact]
    public async Task Short_connections_through_SNAT_keep_completing_run_after_run_with_no_port_exhaustion()
    {
        await using var t = await StartAsync("w");
        using var nginx = new NginxServer(t.Outside.Name, Server, 8080, t.Dir.Sub("nginx"));
        await Eventually.Holds(() => t.Outside.Exec("ss", "-ltn").Stdout.Contains($"{Server}:8080"), TimeSpan.FromSeconds(10), "nginx listening");

        var runs = new List<WrkRun>();
        for (var i = 0; i < 2; i++)
        {
            var run = WrkRun.Start(t.Inside.Name, $"http://{Server}:8080/", connections: 16, seconds: 3);
            output.WriteLine($"run {i + 1}: {run.Requests} connections in {run.Seconds:0.00} s ({run.PerSecond:0}/s), errors {run.Errors}, p50 {run.P50Ms} ms, p99 {run.P99Ms} ms");
            output.WriteLine(run.Output);
            runs.Add(run);
        }
        var view = await GatewayView(t.Node, "gw-s");
        output.WriteLine(view["status"]!["drops"]!.ToJsonString());
        output.WriteLine(view["status"]!["counters"]!.ToJsonString());

        foreach (var run in runs)
        {
            Assert.True(run.Requests >= 2000, $"thousands of connections complete in each run (one port block is 256): {run.Requests}");
            Assert.Equal(0, run.ConnectErrors);
            Assert.Equal(0, run.Timeouts);
            Assert.Equal(0, run.Errors);
        }
        Assert.Equal(0, view["status"]!["drops"]!["snat-ports-exhausted"]!.GetValue<long>());
        // The bucket's entity runs on this node: once drained, its misses are decided on the
        // receive thread under its lock (direct mode), not sent to it and back.
        var counters = view["status"]!["counters"]!;
        var byEntity = counters["resolved-by-entity"]!.GetValue<long>();
        var here = counters["resolved-on-receive-thread"]!.GetValue<long>();
        Assert.True(counters["direct-buckets"]!.GetValue<long>() >= 1, "the inside host's bucket is in direct mode");
        Assert.True(here >= byEntity * 9 / 10, $"nearly every miss is decided on the receive thread: {here} of {byEntity}");
    }

    /// <summary>
    /// A server keeps each closed connection in TIME_WAIT (60 s on Linux) and takes a new SYN on
    /// its 4-tuple only when it is newer (timestamps, sequence numbers) than the old one; a
    /// client's kernel draws its timestamp offset per 4-tuple, so only the same inside endpoint's
    /// next SYN is sure to be newer. Here the client's ports come back after their connection's
    /// NAT hold (200 ms) is over: with the mapping memory each leaves from its old external port
    /// and no SYN is sent twice; without it (0s) other endpoints' SYNs meet those TIME_WAITs,
    /// the server answers with the old connection's ACK, and the client resets and retries.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task An_inside_port_that_comes_back_leaves_from_its_old_external_port_so_no_SYN_meets_a_server_TIME_WAIT(bool memory)
    {
        await using var t = await StartAsync(memory ? "m" : "n",
            $"fabric.gateway.conntrack.tcp-closed-hold = 200ms\nfabric.gateway.nat.tcp-mapping-memory = {(memory ? "60s" : "0s")}");
        using var nginx = new NginxServer(t.Outside.Name, Server, 8080, t.Dir.Sub("nginx"));
        await Eventually.Holds(() => t.Outside.Exec("ss", "-ltn").Stdout.Contains($"{Server}:8080"), TimeSpan.FromSeconds(10), "nginx listening");
        // 4,000 client ports: each comes back every few thousand connections, after its 200 ms hold.
        Assert.Equal(0, t.Inside.Exec("sysctl", "-w net.ipv4.ip_local_port_range=\"40000 43999\"").ExitCode);
        long SynRetransmits() => t.Inside.Counter("TcpExtTCPSynRetrans");

        long before = SynRetransmits();
        var run = WrkRun.Start(t.Inside.Name, $"http://{Server}:8080/", connections: 16, seconds: 4);
        long retransmits = SynRetransmits() - before;
        var entities = (await GatewayView(t.Node, "gw-s"))["entities"]!.AsArray();
        long revived = entities.Sum(e => e?["mappingsRevived"]?.GetValue<long>() ?? 0);
        output.WriteLine($"{run.Requests} connections ({run.PerSecond:0}/s), p99 {run.P99Ms} ms; SYNs sent again {retransmits}; mappings revived {revived}");

        Assert.True(run.Requests >= 8000, $"the client's 4,000 ports came back: {run.Requests} connections");
        Assert.Equal(0, run.ConnectErrors);
        if (memory)
        {
            Assert.Equal(0, retransmits);
            // How many come back after the hold (not within it, where the held binding serves them) depends on the rate.
            Assert.True(revived > 0, "no port that came back after its hold took up its remembered mapping");
        }
        else
        {
            Assert.True(retransmits > 0, "without the memory, no SYN met a TIME_WAIT: the test no longer shows what the memory is for");
            Assert.Equal(0, revived);
        }
    }

    /// <summary>
    /// Why `iperf3 -u` once failed to start here: with the server bound to the wildcard address,
    /// iperf3 connect()s its UDP socket back to the client (192.0.2.10:P after SNAT) and the
    /// kernel picks the source by route, the uplink link's 192.0.2.1, not 203.0.113.80 (on lo)
    /// that the client sent to. The gateway forwards that reply (endpoint-independent filtering,
    /// RFC 4787), the client's connected UDP socket refuses it (ICMP port unreachable in both
    /// captures) and waits for its UDP_CONNECT_REPLY forever: "unable to read from stream
    /// socket". The same happens over a bare veth with this addressing and no gateway. A server
    /// bound to the address it serves (-B), as real servers are, works; this test keeps both
    /// captures so a regression shows where the datagram went.
    /// </summary>
    [Fact]
    public async Task Iperf3_in_UDP_mode_starts_and_reports_through_SNAT()
    {
        var iperf3 = HostTools.Require("iperf3", "iperf3");
        var tshark = HostTools.Require("tshark", "tshark");
        await using var t = await StartAsync("i");
        using var server = new BackgroundProcess("ip", $"netns exec {t.Outside.Name} {iperf3} -s -1 -B {Server}");
        using var captureIn = new BackgroundProcess("ip", $"netns exec {t.Inside.Name} {tshark} -n -q -i {t.Down} -w {t.Dir.Sub("inside.pcap")}");
        using var captureOut = new BackgroundProcess("ip", $"netns exec {t.Outside.Name} {tshark} -n -q -i {t.Up} -w {t.Dir.Sub("outside.pcap")}");
        await Eventually.Holds(() => t.Outside.Exec("ss", "-ltn").Stdout.Contains($"{Server}:5201"), TimeSpan.FromSeconds(10), "iperf3 listening");
        await Eventually.Holds(() => File.Exists(t.Dir.Sub("inside.pcap")) && File.Exists(t.Dir.Sub("outside.pcap")), TimeSpan.FromSeconds(15), "both captures running");

        var client = t.Inside.Exec(iperf3, $"-u -t 2 -b 20M -c {Server}", timeoutMs: 30_000);
        output.WriteLine(client.ToString());
        await Task.Delay(500);
        captureIn.Dispose();
        captureOut.Dispose();
        if (client.ExitCode != 0)
        {
            foreach (var side in new[] { "inside", "outside" })
            {
                var summary = HostTools.Run(tshark, $"-n -r {t.Dir.Sub(side + ".pcap")} -c 60", timeoutMs: 30_000);
                output.WriteLine($"--- {side} ---\n{summary.Stdout}");
            }
            output.WriteLine((await GatewayView(t.Node, "gw-s"))["status"]!["drops"]!.ToJsonString());
        }
        Assert.Equal(0, client.ExitCode);
        Assert.Contains("receiver", client.Stdout);
    }

    /// <summary>
    /// The TAPs hand over TCP super-frames (offloads on); an established flow's cross the gateway
    /// whole (NAT'd once, written to the other TAP as they came), the rest cut into segments. A
    /// bulk transfer each way must arrive byte for byte (SHA-256) from the pool address, and the
    /// gateway must have forwarded super-frames whole; with fabric.gateway.super-frames off, none,
    /// and the same bytes arrive. (Their checksums: GatewaySuperFrameTests, with PacketDotNet; the
    /// receiving kernel does not verify a partial checksum.)
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_bulk_transfer_crosses_SNAT_as_whole_super_frames_both_ways_and_arrives_intact(bool superFrames)
    {
        await using var t = await StartAsync(superFrames ? "b" : "c", $"fabric.gateway.super-frames = {(superFrames ? "on" : "off")}");
        const int Bytes = 16 << 20;
        var data = new byte[Bytes];
        new Random(11).NextBytes(data);
        using var listener = TapPort.InNamespace(t.Outside.Name, () =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            s.Bind(new IPEndPoint(IPAddress.Parse(Server), 5302));
            s.Listen(1);
            return s;
        });
        using var client = TapPort.InNamespace(t.Inside.Name, () => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
        client.ReceiveTimeout = client.SendTimeout = 30_000;
        var server = Task.Run(() =>
        {
            using var peer = listener.Accept();
            peer.ReceiveTimeout = peer.SendTimeout = 30_000;
            var received = ReadAll(peer, Bytes);
            peer.Send(data); // and the same back: super-frames the other way, through the reply entry
            return (From: ((IPEndPoint)peer.RemoteEndPoint!).Address.ToString(), Hash: SHA256.HashData(received));
        });
        client.Connect(new IPEndPoint(IPAddress.Parse(Server), 5302));
        client.Send(data);
        var back = ReadAll(client, Bytes);
        var (from, hash) = await server.WaitAsync(TimeSpan.FromSeconds(60));

        var counters = (await GatewayView(t.Node, "gw-s"))["status"]!["counters"]!;
        output.WriteLine(counters.ToJsonString());
        Assert.Equal("192.0.2.10", from); // SNAT
        Assert.Equal(SHA256.HashData(data), hash);
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(back));
        if (superFrames) Assert.True(counters["super-frames-forwarded"]!.GetValue<long>() > 0, "no super-frame crossed whole");
        else Assert.Equal(0, counters["super-frames-forwarded"]!.GetValue<long>() + counters["super-frames-cut"]!.GetValue<long>());
    }

    private static byte[] ReadAll(Socket socket, int bytes)
    {
        var buffer = new byte[bytes];
        for (int got = 0; got < bytes;)
        {
            int n = socket.Receive(buffer, got, bytes - got, SocketFlags.None);
            if (n == 0) throw new IOException($"closed after {got} of {bytes} bytes");
            got += n;
        }
        return buffer;
    }

    private static void Attach(TestNamespace ns, string tap, string address, string? gateway)
    {
        HostTools.Ip($"link set {tap} netns {ns.Name}");
        ns.Ip($"addr add {address} dev {tap}");
        ns.Ip($"link set {tap} up");
        ns.Ip("link set lo up");
        if (gateway is not null) ns.Ip($"route add default via {gateway}");
    }

    /// <summary>A process left running for the test (server, capture); stopped by its PID on dispose (SIGINT first so tshark flushes).</summary>
    private sealed class BackgroundProcess : IDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _output = new();
        private bool _disposed;

        public BackgroundProcess(string file, string arguments)
        {
            var psi = new ProcessStartInfo(HostTools.Require(file, file), arguments)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            _process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
            _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.AppendLine(e.Data); };
            _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.AppendLine(e.Data); };
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public string Output
        {
            get
            {
                lock (_output) return _output.ToString();
            }
        }

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            try
            {
                if (!_process.HasExited)
                {
                    HostTools.Run("/bin/kill", $"-INT {_process.Id}");
                    if (!_process.WaitForExit(3000)) _process.Kill(entireProcessTree: true);
                }
                _process.WaitForExit(5000);
            }
            catch (InvalidOperationException)
            {
            }
            _process.Dispose();
        }
    }
}
