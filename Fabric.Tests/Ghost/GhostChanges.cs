using System.Text.Json.Nodes;
using Fabric.Tests.Support;
using Xunit.Abstractions;

namespace Fabric.Tests.Ghost;

/// <summary>Proposes a change through the management API and waits for the ghost verdict.</summary>
public static class GhostChanges
{
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(40);

    /// <summary>The change once committed or rejected, as GET /changes/{id} returns it (logged without its document).</summary>
    public static async Task<JsonNode> ProposeAndDecide(this TestNode node, string document, ITestOutputHelper output)
    {
        var id = await node.Propose(document);
        JsonNode change = null!;
        await Eventually.Holds(async () =>
        {
            change = await node.Get($"/changes/{id}");
            return change["status"]!.ToString() is "committed" or "rejected";
        }, Wait, $"change {id} decided");
        var shown = change.DeepClone();
        shown.AsObject().Remove("document");
        output.WriteLine(shown.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
        return change;
    }
}
