using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using Fabric.Tests.Support;
using Xunit.Abstractions;

namespace Fabric.Tests.Node;

/// <summary>
/// Who may reach the management API and how (issue 15): beyond loopback only with TLS or an
/// explicit, loudly logged opt-out; Host header checked; reads behind the token on request;
/// connections capped. Real `fabric-node run` processes on free ports.
/// </summary>
public sealed class ManagementExposureTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    private const string Token = "exposure-test-token";

    private static string[] Run(TempDir dir, string management, params string[] extra) =>
        ["run", "--name", "node-1", "--port", "0", "--management", management, "--data", dir.Sub("d"), "--intent", "none", "--token", Token, .. extra];

    private static async Task<HttpStatusCode?> Status(HttpClient http, string url, string? host = null, string? token = null)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            if (host is not null) request.Headers.Host = host;
            if (token is not null) request.Headers.Authorization = new("Bearer", token);
            using var response = await http.SendAsync(request);
            return response.StatusCode;
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    private async Task Dump(NodeProcess node)
    {
        output.WriteLine("--- node ---\n" + node.Output);
        await Task.CompletedTask;
    }

    [Fact]
    public async Task Management_on_every_address_without_TLS_or_the_insecure_flag_does_not_start()
    {
        using var dir = new TempDir();
        using var node = NodeProcess.Start(Run(dir, $"0.0.0.0:{NodeProcess.FreeTcpPort()}"));

        var code = await node.WaitForExitAsync(TimeSpan.FromSeconds(30));

        await Dump(node);
        Assert.Equal(2, code);
        Assert.Contains("--insecure-management", node.Output);
        Assert.Contains("--management-cert", node.Output);
    }

    [Fact]
    public async Task Insecure_management_on_every_address_warns_loudly_and_answers_only_to_its_own_host_names()
    {
        using var dir = new TempDir();
        var port = NodeProcess.FreeTcpPort();
        using var node = NodeProcess.Start(Run(dir, $"0.0.0.0:{port}", "--insecure-management", "--management-allowed-host", "fabric.example"));
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        try
        {
            var alive = $"http://127.0.0.1:{port}/health/alive";
            await Eventually.Holds(async () => await Status(http, alive) == HttpStatusCode.OK, Wait, "management answers");

            Assert.Contains("WARN", node.Output);
            Assert.Contains("--insecure-management", node.Output);
            Assert.Equal(HttpStatusCode.BadRequest, await Status(http, alive, host: "attacker.example"));
            Assert.Equal(HttpStatusCode.BadRequest, await Status(http, alive, host: $"attacker.example:{port}"));
            Assert.Equal(HttpStatusCode.OK, await Status(http, alive, host: $"fabric.example:{port}"));
            Assert.Equal(HttpStatusCode.OK, await Status(http, alive, host: $"localhost:{port}"));
        }
        catch
        {
            await Dump(node);
            throw;
        }
    }

    [Fact]
    public async Task With_a_certificate_management_on_every_address_speaks_only_TLS()
    {
        using var dir = new TempDir();
        var (certFile, keyFile, thumbprint) = SelfSigned(dir.Path);
        var port = NodeProcess.FreeTcpPort();
        using var node = NodeProcess.Start(Run(dir, $"0.0.0.0:{port}", "--management-cert", certFile, "--management-key", keyFile));
        using var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, cert, _, _) => cert?.Thumbprint == thumbprint,
        };
        using var https = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        try
        {
            await Eventually.Holds(async () => await Status(https, $"https://127.0.0.1:{port}/health/alive") == HttpStatusCode.OK, Wait, "https answers");

            Assert.Null(await Status(http, $"http://127.0.0.1:{port}/health/alive"));
            Assert.DoesNotContain("--insecure-management", node.Output);

            var text = new StringWriter();
            var error = new StringWriter();
            var code = await Fabric.Node.Cli.OperatorCommands.RunAsync(
                ["cluster", "show", "--management", $"https://127.0.0.1:{port}", "--cacert", certFile], text, error);
            Assert.True(code == 0, error.ToString());
            Assert.Contains("Up", text.ToString());
        }
        catch
        {
            await Dump(node);
            throw;
        }
    }

    [Fact]
    public async Task With_token_for_reads_every_route_but_health_needs_the_token()
    {
        using var dir = new TempDir();
        var port = NodeProcess.FreeTcpPort();
        using var node = NodeProcess.Start(Run(dir, $"127.0.0.1:{port}", "--token-for-reads"));
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var root = $"http://127.0.0.1:{port}";
        try
        {
            await Eventually.Holds(async () => await Status(http, $"{root}/health/ready") == HttpStatusCode.OK, Wait, "ready");

            foreach (var path in new[] { "/intent", "/changes", "/cluster/members", "/actors", "/openapi/v1.json", "/gateways" })
            {
                using var response = await http.GetAsync(root + path);
                Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"GET {path}: {(int)response.StatusCode}");
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
                Assert.Equal(HttpStatusCode.OK, await Status(http, root + path, token: Token));
            }
            Assert.Equal(HttpStatusCode.OK, await Status(http, $"{root}/health/alive"));
        }
        catch
        {
            await Dump(node);
            throw;
        }
    }

    [Fact]
    public async Task Management_connections_beyond_the_cap_are_closed_and_logged_and_the_node_recovers()
    {
        using var dir = new TempDir();
        var port = NodeProcess.FreeTcpPort();
        using var node = NodeProcess.Start(Run(dir, $"127.0.0.1:{port}", "--management-max-connections", "8"));
        var alive = $"http://127.0.0.1:{port}/health/alive";
        try
        {
            using (var probe = new HttpClient { Timeout = TimeSpan.FromSeconds(30) })
                await Eventually.Holds(async () => await Status(probe, alive) == HttpStatusCode.OK, Wait, "management answers");
            await Task.Delay(500); // the probe's connection is gone from the server's count

            var sockets = new List<TcpClient>();
            var refused = 0;
            try
            {
                for (var i = 0; i < 20; i++)
                {
                    var socket = new TcpClient();
                    try
                    {
                        await socket.ConnectAsync(IPAddress.Loopback, port);
                        sockets.Add(socket);
                    }
                    catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
                    {
                        // Closed by the node over the cap before the connect call returned.
                        refused++;
                        socket.Dispose();
                    }
                }
                await Task.Delay(TimeSpan.FromSeconds(2));
                var closed = refused;
                foreach (var socket in sockets)
                {
                    if (await ClosedByServer(socket)) closed++;
                }
                output.WriteLine($"{closed} of 20 idle connections closed by the node");
                Assert.Equal(12, closed);
                Assert.Contains("connection limit", node.Output);
            }
            finally
            {
                foreach (var socket in sockets) socket.Dispose();
            }

            using var after = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
            await Eventually.Holds(async () => await Status(after, alive) == HttpStatusCode.OK, TimeSpan.FromSeconds(10), "management answers again");
        }
        catch
        {
            await Dump(node);
            throw;
        }
    }

    private static async Task<bool> ClosedByServer(TcpClient socket)
    {
        try
        {
            var buffer = new byte[1];
            using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
            return await socket.GetStream().ReadAsync(buffer, cts.Token) == 0;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        catch (IOException)
        {
            return true;
        }
    }

    /// <summary>A self-signed certificate for 127.0.0.1 and localhost, written as PEM; returns the files and its thumbprint.</summary>
    internal static (string CertFile, string KeyFile, string Thumbprint) SelfSigned(string dir)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=fabric-test", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        var certFile = Path.Combine(dir, "management.crt");
        var keyFile = Path.Combine(dir, "management.key");
        File.WriteAllText(certFile, cert.ExportCertificatePem());
        File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem());
        File.SetUnixFileMode(keyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return (certFile, keyFile, cert.Thumbprint);
    }
}
