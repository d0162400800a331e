using System.Collections.Immutable;

namespace Fabric.Messages.Intent.Parsing;

/// <summary>
/// Reads the source tree into the model, checking everything one element can check on its own
/// (types, ranges, formats, unknown and missing fields). Cross-element checks are in
/// <see cref="IntentChecks"/>. The key lists here are the schema: docs/intent-schema.md follows them.
/// </summary>
internal static partial class IntentReader
{
    internal static readonly string[] DocumentKeys =
        ["version", "baseVersion", "nodes", "tenants", "pes", "pws", "trunks", "gateways", "hosts", "hypervisors", "checks", "lab"];

    internal static readonly string[] NodeKeys = ["name", "address", "description", "roles"];

    internal static readonly string[] TenantKeys = ["name", "vni"];

    public static IntentDocument? Read(SourceNode root, ReadContext context)
    {
        if (root is SourceScalar { Kind: ScalarKind.Null })
        {
            context.Error(root, "", "empty document");
            return null;
        }
        if (root is not SourceMap)
        {
            // Never quote it: a file proposed by mistake (a key, /etc/shadow) must not come back in
            // an error message, a terminal or a log.
            var got = root is SourceScalar scalar ? scalar.KindOnly : root.Describe;
            context.Error(root, "", $"expected a mapping of {string.Join(", ", DocumentKeys)}; got {got}: this is not an intent document");
            return null;
        }
        if (root is SourceMap { Entries.Length: > 0 } map && !map.Entries.Any(e => DocumentKeys.Contains(e.Key)))
        {
            // No key of the schema at all: some other file (`root:...:::` of /etc/shadow reads as
            // YAML keys). Its keys are not listed back, for the same reason as above.
            context.Error(root, "", $"expected a mapping of {string.Join(", ", DocumentKeys)}; none of its {map.Entries.Length} key(s) is one: this is not an intent document");
            return null;
        }
        var top = context.Open(root, "", DocumentKeys)!;
        var version = top.Integer("version", required: false, long.MinValue, long.MaxValue);
        if (version is not null and not IntentDocument.CurrentVersion)
            top.Fail("version", $"unsupported schema version {version}; this parser reads version {IntentDocument.CurrentVersion}");
        return new IntentDocument
        {
            Version = IntentDocument.CurrentVersion,
            BaseVersion = top.Integer("baseVersion", required: false, 0, long.MaxValue, "baseVersion"),
            Nodes = top.Elements("nodes", false, NodeKeys, ReadNode),
            Tenants = top.Elements("tenants", false, TenantKeys, f => new TenantIntent(f.Name(), (uint)(f.Integer("vni", true, 1, 16_777_215, "vni") ?? 0))),
            Pes = top.Elements("pes", false, PeKeys, ReadPe),
            Pws = top.Elements("pws", false, PwKeys, ReadPw),
            Trunks = top.Elements("trunks", false, TrunkKeys, ReadTrunk),
            Gateways = top.Elements("gateways", false, GatewayKeys, ReadGateway),
            Hosts = top.Elements("hosts", false, HostKeys, ReadHost),
            Hypervisors = top.Elements("hypervisors", false, HypervisorKeys, ReadHypervisor),
            Checks = top.Elements("checks", false, CheckKeys, ReadCheck),
            Lab = top.Elements("lab", false, LabKeys, ReadLab),
        };
    }

    private static NodeIntent ReadNode(Fields f)
    {
        var name = f.Name();
        var roles = ImmutableArray.CreateBuilder<NodeRole>();
        var texts = f.Strings("roles", required: true);
        if (f.Has("roles") && texts.IsEmpty) f.Fail("roles", $"a node needs at least one role ({IntentText.Role.Choices})");
        for (var i = 0; i < texts.Length; i++)
        {
            if (texts[i].Length == 0) continue;
            if (!IntentText.Role.TryParse(texts[i], out var role))
                f.Context.Error(ItemAt(f, "roles", i), $"{f.PathOf("roles")}[{i}]", $"unknown role '{texts[i]}'; expected {IntentText.Role.Choices}");
            else if (roles.Contains(role))
                f.Context.Error(ItemAt(f, "roles", i), $"{f.PathOf("roles")}[{i}]", $"role '{texts[i]}' is listed twice");
            else
                roles.Add(role);
        }
        return new NodeIntent(name, roles.ToImmutable(), f.Ipv4("address", false), f.OptionalString("description"));
    }

    /// <summary>
    /// Reads a port reference and checks its name against what the kind allows; a
    /// <c>logicalSwitch</c> only where <paramref name="logicalSwitch"/> says it may be (a gateway downlink).
    /// </summary>
    private static PortRef ReadPort(Fields port, bool logicalSwitch = false)
    {
        var kind = port.Enum("kind", IntentText.PortKind, required: true);
        var name = port.String("name");
        if (kind == PortKind.LogicalSwitch && !logicalSwitch)
            port.Fail("kind", "only a gateway tenant's downlink can be a logicalSwitch; this must be tap or simulated");
        if (kind == PortKind.LogicalSwitch && name.Length > 0)
            name = port.Name();
        if (kind == PortKind.Tap && name.Length > 0 && !Checks.IsTapName(name))
            port.Fail("name", $"'{name}' is not a Linux interface name (1..15 characters, no '/', ':' or spaces)");
        if (kind == PortKind.Simulated && name.Length > 0)
            name = port.Name();
        var segment = port.Has("segment") ? port.Name("segment") : null;
        var traffic = (int?)port.Integer("traffic", required: false, 1, MaxTraffic, "frames per second");
        if (traffic is not null && kind is PortKind.Tap or PortKind.LogicalSwitch)
            port.Fail("traffic", "only a simulated port generates traffic; a TAP carries what its device sends");
        var netns = port.OptionalString("namespace");
        if (netns is not null && kind is not PortKind.Tap)
            port.Fail("namespace", "only a TAP port lives in a network namespace");
        else if (netns is not null && Checks.NamespaceProblem(netns) is { } problem)
            port.Fail("namespace", problem);
        return new PortRef(kind ?? PortKind.Simulated, name, segment, traffic, netns);
    }

    /// <summary>Most frames per second a simulated port may be asked to generate (it is a demonstration, not a load generator).</summary>
    public const int MaxTraffic = 10_000;

    private static readonly string[] PortKeys = ["kind", "name", "segment", "traffic", "namespace"];

    internal static readonly string[] LabKeys = ["port", "address", "gateway"];

    private static LabAttachmentIntent ReadLab(Fields f) =>
        new(f.String("port"), f.InterfaceAddress("address", required: true) ?? default, f.Ipv4("gateway", required: false));

    private static SourceNode ItemAt(Fields f, string key, int index) =>
        f.Map.Find(key)?.Value is SourceSequence s && index < s.Items.Length ? s.Items[index] : f.Map;
}
