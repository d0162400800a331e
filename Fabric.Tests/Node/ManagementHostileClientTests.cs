using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Fabric.Tests.Support;
using Xunit.Abstractions;

namespace Fabric.Tests.Node;

/// <summary>One node with a running gateway (gw-1, simulated ports), shared by the hostile-client tests.</summary>
public sealed class HostileClientNode : IAsyncLifetime
{
    public const string GatewayIntent = """
        version: 1
        nodes:
          - name: node-a
            roles: [fabric, ghost-shadow]
        tenants:
          - name: blue
            vni: 2101
        gateways:
          - name: gw-1
            node: node-a
            tenants:
              - tenant: blue
                networks: [10.0.0.1/24]
                downlink: { kind: simulated, name: blue-down }
                uplink:
                  port: { kind: simulated, name: blue-up }
                  address: 192.0.2.2/24
        """;

    private readonly TempDir _dir = new();

    public TestNode Node { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Node = await TestNode.StartAsync("node-a", _dir.Sub("a"));
        var wait = TimeSpan.FromSeconds(45);
        await Eventually.Holds(async () => await Node.UpCount() == 1, wait, "node Up");
        var id = await Node.Propose(GatewayIntent);
        await Eventually.Holds(async () => await Node.ChangeStatus(id) == "committed", wait, "gateway intent committed");
        await Eventually.Holds(async () => (await Node.Http.GetAsync("/gateways/gw-1")).IsSuccessStatusCode, wait, "gw-1 answers");
    }

    public async Task DisposeAsync()
    {
        await Node.DisposeAsync();
        _dir.Dispose();
    }
}

/// <summary>
/// What a hostile or careless client sends to the management API (issue 15): each gets a
/// problem+json answer that tells the truth, fast, and nothing it should not have.
/// </summary>
public sealed class ManagementHostileClientTests(HostileClientNode fixture, ITestOutputHelper output) : IClassFixture<HostileClientNode>
{
    private TestNode Node => fixture.Node;

