using Akka.Actor;
using Fabric.Tests.Support;

namespace Fabric.Tests.Cluster;

/// <summary>Several whole nodes in one process on 127.0.0.1 form one cluster.</summary>
public class ClusterFormationTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Two_nodes_form_a_cluster_and_both_see_each_other_Up()
    {
        using var dir = new TempDir();
        await using var a = await TestNode.StartAsync("node-a", dir.Sub("a"));
        await using var b = await TestNode.StartAsync("node-b", dir.Sub("b"), seeds: [a.Seed]);

        await Eventually.Holds(async () => await a.UpCount() == 2 && await b.UpCount() == 2, Wait, "both nodes Up on both");
        var members = await b.Members();
        Assert.Contains(members, m => m.Node == a.Address.ToString());
        Assert.Contains(members, m => m.Node == b.Address.ToString());
    }

    [Fact]
    public async Task Three_nodes_form_a_cluster_one_leaves_and_the_others_see_it_gone()
    {
        using var dir = new TempDir();
        await using var a = await TestNode.StartAsync("node-a", dir.Sub("a"));
        await using var b = await TestNode.StartAsync("node-b", dir.Sub("b"), seeds: [a.Seed]);
        await using var c = await TestNode.StartAsync("node-c", dir.Sub("c"), seeds: [a.Seed]);
        await Eventually.Holds(async () => await a.UpCount() == 3 && await c.UpCount() == 3, Wait, "three nodes Up");

        var leaving = c.Address.ToString();
        using (var response = await a.Http.SendAsync(a.Authorized(HttpMethod.Put,
                   $"/cluster/members/{Uri.EscapeDataString(leaving)}",
                   new StringContent("""{"operation":"leave"}""", System.Text.Encoding.UTF8, "application/json"))))
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());

        await c.System.WhenTerminated.WaitAsync(Wait);
        await Eventually.Holds(async () =>
            (await a.Members()).All(m => m.Node != leaving) && (await b.Members()).All(m => m.Node != leaving),
            Wait, "node-c gone from the members of node-a and node-b");
        Assert.Equal(2, await a.UpCount());
    }

    [Fact]
    public async Task Roles_decide_which_node_runs_the_guardian_and_which_the_ghost_shadow()
    {
        using var dir = new TempDir();
        await using var fabric = await TestNode.StartAsync("node-f", dir.Sub("f"), roles: "fabric");
        await using var ghost = await TestNode.StartAsync("node-g", dir.Sub("g"), seeds: [fabric.Seed], roles: "ghost-shadow");
        await Eventually.Holds(async () => await fabric.UpCount() == 2, Wait, "two nodes Up");

        var roles = (await fabric.Members()).ToDictionary(m => m.Node, m => m.Roles);
        Assert.Equal(["fabric"], roles[fabric.Address.ToString()]);
        Assert.Equal(["ghost-shadow"], roles[ghost.Address.ToString()]);

        Assert.True(await Exists(fabric.System, "/user/fabric"));
        Assert.False(await Exists(fabric.System, "/user/ghost"));
        Assert.True(await Exists(ghost.System, "/user/ghost"));
        Assert.False(await Exists(ghost.System, "/user/fabric"));
    }

    private static async Task<bool> Exists(ActorSystem system, string path)
    {
        var identity = await system.ActorSelection(path).Ask<ActorIdentity>(new Identify(path), TimeSpan.FromSeconds(5));
        return identity.Subject is not null;
    }
}
