using System.Text;
using Fabric.Messages.Intent;

namespace Fabric.Node.Cli.Lab;

/// <summary>
/// The Linux objects one lab namespace needs, named from its TAP port so <c>lab down</c> finds
/// them again: the namespace <c>fabric-lab-PORT</c> whose <c>eth0</c> (a veth) has the lab
/// address, and on the fabric's side a bridge joining the veth's peer and the TAP port (kept
/// persistent, so a restarted node finds it still bridged).
/// </summary>
public sealed record LabNamespace(string Port, string Namespace, string Bridge, string HostVeth, string NamespaceVeth, string Address, string? Gateway)
{
    public static LabNamespace For(LabAttachmentIntent lab)
    {
        // Interface names are at most 15 characters: a short stable hash of the port name.
        var hash = Fnv1a(lab.Port).ToString("x8");
        return new LabNamespace(lab.Port, $"fabric-lab-{lab.Port}", $"flb{hash}", $"flh{hash}", $"fln{hash}",
            lab.Address.ToString(), lab.Gateway?.ToString());
    }

    private static uint Fnv1a(string text)
    {
        var hash = 2166136261u;
        foreach (var b in Encoding.UTF8.GetBytes(text)) hash = (hash ^ b) * 16777619u;
        return hash;
    }

    /// <summary>The address without its prefix length.</summary>
    public string Host => Address.Split('/')[0];

    /// <summary>The <c>ip</c> commands that build it, in order (the TAP is made only when absent: <paramref name="makeTap"/>).</summary>
    public IReadOnlyList<string> UpCommands(bool makeTap)
    {
        var commands = new List<string> { $"netns add {Namespace}" };
        if (makeTap) commands.Add($"tuntap add dev {Port} mode tap");
        commands.AddRange(
        [
            $"link add {Bridge} type bridge",
            $"link set {Bridge} up",
            $"link set {Port} master {Bridge}",
            $"link set {Port} up",
            $"link add {HostVeth} type veth peer name {NamespaceVeth}",
            $"link set {HostVeth} master {Bridge}",
            $"link set {HostVeth} up",
            $"link set {NamespaceVeth} netns {Namespace}",
            $"-n {Namespace} link set {NamespaceVeth} name eth0",
            $"-n {Namespace} addr add {Address} dev eth0",
            $"-n {Namespace} link set eth0 up",
            $"-n {Namespace} link set lo up",
        ]);
        if (Gateway is not null) commands.Add($"-n {Namespace} route add default via {Gateway}");
        return commands;
    }

    /// <summary>What <c>lab down</c> removes: the namespace (its veth and the peer go with it), the bridge, and the TAP if the lab made it.</summary>
    public IReadOnlyList<string> DownCommands(bool removeTap) =>
        removeTap ? [$"netns del {Namespace}", $"link del {Bridge}", $"link del {Port}"] : [$"netns del {Namespace}", $"link del {Bridge}"];
}
