namespace Fabric.Messages.Intent.Parsing;

internal static partial class IntentReader
{
    internal static readonly string[] CheckKeys = ["name", "from", "to", "expect"];

    internal static readonly string[] CheckFromKeys = ["attachmentCircuit", "gateway", "tenant", "container", "vm", "address"];

    internal static readonly string[] CheckToKeys = ["attachmentCircuit", "gateway", "tenant", "container", "vm", "address", "protocol", "port"];

    private static CheckIntent ReadCheck(Fields f)
    {
        var name = f.Name();
        var from = f.Object("from", true, CheckFromKeys);
        var to = f.Object("to", true, CheckToKeys);
        var expect = f.Enum("expect", IntentText.Expect, required: true) ?? CheckExpectation.Reach;
        var protocol = to?.Enum("protocol", IntentText.ProbeProtocol, required: false) ?? ProbeProtocol.Icmp;
        ushort? port = null;
        if (to is not null && to.Has("port"))
        {
            if (protocol is not (ProbeProtocol.Tcp or ProbeProtocol.Udp))
                to.Fail("port", $"a port only goes with protocol tcp or udp, not {IntentText.ProbeProtocol.Of(protocol)}");
            else
                port = (ushort)(to.Integer("port", true, 1, 65535, "port") ?? 0);
        }
        else if (to is not null && protocol is ProbeProtocol.Tcp or ProbeProtocol.Udp)
        {
            to.Fail("port", $"a {IntentText.ProbeProtocol.Of(protocol)} check needs a destination port");
        }
        return new CheckIntent(name, ReadEnd(from), ReadEnd(to), protocol, port, expect);
    }

    /// <summary>One end: at most one attachment point, and its address.</summary>
    private static CheckEndpoint ReadEnd(Fields? f)
    {
        if (f is null) return new CheckEndpoint(default);
        var address = f.Ipv4("address", required: true) ?? default;
        var ac = f.OptionalString("attachmentCircuit");
        var gateway = f.OptionalString("gateway");
        var tenant = f.OptionalString("tenant");
        var container = f.OptionalString("container");
        var vm = f.OptionalString("vm");
        var named = new[] { ac, gateway, container, vm }.Count(x => x is not null);
        if (named > 1)
            f.Fail("attachmentCircuit", "name one attachment point: attachmentCircuit, gateway (with tenant), container or vm");
        if (ac is not null && !IsPair(ac)) f.Fail("attachmentCircuit", $"'{ac}' is not PE/ATTACHMENT-CIRCUIT");
        if (container is not null && !IsPair(container)) f.Fail("container", $"'{container}' is not HOST/CONTAINER");
        if (vm is not null && !IsPair(vm)) f.Fail("vm", $"'{vm}' is not HYPERVISOR/VM");
        if (gateway is not null && tenant is null) f.Fail("tenant", "a gateway end needs the tenant it belongs to");
        if (tenant is not null && gateway is null) f.Fail("tenant", "tenant only goes with gateway");
        return new CheckEndpoint(address, ac, gateway, tenant, container, vm);
    }

    private static bool IsPair(string text)
    {
        var slash = text.IndexOf('/');
        return slash > 0 && slash < text.Length - 1 && text.IndexOf('/', slash + 1) < 0;
    }
}