    private static async Task<JsonNode> Problem(HttpResponseMessage response, HttpStatusCode status)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonNode.Parse(body)!;
        Assert.Equal((int)status, problem["status"]!.GetValue<int>());
        return problem;
    }

    private async Task<HttpResponseMessage> Post(string path, HttpContent content, string? idempotencyKey = null)
    {
        var request = Node.Authorized(HttpMethod.Post, path, content);
        // A client sending a large body asks first (RFC 9110 §10.1.1), so a 413 reaches it instead of a reset.
        request.Headers.ExpectContinue = true;
        if (idempotencyKey is not null) request.Headers.Add("Idempotency-Key", idempotencyKey);
        return await Node.Http.SendAsync(request);
    }

    private async Task<IReadOnlyList<JsonNode>> Changes() =>
        (await Node.Get("/changes?limit=500")).AsArray().Select(c => c!).ToList();

    [Theory]
    [InlineData(2_000_000, HttpStatusCode.RequestEntityTooLarge)] // 4 MB: over fabric.intent.max-bytes
    [InlineData(450_000, HttpStatusCode.BadRequest)]              // 0.9 MB: read, and refused over max-values
    public async Task A_huge_single_line_json_change_is_refused_fast_while_the_node_stays_ready(int tokens, HttpStatusCode status)
    {
        var text = "{\"version\":[" + string.Concat(Enumerable.Repeat("1,", tokens - 1)) + "1]}";
        var ready = new List<HttpStatusCode>();
        var stopwatch = Stopwatch.StartNew();
        var post = Post("/changes", new StringContent(text, Encoding.UTF8, "application/json"));
        while (!post.IsCompleted && stopwatch.Elapsed < TimeSpan.FromSeconds(90))
        {
            using var probe = await Node.Http.GetAsync("/health/ready");
            ready.Add(probe.StatusCode);
            await Task.Delay(50);
        }
        using var response = await post;
        var elapsed = stopwatch.ElapsedMilliseconds;
        output.WriteLine($"{text.Length} bytes answered {(int)response.StatusCode} after {elapsed} ms; {ready.Count} readiness probes");

        var problem = await Problem(response, status);
        if (status == HttpStatusCode.BadRequest)
            Assert.Contains("fabric.intent.max-values", problem["errors"]![0]!["reason"]!.ToString());
        Assert.True(elapsed < 3000, $"took {elapsed} ms");
        Assert.All(ready, s => Assert.Equal(HttpStatusCode.OK, s));
        using var after = await Node.Http.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }

    [Fact]
    public async Task A_document_with_invalid_utf8_is_refused_with_its_line_and_not_stored()
    {
        var bytes = Encoding.UTF8.GetBytes(HostileClientNode.GatewayIntent.Replace("name: blue\n", "name: bl\u00e9u\n"));
        var at = Array.IndexOf(bytes, (byte)0xC3);
        bytes[at + 1] = 0x28; // 0xC3 0x28: a lead byte without its continuation

        using var response = await Post("/changes", new ByteArrayContent(bytes));

        var problem = await Problem(response, HttpStatusCode.BadRequest);
        var error = problem["errors"]![0]!;
        Assert.Equal(6, error["line"]!.GetValue<int>());
        Assert.Contains("UTF-8", error["reason"]!.ToString());
        Assert.DoesNotContain(await Changes(), c => c["author"]!.ToString().Contains('\uFFFD'));
    }

    [Fact]
    public async Task The_error_list_is_bounded_to_100_with_a_count_of_the_rest()
    {
        var sb = new StringBuilder("tenants:\n");
        for (var i = 0; i < 10_000; i++) sb.Append("  - name: t").Append(i).Append("\n    vni: 0\n");

        using var response = await Post("/changes", new StringContent(sb.ToString()));

        var problem = await Problem(response, HttpStatusCode.BadRequest);
        Assert.Equal(100, problem["errors"]!.AsArray().Count);
        Assert.Equal(9_900, problem["omittedErrors"]!.GetValue<int>());
        Assert.True(response.Content.Headers.ContentLength is null or < 64_000, $"{response.Content.Headers.ContentLength} bytes");
    }

    [Fact]
    public async Task A_retry_with_the_same_idempotency_key_returns_the_original_change()
    {
        var key = Guid.NewGuid().ToString();
        var document = Intents.WithTenant("idem-" + key[..8], 4242, "node-a");

        using var first = await Post("/changes", new StringContent(document), key);
        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        var id = JsonNode.Parse(await first.Content.ReadAsStringAsync())!["changeId"]!.GetValue<long>();
        using var retry = await Post("/changes", new StringContent(document), key);

        Assert.Equal(HttpStatusCode.Accepted, retry.StatusCode);
        Assert.Equal(id, JsonNode.Parse(await retry.Content.ReadAsStringAsync())!["changeId"]!.GetValue<long>());
        Assert.Single(await Changes(), c => c["changeId"]!.GetValue<long>() >= id);
    }

    [Fact]
    public async Task Wildcards_in_a_gateway_name_match_nothing()
    {
        foreach (var path in new[] { "/gateways/%2A", "/gateways/gw-%3F", "/gateways/gw-%5B1%5D", "/gateways/%2A/trace" })
        {
            using var response = await Node.Http.GetAsync(path);
            output.WriteLine($"GET {path}: {(int)response.StatusCode}");
            await Problem(response, HttpStatusCode.BadRequest);
        }
    }

    [Fact]
    public async Task Arming_the_trace_of_gateway_star_arms_nothing()
    {
        using var response = await Post("/gateways/%2A/trace", new StringContent("{\"packets\":5}", Encoding.UTF8, "application/json"));

        await Problem(response, HttpStatusCode.BadRequest);
        Assert.Equal(0, (await Node.Get("/gateways/gw-1/trace"))["armed"]!.GetValue<int>());
    }

    [Fact]
    public async Task The_trace_route_checks_the_token_before_it_reads_the_body()
    {
        using var response = await Node.Http.PostAsync("/gateways/gw-1/trace", new StringContent("{not json", Encoding.UTF8, "application/json"));

        await Problem(response, HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task A_member_operation_neither_form_nor_json_is_415_problem_json()
    {
        // Form fields (Akka Management's way) and JSON are taken; anything else is refused.
        using var response = await Node.Http.SendAsync(Node.Authorized(HttpMethod.Put, $"/cluster/members/{Node.Seed}",
            new StringContent("operation=leave", Encoding.UTF8, "text/plain")));

        await Problem(response, HttpStatusCode.UnsupportedMediaType);
    }

    [Fact]
    public async Task A_change_id_that_is_not_a_number_gets_a_problem_json_body()
    {
        using var response = await Node.Http.GetAsync("/changes/abc");

        Assert.True(response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.NotFound, $"{(int)response.StatusCode}");
        await Problem(response, response.StatusCode);
    }

    [Fact]
    public async Task An_unknown_route_and_a_wrong_method_get_problem_json()
    {
        using var missing = await Node.Http.GetAsync("/no/such/route");
        await Problem(missing, HttpStatusCode.NotFound);
        using var method = await Node.Http.DeleteAsync("/intent");
        await Problem(method, HttpStatusCode.MethodNotAllowed);
    }

    [Fact]
    public async Task A_body_over_the_size_limit_is_413_problem_json()
    {
        using var response = await Post("/changes", new ByteArrayContent(new byte[5 * 1024 * 1024]));

        await Problem(response, HttpStatusCode.RequestEntityTooLarge);
    }

    [Fact]
    public async Task A_request_line_over_the_limit_is_414_problem_json()
    {
        using var response = await Node.Http.GetAsync("/intent?pad=" + new string('x', 12_000));

        await Problem(response, HttpStatusCode.RequestUriTooLong);
    }

    [Fact]
    public async Task Request_headers_over_the_limit_are_431_problem_json()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/intent");
        for (var i = 0; i < 8; i++) request.Headers.Add($"X-Pad-{i}", new string('x', 6_000));

        using var response = await Node.Http.SendAsync(request);

        await Problem(response, HttpStatusCode.RequestHeaderFieldsTooLarge);
    }

    [Fact]
    public async Task A_host_header_the_node_does_not_answer_to_is_refused()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/intent");
        request.Headers.Host = "attacker.example";

        using var response = await Node.Http.SendAsync(request);

        await Problem(response, HttpStatusCode.BadRequest);
        using var fine = await Node.Http.GetAsync("/intent");
        Assert.Equal(HttpStatusCode.OK, fine.StatusCode);
    }
}
