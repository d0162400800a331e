namespace Fabric.Messages.Intent.Parsing;

internal static partial class IntentReader
{
    internal static readonly string[] PeKeys = ["name", "node", "routerId", "attachmentCircuits"];

    internal static readonly string[] AttachmentCircuitKeys = ["name", "port", "vlan"];

    internal static readonly string[] PwKeys =
        ["name", "pe", "remotePe", "localLabel", "remoteLabel", "controlWord", "flowLabel", "weight", "mtu"];

    internal static readonly string[] TrunkKeys =
        ["name", "pe", "attachmentCircuit", "members", "mode", "minActive", "helloIntervalMs", "multiplier", "balance"];

    /// <summary>MPLS labels 0..15 are reserved (RFC 3032 §2.1); 2^20 - 1 is the largest.</summary>
    internal const long MinLabel = 16, MaxLabel = 1_048_575;

    /// <summary>
    /// PW MTU bounds: IPv4's minimum datagram every host takes (RFC 791), and the largest IP packet
    /// whose Ethernet frame (with an 802.1Q tag) fits a data-plane batch slot (2048 B less 128 B headroom).
    /// </summary>
    internal const long MinPwMtu = 576, MaxPwMtu = 1902;

    /// <summary>The PW trunk capability shares traffic over at least two active PWs.</summary>
    internal const int MinTrunkMembers = 2;

    private static PeIntent ReadPe(Fields f) => new(
        f.Name(),
        f.String("node"),
        f.Ipv4("routerId", true) ?? default,
        f.Elements("attachmentCircuits", false, AttachmentCircuitKeys, ac =>
        {
            var name = ac.Name();
            var port = ac.Object("port", true, PortKeys);
            return new AttachmentCircuitIntent(
                name,
                port is null ? new PortRef(PortKind.Simulated, "") : ReadPort(port),
                (ushort?)ac.Integer("vlan", false, 1, 4094, "vlan"));
        }));

    private static PwIntent ReadPw(Fields f) => new(
        f.Name(),
        f.String("pe"),
        f.String("remotePe"),
        (uint)(f.Integer("localLabel", true, MinLabel, MaxLabel, "label") ?? 0),
        (uint)(f.Integer("remoteLabel", true, MinLabel, MaxLabel, "label") ?? 0),
        f.Boolean("controlWord", true),
        f.Boolean("flowLabel", false),
        (int)(f.Integer("weight", false, 1, 1000, "weight") ?? 1),
        (int?)f.Integer("mtu", false, MinPwMtu, MaxPwMtu, "mtu"));

    private static TrunkIntent ReadTrunk(Fields f)
    {
        var name = f.Name();
        var pe = f.String("pe");
        var attachmentCircuit = f.String("attachmentCircuit");
        var members = f.Strings("members", required: true);
        if (f.Has("members") && members.Length < MinTrunkMembers && !f.Context.HasFailed(f.PathOf("members")))
            f.Fail("members", $"a trunk needs at least {MinTrunkMembers} member PWs, got {members.Length}");
        for (var i = 0; i < members.Length; i++)
        {
            if (members[i].Length > 0 && members.IndexOf(members[i]) < i)
                f.Context.Error(ItemAt(f, "members", i), $"{f.PathOf("members")}[{i}]", $"pw '{members[i]}' is listed twice");
        }
        var minActive = (int)(f.Integer("minActive", false, 1, 1000, "minActive") ?? 1);
        if (f.Has("minActive") && minActive > members.Length && members.Length >= MinTrunkMembers)
            f.Fail("minActive", $"minActive {minActive} is more than the trunk's {members.Length} members");
        return new TrunkIntent(
            name,
            pe,
            attachmentCircuit,
            members,
            f.Enum("mode", IntentText.TrunkMode, false) ?? TrunkMode.PerFlow,
            minActive,
            (int)(f.Integer("helloIntervalMs", false, 1, 60_000, "helloIntervalMs") ?? 50),
            (int)(f.Integer("multiplier", false, 1, 255, "multiplier") ?? 3),
            f.Enum("balance", IntentText.TrunkBalance, false));
    }
}
