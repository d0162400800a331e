using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Fabric.Node.Hosting;

namespace Fabric.Node.Cli;

/// <summary>
/// The operator verbs (Petabridge.Cmd-like) over the management HTTP API. Human tables by
/// default, <c>--json</c> for scripts; a failure prints one line on stderr and exits non-zero.
/// </summary>
public sealed class OperatorCommands(HttpClient http, TextWriter output, bool json, string? token, TextWriter? error = null)
{
    public const string Usage = """
        fabric-node cluster show                 members, status, roles, leader
        fabric-node cluster leave ADDRESS        make a member leave (needs the token)
        fabric-node cluster down ADDRESS         mark a member down (needs the token)
        fabric-node actors                       this node's actor tree
        fabric-node intent show                  the committed intent
        fabric-node intent applied               the intent version this node runs
        fabric-node change propose FILE [--base N] [--wait] [--idempotency-key KEY]
                                                 (sends an Idempotency-Key, made up when not given, and
                                                  retries a 503 or a lost answer with the same key)
        fabric-node change list                  recent changes
        fabric-node change show ID               one change with its verdict
        fabric-node trunk show NAME              a PW trunk: state, members, their share of frames/bytes
        fabric-node pw list                      this node's PWs: labels, liveness, counters
        fabric-node gateway show NAME            a gateway: ports, stage counters, drops, flow-cache stats per bucket
        fabric-node flows top [N]                the busiest flow-cache buckets of this node's gateways
        fabric-node host show NAME               a host's MFE: DCNs, container ports (tag, MAC, IP, state, counters), overlay
        fabric-node port list                    this node's container ports with their counters and drops
        fabric-node hv list                      this node's hypervisors: modems (phase, address), VMs (leased address)
        fabric-node hv show NAME                 a hypervisor: bridge, modems (registration, signal, bearer, errors), VMs
        fabric-node modem show HV/MODEM          one modem: dialogue phase, registration, signal, bearer, counters, data
        options: --management HOST:PORT or https://HOST:PORT (FABRIC_MANAGEMENT, default 127.0.0.1:8558)
                 --cacert FILE (PEM: trust this certificate or CA for https)
                 --token TOKEN (FABRIC_TOKEN, default: read DATA/token)  --data DIR (FABRIC_DATA)  --json
        """;

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        try
        {
            var (words, flags) = Split(args);
            Func<string, string?> env = Environment.GetEnvironmentVariable;
            var management = flags.GetValueOrDefault("--management") ?? env("FABRIC_MANAGEMENT") ?? NodeOptions.DefaultManagement;
            var token = flags.GetValueOrDefault("--token") ?? env("FABRIC_TOKEN") ?? ReadTokenFile(flags.GetValueOrDefault("--data") ?? env("FABRIC_DATA") ?? "./data");
            using var handler = Handler(flags.GetValueOrDefault("--cacert"));
            using var http = new HttpClient(handler) { BaseAddress = BaseAddress(management), Timeout = TimeSpan.FromSeconds(30) };
            var commands = new OperatorCommands(http, output, flags.ContainsKey("--json"), token, error);
            return await commands.Execute(words, flags);
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
        catch (TaskCanceledException)
        {
            await error.WriteLineAsync("fabric-node: the management API did not answer in time");
            return 3;
        }
    }

    private async Task<int> Execute(IReadOnlyList<string> words, IReadOnlyDictionary<string, string?> flags)
    {
        switch (words)
        {
            case ["cluster", "show"]: return await ClusterShow();
            case ["cluster", "leave", var address]:
                return await Print(await Send(HttpMethod.Put, $"/cluster/members/{Uri.EscapeDataString(address)}",
                    JsonContent("""{"operation":"leave"}""")), n => n["message"]?.ToString() ?? "");
            case ["cluster", "down", var address]:
                return await Print(await Send(HttpMethod.Delete, $"/cluster/members/{Uri.EscapeDataString(address)}", null),
                    n => n["message"]?.ToString() ?? "");
            case ["actors"]: return await Print(await Send(HttpMethod.Get, "/actors", null), Tables.ActorTree);
            case ["intent", "show"]: return await Print(await Send(HttpMethod.Get, "/intent", null), Tables.Intent);
            case ["intent", "applied"]: return await Print(await Send(HttpMethod.Get, "/intent/applied", null), Tables.Applied);
            case ["change", "propose", var file]: return await Propose(file, flags);
            case ["change", "list"]: return await Print(await Send(HttpMethod.Get, "/changes", null), Tables.Changes);
            case ["change", "show", var id]:
                if (!long.TryParse(id, out _)) throw new CliException($"'{id}' is not a change id", 2);
                return await Print(await Send(HttpMethod.Get, $"/changes/{id}", null), Tables.Change);
            case ["trunk", "show", var name]:
                return await Print(await Send(HttpMethod.Get, $"/trunks/{Uri.EscapeDataString(name)}", null), PseudowireTables.Trunk);
            case ["pw", "list"]: return await Print(await Send(HttpMethod.Get, "/pws", null), PseudowireTables.Pws);
            case ["gateway", "show", var name]:
                return await Print(await Send(HttpMethod.Get, $"/gateways/{Uri.EscapeDataString(name)}", null), GatewayTables.Gateway);
            case ["flows", "top"]:
                return await Print(await Send(HttpMethod.Get, "/flows/top", null), GatewayTables.FlowsTop);
            case ["flows", "top", var top]:
                if (!int.TryParse(top, out _)) throw new CliException($"'{top}' is not a number of rows", 2);
                return await Print(await Send(HttpMethod.Get, $"/flows/top?n={top}", null), GatewayTables.FlowsTop);
            case ["host", "show", var name]:
                return await Print(await Send(HttpMethod.Get, $"/hosts/{Uri.EscapeDataString(name)}", null), SwitchingTables.Host);
            case ["port", "list"]: return await Print(await Send(HttpMethod.Get, "/ports", null), SwitchingTables.Ports);
            case ["hv", "list"]: return await Print(await Send(HttpMethod.Get, "/hypervisors", null), CellularTables.Hypervisors);
            case ["hv", "show", var name]:
                return await Print(await Send(HttpMethod.Get, $"/hypervisors/{Uri.EscapeDataString(name)}", null), CellularTables.Hypervisor);
            case ["modem", "show", var path] when path.Split('/') is [var hv, var modem]:
                return await Print(await Send(HttpMethod.Get, $"/hypervisors/{Uri.EscapeDataString(hv)}/modems/{Uri.EscapeDataString(modem)}", null), CellularTables.Modem);
            case ["modem", "show", var path]:
                throw new CliException($"'{path}' is not HYPERVISOR/MODEM", 2);
            default:
                throw new CliException($"unknown command '{string.Join(' ', words)}'; try 'fabric-node help'", 2);
        }
    }

