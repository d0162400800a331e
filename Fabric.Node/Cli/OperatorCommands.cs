using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.CommandLine;
using Fabric.Node.Hosting;

namespace Fabric.Node.Cli;

/// <summary>
/// The operator verbs (Petabridge.Cmd-like) over the management HTTP API. Human tables by
/// default, <c>--json</c> for scripts; a failure prints one line on stderr and exits non-zero.
/// </summary>
public sealed partial class OperatorCommands(Func<HttpClient> connect, TextWriter output, bool json, string? token, TextWriter? error = null)
{
    private HttpClient? _http;

    private HttpClient http => _http ??= connect();

    /// <summary>
    /// Parses <paramref name="args"/> against the command tree and runs the verb. A bad line prints one
    /// line and exits 2; errors from the node are one line too (exit codes in <see cref="CommandTree"/>).
    /// </summary>
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken cancel = default)
    {
        HttpClientHandler? handler = null;
        HttpClient? client = null;
        try
        {
            var root = CommandTree.Build(line =>
            {
                Func<string, string?> env = Environment.GetEnvironmentVariable;
                var management = line.GetValue(CommandTree.Management) ?? env("FABRIC_MANAGEMENT") ?? NodeOptions.DefaultManagement;
                var token = line.GetValue(CommandTree.Token) ?? env("FABRIC_TOKEN")
                    ?? ReadTokenFile(line.GetValue(CommandTree.Data) ?? env("FABRIC_DATA") ?? "./data");
                var cacert = line.GetValue(CommandTree.CaCert);
                var baseAddress = BaseAddress(management); // a bad --management fails before any verb runs
                return new OperatorCommands(() =>
                {
                    handler = Handler(cacert);
                    return client = new HttpClient(handler) { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };
                }, output, line.GetValue(CommandTree.Json), token, error);
            });
            var line = root.Parse(args);
            if (line.Errors.Count > 0)
            {
                await error.WriteLineAsync($"fabric-node: {line.Errors[0].Message.TrimEnd('.')}; try 'fabric-node --help'");
                return 2;
            }
            Tables.Width = output == Console.Out && !Console.IsOutputRedirected && Console.WindowWidth > 20 ? Console.WindowWidth : Tables.UnboundedWidth;
            return await line.InvokeAsync(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false }, cancel);
        }
        catch (CliException e)
        {
            await error.WriteLineAsync($"fabric-node: {e.Message}");
            return e.ExitCode;
        }
        catch (ArgumentException e)
        {
            await error.WriteLineAsync($"fabric-node: {e.Message}");
            return 2;
        }
        catch (HttpRequestException e)
        {
            await error.WriteLineAsync($"fabric-node: cannot reach the management API: {e.Message}");
            return 3;
        }
        catch (TaskCanceledException) when (!cancel.IsCancellationRequested)
        {
            await error.WriteLineAsync("fabric-node: the management API did not answer in time");
            return 3;
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            return 0;
        }
        finally
        {
            client?.Dispose();
            handler?.Dispose();
        }
    }

    public Task<int> ClusterLeave(string address, CancellationToken cancel) => Message(HttpMethod.Put, $"/cluster/members/{Uri.EscapeDataString(address)}",
        () => JsonContent("""{"operation":"Leave"}"""), cancel);

    public Task<int> ClusterDown(string address, CancellationToken cancel) => Message(HttpMethod.Put, $"/cluster/members/{Uri.EscapeDataString(address)}",
        () => JsonContent("""{"operation":"Down"}"""), cancel);

    public Task<int> ClusterJoin(string address, CancellationToken cancel) => Message(HttpMethod.Post, "/cluster/members",
        () => new FormUrlEncodedContent([new("address", address)]), cancel);

    public async Task<int> Actors(CancellationToken cancel) => await Print(await Send(HttpMethod.Get, "/actors", null, cancel: cancel), Tables.ActorTree);

    public async Task<int> IntentShow(CancellationToken cancel) => await Print(await Send(HttpMethod.Get, "/intent", null, cancel: cancel), Tables.Intent);

    public async Task<int> IntentApplied(CancellationToken cancel) => await Print(await Send(HttpMethod.Get, "/intent/applied", null, cancel: cancel), Tables.Applied);

    public async Task<int> ChangeList(CancellationToken cancel) => await Print(await Send(HttpMethod.Get, "/changes", null, cancel: cancel), Tables.Changes);

    public async Task<int> ChangeShow(string id, CancellationToken cancel)
    {
        if (!long.TryParse(id, out _)) throw new CliException($"'{id}' is not a change id", 2);
        return await Print(await Send(HttpMethod.Get, $"/changes/{id}", null, cancel: cancel), Tables.Change);
    }

    public async Task<int> TrunkShow(string name, CancellationToken cancel) =>
        await Print(await Send(HttpMethod.Get, $"/trunks/{Uri.EscapeDataString(name)}", null, cancel: cancel), PseudowireTables.Trunk);

    public async Task<int> PwList(CancellationToken cancel) => await Print(await Send(HttpMethod.Get, "/pws", null, cancel: cancel), PseudowireTables.Pws);

    public async Task<int> GatewayShow(string name, CancellationToken cancel) =>
        await Print(await Send(HttpMethod.Get, $"/gateways/{Uri.EscapeDataString(name)}", null, cancel: cancel), GatewayTables.Gateway);

    public async Task<int> FlowsTop(string? top, CancellationToken cancel)
    {
        if (top is not null && !int.TryParse(top, out _)) throw new CliException($"'{top}' is not a number of rows", 2);
        return await Print(await Send(HttpMethod.Get, top is null ? "/flows/top" : $"/flows/top?n={top}", null, cancel: cancel), GatewayTables.FlowsTop);
    }

    public async Task<int> HostShow(string name, CancellationToken cancel) =>
        await Print(await Send(HttpMethod.Get, $"/hosts/{Uri.EscapeDataString(name)}", null, cancel: cancel), SwitchingTables.Host);

    public async Task<int> PortList(CancellationToken cancel) => await Print(await Send(HttpMethod.Get, "/ports", null, cancel: cancel), SwitchingTables.Ports);

    public async Task<int> HvList(CancellationToken cancel) => await Print(await Send(HttpMethod.Get, "/hypervisors", null, cancel: cancel), CellularTables.Hypervisors);

    public async Task<int> HvShow(string name, CancellationToken cancel) =>
        await Print(await Send(HttpMethod.Get, $"/hypervisors/{Uri.EscapeDataString(name)}", null, cancel: cancel), CellularTables.Hypervisor);

    public async Task<int> ModemShow(string path, CancellationToken cancel)
    {
        if (path.Split('/') is not [var hv, var modem]) throw new CliException($"'{path}' is not HYPERVISOR/MODEM", 2);
        return await Print(await Send(HttpMethod.Get, $"/hypervisors/{Uri.EscapeDataString(hv)}/modems/{Uri.EscapeDataString(modem)}", null, cancel: cancel),
            CellularTables.Modem);
    }

    /// <summary>A call that answers <c>{"message": ...}</c>: the message is the human output.</summary>
    private async Task<int> Message(HttpMethod method, string path, Func<HttpContent> content, CancellationToken cancel) =>
        await Print(await Send(method, path, content(), cancel: cancel), n => n["message"]?.ToString() ?? "");

    /// <summary>How often <c>change propose</c> sends a document before it gives up (a 503 or a lost answer).</summary>
    public const int ProposeAttempts = 3;

    public async Task<int> Propose(string file, string? baseVersion, bool wait, string? idempotencyKey, CancellationToken cancel)
    {
        if (!File.Exists(file)) throw new CliException($"no such file '{file}'", 2);
        var path = "/changes" + (baseVersion is { } b ? $"?baseVersion={Uri.EscapeDataString(b)}" : "");
        var document = await File.ReadAllBytesAsync(file);
        var mediaType = file.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? "application/json" : "application/yaml";
        // One key for every attempt: a retry after a lost answer returns the change the first
        // attempt journaled instead of proposing it again (and then being rejected as stale).
        var key = idempotencyKey ?? $"cli-{Guid.NewGuid():N}";

        JsonNode? reply = null;
        for (var attempt = 1; reply is null; attempt++)
        {
            var content = new ByteArrayContent(document);
            content.Headers.ContentType = new MediaTypeHeaderValue(mediaType) { CharSet = "utf-8" };
            content.Headers.Add("X-Fabric-Author", $"{Environment.UserName}@{Environment.MachineName} (cli)");
            try
            {
                reply = await Send(HttpMethod.Post, path, content, key, cancel);
            }
            catch (CliException e) when (e.Status == HttpStatusCode.BadRequest && e.Problem?["errors"] is JsonArray { Count: > 0 } errors)
            {
                var first = errors[0]!;
                var omitted = e.Problem["omittedErrors"]?.GetValue<int>() ?? 0;
                var more = errors.Count - 1 + omitted;
                throw new CliException(
                    $"{file} is not a valid intent document: line {first["line"]}, column {first["column"]}" +
                    $"{(first["field"]?.ToString() is { Length: > 0 } field ? $", {field}" : "")}: {first["reason"]}" +
                    (more > 0 ? $" (+{more} more)" : ""), 1);
            }
            catch (Exception e) when (attempt < ProposeAttempts && IsRetryable(e))
            {
                await (error ?? Console.Error).WriteLineAsync($"fabric-node: {Describe(e)}; retrying with the same Idempotency-Key ({attempt + 1}/{ProposeAttempts})");
                await Task.Delay(TimeSpan.FromSeconds(attempt), cancel);
            }
        }
        if (!wait || reply["changeId"] is null)
            return await Print(reply, Tables.Proposal);

        var id = reply["changeId"]!.GetValue<long>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        var shown = 0;
        while (DateTime.UtcNow < deadline)
        {
            var change = await Send(HttpMethod.Get, $"/changes/{id}", null, cancel: cancel);
            var status = change["status"]?.ToString();
            // Progress lines of the ghost verification as they come (ghost elements applied, probes sent, checks).
            var progress = change["progress"]?.AsArray() ?? [];
            if (!json)
            {
                for (; shown < progress.Count; shown++) await output.WriteLineAsync($"[change {id}] {progress[shown]}");
            }
            if (status is "committed" or "rejected")
            {
                await Print(change, Tables.Change);
                return status == "committed" ? 0 : 4;
            }
            await Task.Delay(200, cancel);
        }
        throw new CliException($"change {id} was not decided within 60 s", 5);
    }

    /// <summary>Failures after which the same request may be sent again: the store was busy or the answer was lost.</summary>
    private static bool IsRetryable(Exception e) => e switch
    {
        CliException c => c.Status is HttpStatusCode.ServiceUnavailable or HttpStatusCode.BadGateway or HttpStatusCode.GatewayTimeout,
        HttpRequestException => true,
        TaskCanceledException => true,
        _ => false,
    };

    private static string Describe(Exception e) => e switch
    {
        CliException c => c.Message,
        TaskCanceledException => "the management API did not answer in time",
        _ => $"cannot reach the management API: {e.Message}",
    };

    private async Task<JsonNode> Send(HttpMethod method, string path, HttpContent? content, string? idempotencyKey = null, CancellationToken cancel = default)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (idempotencyKey is not null) request.Headers.Add("Idempotency-Key", idempotencyKey);
        // Ask before sending a document: a node that refuses it (413) answers instead of resetting the upload.
        if (content is not null && method == HttpMethod.Post) request.Headers.ExpectContinue = true;
        using var response = await http.SendAsync(request, cancel);
        var body = await response.Content.ReadAsStringAsync(cancel);
        if (!response.IsSuccessStatusCode)
            throw new CliException(Reason(response.StatusCode, body), 1) { Status = response.StatusCode, Problem = TryParse(body) };
        return string.IsNullOrWhiteSpace(body) ? new JsonObject() : JsonNode.Parse(body)!;
    }

    private static JsonNode? TryParse(string body)
    {
        try { return JsonNode.Parse(body); }
        catch (JsonException) { return null; }
    }

    /// <summary><c>HOST:PORT</c> (plain HTTP) or a URL (<c>https://HOST:PORT</c>).</summary>
    private static Uri BaseAddress(string management)
    {
        if (management.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || management.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
            return Uri.TryCreate(management, UriKind.Absolute, out var url)
                ? new Uri(url.GetLeftPart(UriPartial.Authority))
                : throw new ArgumentException($"--management '{management}' is not a URL");
        var (host, port) = NodeOptions.ParseEndpoint(management, "--management");
        return new Uri($"http://{host}:{port}");
    }

    /// <summary>Trusts <paramref name="caFile"/> (PEM, a CA or the server's own certificate) for https, besides the system's roots.</summary>
    private static HttpClientHandler Handler(string? caFile)
    {
        var handler = new HttpClientHandler();
        if (caFile is null) return handler;
        if (!File.Exists(caFile)) throw new ArgumentException($"--cacert: no such file '{caFile}'");
        var trusted = new System.Security.Cryptography.X509Certificates.X509Certificate2Collection();
        trusted.ImportFromPemFile(caFile);
        handler.ServerCertificateCustomValidationCallback = (_, certificate, _, errors) =>
        {
            if (errors == System.Net.Security.SslPolicyErrors.None) return true;
            if (certificate is null || errors != System.Net.Security.SslPolicyErrors.RemoteCertificateChainErrors) return false;
            using var chain = new System.Security.Cryptography.X509Certificates.X509Chain();
            chain.ChainPolicy.TrustMode = System.Security.Cryptography.X509Certificates.X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.AddRange(trusted);
            chain.ChainPolicy.RevocationMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck;
            return chain.Build(certificate);
        };
        return handler;
    }

    /// <summary>One line from a problem+json body: the detail, and the first document error if any.</summary>
    private static string Reason(HttpStatusCode status, string body)
    {
        try
        {
            var problem = JsonNode.Parse(body);
            var detail = problem?["detail"]?.ToString() ?? problem?["title"]?.ToString() ?? body;
            var errors = problem?["errors"]?.AsArray();
            var more = errors is { Count: > 1 } ? $" (+{errors.Count - 1} more)" : "";
            return $"{(int)status} {status}: {detail}{more}";
        }
        catch (JsonException)
        {
            return $"{(int)status} {status}";
        }
    }

    private async Task<int> Print(JsonNode node, Func<JsonNode, string> table)
    {
        await output.WriteLineAsync(json ? node.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) : table(node));
        return 0;
    }

    private static StringContent JsonContent(string text) => new(text, Encoding.UTF8, "application/json");

    private static string? ReadTokenFile(string dataDir)
    {
        var file = ManagementToken.PathIn(dataDir);
        return File.Exists(file) ? File.ReadAllText(file).Trim() : null;
    }
}

public sealed class CliException(string message, int exitCode) : Exception(message)
{
    public int ExitCode { get; } = exitCode;

    /// <summary>The HTTP status that caused it, if any, and its problem+json body.</summary>
    public HttpStatusCode? Status { get; init; }

    public JsonNode? Problem { get; init; }
}
