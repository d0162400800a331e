using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Fabric.Tests.Support;

/// <summary>Reads a test node's state through its management API, as an operator would.</summary>
public static class NodeQueries
{
    public static async Task<JsonNode> Get(this TestNode node, string path) =>
        (await node.Http.GetFromJsonAsync<JsonNode>(path))!;

    public static async Task<IReadOnlyList<(string Node, string Status, string[] Roles)>> Members(this TestNode node)
    {
        var members = await node.Get("/cluster/members");
        return members["members"]!.AsArray()
            .Select(m => (m!["node"]!.ToString(), m["status"]!.ToString(), m["roles"]!.AsArray().Select(r => r!.ToString()).ToArray()))
            .ToList();
    }

    public static async Task<int> UpCount(this TestNode node) => (await node.Members()).Count(m => m.Status == "Up");

    public static async Task<long> AppliedVersion(this TestNode node) => (await node.Get("/intent/applied"))["version"]!.GetValue<long>();

    public static async Task<long> IntentVersion(this TestNode node) => (await node.Get("/intent"))["version"]!.GetValue<long>();

    public static async Task<long> Propose(this TestNode node, string document)
    {
        using var response = await node.Http.SendAsync(node.Authorized(HttpMethod.Post, "/changes",
            new StringContent(document, System.Text.Encoding.UTF8, "application/yaml")));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"POST /changes: {(int)response.StatusCode} {body}");
        return JsonNode.Parse(body)!["changeId"]!.GetValue<long>();
    }

    public static async Task<string> ChangeStatus(this TestNode node, long id) =>
        (await node.Get($"/changes/{id}"))["status"]!.ToString();
}