    private async Task<int> ClusterShow() =>
        await Print(await Send(HttpMethod.Get, "/cluster/members", null), Tables.Members);

    /// <summary>How often <c>change propose</c> sends a document before it gives up (a 503 or a lost answer).</summary>
    public const int ProposeAttempts = 3;

    private async Task<int> Propose(string file, IReadOnlyDictionary<string, string?> flags)
    {
        if (!File.Exists(file)) throw new CliException($"no such file '{file}'", 2);
        var path = "/changes" + (flags.GetValueOrDefault("--base") is { } b ? $"?baseVersion={Uri.EscapeDataString(b)}" : "");
        var document = await File.ReadAllBytesAsync(file);
        var mediaType = file.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? "application/json" : "application/yaml";
        // One key for every attempt: a retry after a lost answer returns the change the first
        // attempt journaled instead of proposing it again (and then being rejected as stale).
        var key = flags.GetValueOrDefault("--idempotency-key") ?? $"cli-{Guid.NewGuid():N}";

        JsonNode? reply = null;
        for (var attempt = 1; reply is null; attempt++)
        {
            var content = new ByteArrayContent(document);
            content.Headers.ContentType = new MediaTypeHeaderValue(mediaType) { CharSet = "utf-8" };
            content.Headers.Add("X-Fabric-Author", $"{Environment.UserName}@{Environment.MachineName} (cli)");
            try
            {
                reply = await Send(HttpMethod.Post, path, content, key);
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
                await Task.Delay(TimeSpan.FromSeconds(attempt));
            }
        }
        if (!flags.ContainsKey("--wait") || reply["changeId"] is null)
            return await Print(reply, Tables.Proposal);

        var id = reply["changeId"]!.GetValue<long>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        var shown = 0;
        while (DateTime.UtcNow < deadline)
        {
            var change = await Send(HttpMethod.Get, $"/changes/{id}", null);
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
            await Task.Delay(200);
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

    private async Task<JsonNode> Send(HttpMethod method, string path, HttpContent? content, string? idempotencyKey = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (idempotencyKey is not null) request.Headers.Add("Idempotency-Key", idempotencyKey);
        // Ask before sending a document: a node that refuses it (413) answers instead of resetting the upload.
        if (content is not null && method == HttpMethod.Post) request.Headers.ExpectContinue = true;
        using var response = await http.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
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

    private static (List<string> Words, Dictionary<string, string?> Flags) Split(string[] args)
    {
        var words = new List<string>();
        var flags = new Dictionary<string, string?>();
        string[] valued = ["--management", "--token", "--data", "--base", "--cacert", "--idempotency-key"];
        for (var i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--")) { words.Add(args[i]); continue; }
            if (valued.Contains(args[i]))
            {
                if (i + 1 >= args.Length) throw new ArgumentException($"{args[i]} needs a value");
                flags[args[i]] = args[++i];
            }
            else if (args[i] is "--json" or "--wait") flags[args[i]] = null;
            else throw new ArgumentException($"unknown option '{args[i]}'");
        }
        return (words, flags);
    }
}

public sealed class CliException(string message, int exitCode) : Exception(message)
{
    public int ExitCode { get; } = exitCode;

    /// <summary>The HTTP status that caused it, if any, and its problem+json body.</summary>
    public HttpStatusCode? Status { get; init; }

    public JsonNode? Problem { get; init; }
}
