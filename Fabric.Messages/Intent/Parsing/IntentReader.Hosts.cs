namespace Fabric.Messages.Intent.Parsing;

internal static partial class IntentReader
{
    internal static readonly string[] HostKeys = ["name", "node", "mfe", "containerDcns", "containers"];

    internal static readonly string[] MfeKeys = ["name"];

    internal static readonly string[] ContainerDcnKeys = ["name", "vnicMac", "port"];

    internal static readonly string[] ContainerKeys = ["name", "dcn", "localTag", "mac", "ip", "tenant", "ingress", "egress", "capture"];

    internal static readonly string[] HypervisorKeys = ["name", "node", "modems", "bridge", "vms"];

    internal static readonly string[] ModemKeys = ["name", "device", "apn"];

    internal static readonly string[] BridgeKeys = ["name", "mac"];

    internal static readonly string[] VmKeys = ["name", "mac", "port", "modem", "mode"];

    private static HostIntent ReadHost(Fields f)
    {
        var name = f.Name();
        var node = f.String("node");
        var mfe = f.Object("mfe", true, MfeKeys);
        return new HostIntent(
            name,
            node,
            new MfeIntent(mfe?.Name() ?? ""),
            f.Elements("containerDcns", false, ContainerDcnKeys, ReadContainerDcn),
            f.Elements("containers", false, ContainerKeys, ReadContainer));
    }

    private static ContainerDcnIntent ReadContainerDcn(Fields d)
    {
        var name = d.Name();
        var mac = d.Mac("vnicMac", true) ?? default;
        var port = d.Object("port", false, PortKeys);
        // The default is written out, so the canonical text shows which port the VNIC uses.
        return new ContainerDcnIntent(name, mac, port is null ? new PortRef(PortKind.Simulated, name) : ReadPort(port));
    }

    private static ContainerIntent ReadContainer(Fields c)
    {
        var name = c.Name();
        var dcn = c.String("dcn");
        var tag = (ushort)(c.Integer("localTag", true, 1, 4094, "local tag (vlan)") ?? 0);
        var mac = c.Mac("mac", true) ?? default;
        var ip = c.Ipv4("ip", true) ?? default;
        var tenant = c.Has("tenant") ? c.Name("tenant") : null;
        var ingress = ReadPortAcl(c, "ingress");
        var egress = ReadPortAcl(c, "egress");
        var capture = c.OptionalString("capture");
        if (capture is not null && !IsCapturePath(capture))
            c.Fail("capture", $"'{capture}' is not an absolute file path (it must start with '/' and not end with '/')");
        return new ContainerIntent(name, dcn, tag, mac, ip, tenant, ingress, egress, capture);
    }

    /// <summary>A container port's ACL: the gateway firewall's shape; rules are stateless and cannot answer.</summary>
    private static FirewallIntent? ReadPortAcl(Fields c, string key)
    {
        var acl = c.Object(key, false, FirewallKeys);
        if (acl is null) return null;
        var rules = acl.Elements("rules", false, RuleKeys, r =>
        {
            var rule = ReadRule(r);
            if (rule.Action == FirewallAction.Reject && !r.Context.HasFailed(r.PathOf("action")))
                r.Fail("action", "reject is not supported on a container port (the MFE does not answer for a container); use deny");
            return rule;
        });
        return new FirewallIntent(acl.Enum("defaultPolicy", IntentText.Policy, true) ?? FirewallPolicy.Allow, rules);
    }

    private static bool IsCapturePath(string path) =>
        path.Length > 1 && path[0] == '/' && path[^1] != '/' && !path.Any(char.IsControl);

    private static HypervisorIntent ReadHypervisor(Fields f)
    {
        var name = f.Name();
        var node = f.String("node");
        var modems = f.Elements("modems", true, ModemKeys, m =>
        {
            var modem = new ModemIntent(m.Name(), m.String("device"), m.String("apn"));
            if (m.Has("device") && !modem.IsSimulated && Checks.DevicePath(modem.Device) is { } deviceReason)
                m.Fail("device", deviceReason);
            if (m.Has("apn") && modem.Apn.Trim().Length == 0)
                m.Fail("apn", "the APN must not be empty");
            else if (m.Has("apn") && Checks.Apn(modem.Apn) is { } apnReason)
                m.Fail("apn", apnReason);
            return modem;
        });
        if (f.Has("modems") && f.List("modems", false).Count == 0)
            f.Fail("modems", "a hypervisor needs at least one modem");
        var bridgeFields = f.Object("bridge", true, BridgeKeys);
        var bridge = new BridgeIntent(bridgeFields?.Name() ?? "", bridgeFields?.Mac("mac", true) ?? default);
        if (bridgeFields is not null) f.Context.Remember(bridge, bridgeFields);
        return new HypervisorIntent(
            name,
            node,
            modems,
            bridge,
            f.Elements("vms", false, VmKeys, v => ReadVm(v, modems)));
    }

    private static VmIntent ReadVm(Fields v, System.Collections.Immutable.ImmutableArray<ModemIntent> modems)
    {
        var vm = new VmIntent(v.Name(), v.Mac("mac", true) ?? default);
        var portFields = v.Object("port", false, PortKeys);
        var mode = v.Enum("mode", IntentText.VmMode, required: false) ?? VmMode.Passthrough;
        if (mode == VmMode.Nat)
            v.Fail("mode", "NAT mode (the VM keeps a private address) is not built yet; use passthrough (see docs/intent-schema.md#hypervisors)");
        return vm with
        {
            Port = portFields is null ? vm.Port : ReadPort(portFields),
            Modem = v.OptionalString("modem") ?? (modems.IsEmpty ? "" : modems[0].Name),
            Mode = mode,
        };
    }
}
