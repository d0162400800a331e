using System.Buffers;
using System.Collections.Immutable;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Fabric.Messages.Intent.Parsing;

namespace Fabric.Messages.Intent;

/// <summary>
/// The canonical text of an intent: indented camelCase JSON, fields in schema order, every
/// default written out, optional values omitted when absent, and elements whose order carries
/// no meaning (everything with a name, gateway tenants, node roles) sorted. Routes, NAT rules,
/// firewall rules, networks, SNAT pools and trunk members keep their order. Two documents mean
/// the same when their canonical texts are equal; the text parses back to itself.
/// </summary>
public static class IntentJson
{
    private static readonly JsonWriterOptions Options = new()
    {
        Indented = true,
        IndentSize = 2,
        NewLine = "\n",
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static string Write(IntentDocument document)
    {
        ArgumentNullException.ThrowIfNull(document);
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, Options))
        {
            w.WriteStartObject();
            w.WriteNumber("version", document.Version);
            if (document.BaseVersion is { } baseVersion) w.WriteNumber("baseVersion", baseVersion);
            Array(w, "nodes", ByName(document.Nodes, n => n.Name), WriteNode);
            Array(w, "tenants", ByName(document.Tenants, t => t.Name), (w, t) =>
            {
                w.WriteString("name", t.Name);
                w.WriteNumber("vni", t.Vni);
            });
            Array(w, "pes", ByName(document.Pes, p => p.Name), WritePe);
            Array(w, "pws", ByName(document.Pws, p => p.Name), WritePw);
            Array(w, "trunks", ByName(document.Trunks, t => t.Name), WriteTrunk);
            Array(w, "gateways", ByName(document.Gateways, g => g.Name), WriteGateway);
            Array(w, "hosts", ByName(document.Hosts, h => h.Name), WriteHost);
            Array(w, "hypervisors", ByName(document.Hypervisors, h => h.Name), WriteHypervisor);
            // Written only when present, so documents without checks keep their canonical text.
            if (!document.Checks.IsDefaultOrEmpty) Array(w, "checks", ByName(document.Checks, c => c.Name), WriteCheck);
            if (!document.Lab.IsDefaultOrEmpty)
                Array(w, "lab", ByName(document.Lab, l => l.Port), WriteLab);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>
    /// Each element's canonical text, keyed <c>KIND:NAME</c> (<c>node</c>, <c>tenant</c>, <c>pe</c>,
    /// <c>pw</c>, <c>trunk</c>, <c>gateway</c>, <c>host</c>, <c>hypervisor</c>, <c>check</c>, <c>lab</c>):
    /// the same writers as <see cref="Write"/>, so two documents' elements are equal exactly when
    /// these texts are. What a change touches is the keys whose texts differ.
    /// </summary>
    public static Dictionary<string, string> Elements(IntentDocument document)
    {
        ArgumentNullException.ThrowIfNull(document);
        var texts = new Dictionary<string, string>(StringComparer.Ordinal);
        var buffer = new ArrayBufferWriter<byte>(1024);
        void Add<T>(string kind, ImmutableArray<T> items, Func<T, string> name, Action<Utf8JsonWriter, T> write)
        {
            if (items.IsDefault) return;
            foreach (var item in items)
            {
                buffer.ResetWrittenCount();
                using (var w = new Utf8JsonWriter(buffer, Options))
                {
                    w.WriteStartObject();
                    write(w, item);
                    w.WriteEndObject();
                }
                texts[$"{kind}:{name(item)}"] = Encoding.UTF8.GetString(buffer.WrittenSpan);
            }
        }
        Add("node", document.Nodes, n => n.Name, WriteNode);
        Add("tenant", document.Tenants, t => t.Name, (w, t) =>
        {
            w.WriteString("name", t.Name);
            w.WriteNumber("vni", t.Vni);
        });
        Add("pe", document.Pes, p => p.Name, WritePe);
        Add("pw", document.Pws, p => p.Name, WritePw);
        Add("trunk", document.Trunks, t => t.Name, WriteTrunk);
        Add("gateway", document.Gateways, g => g.Name, WriteGateway);
        Add("host", document.Hosts, h => h.Name, WriteHost);
        Add("hypervisor", document.Hypervisors, h => h.Name, WriteHypervisor);
        Add("check", document.Checks, c => c.Name, WriteCheck);
        Add("lab", document.Lab, l => l.Port, WriteLab);
        return texts;
    }

    private static void WriteLab(Utf8JsonWriter w, LabAttachmentIntent lab)
    {
        w.WriteString("port", lab.Port);
        w.WriteString("address", lab.Address.ToString());
        if (lab.Gateway is { } gateway) w.WriteString("gateway", gateway.ToString());
    }

    private static void WriteNode(Utf8JsonWriter w, NodeIntent node)
    {
        w.WriteString("name", node.Name);
        if (node.Address is { } address) w.WriteString("address", address.ToString());
        if (node.Description is { } description) w.WriteString("description", description);
        w.WriteStartArray("roles");
        foreach (var role in node.Roles.Distinct().Order()) w.WriteStringValue(IntentText.Role.Of(role));
        w.WriteEndArray();
    }

    private static void WriteCheck(Utf8JsonWriter w, CheckIntent check)
    {
        w.WriteString("name", check.Name);
        w.WriteStartObject("from");
        WriteEnd(w, check.From);
        w.WriteEndObject();
        w.WriteStartObject("to");
        WriteEnd(w, check.To);
        w.WriteString("protocol", IntentText.ProbeProtocol.Of(check.Protocol));
        if (check.Port is { } port) w.WriteNumber("port", port);
        w.WriteEndObject();
        w.WriteString("expect", IntentText.Expect.Of(check.Expect));
    }

    private static void WriteEnd(Utf8JsonWriter w, CheckEndpoint end)
    {
        if (end.AttachmentCircuit is { } ac) w.WriteString("attachmentCircuit", ac);
        if (end.Gateway is { } g) w.WriteString("gateway", g);
        if (end.Tenant is { } t) w.WriteString("tenant", t);
        if (end.Container is { } c) w.WriteString("container", c);
        if (end.Vm is { } v) w.WriteString("vm", v);
        w.WriteString("address", end.Address.ToString());
    }

    private static void WritePe(Utf8JsonWriter w, PeIntent pe)
    {
        w.WriteString("name", pe.Name);
        w.WriteString("node", pe.Node);
        w.WriteString("routerId", pe.RouterId.ToString());
        Array(w, "attachmentCircuits", ByName(pe.AttachmentCircuits, a => a.Name), (w, ac) =>
        {
            w.WriteString("name", ac.Name);
            WritePort(w, ac.Port);
            if (ac.Vlan is { } vlan) w.WriteNumber("vlan", vlan);
        });
    }

    private static void WritePort(Utf8JsonWriter w, PortRef port)
    {
        w.WriteStartObject("port");
        w.WriteString("kind", IntentText.PortKind.Of(port.Kind));
        w.WriteString("name", port.Name);
        if (port.Segment is { } segment) w.WriteString("segment", segment);
        if (port.Traffic is { } traffic) w.WriteNumber("traffic", traffic);
        if (port.Namespace is { } netns) w.WriteString("namespace", netns);
        w.WriteEndObject();
    }

    private static void WritePw(Utf8JsonWriter w, PwIntent pw)
    {
        w.WriteString("name", pw.Name);
        w.WriteString("pe", pw.Pe);
        w.WriteString("remotePe", pw.RemotePe);
        w.WriteNumber("localLabel", pw.LocalLabel);
        w.WriteNumber("remoteLabel", pw.RemoteLabel);
        w.WriteBoolean("controlWord", pw.ControlWord);
        w.WriteBoolean("flowLabel", pw.FlowLabel);
        w.WriteNumber("weight", pw.Weight);
        if (pw.Mtu is { } mtu) w.WriteNumber("mtu", mtu);
    }

    private static void WriteTrunk(Utf8JsonWriter w, TrunkIntent trunk)
    {
        w.WriteString("name", trunk.Name);
        w.WriteString("pe", trunk.Pe);
        w.WriteString("attachmentCircuit", trunk.AttachmentCircuit);
        Strings(w, "members", trunk.Members);
        w.WriteString("mode", IntentText.TrunkMode.Of(trunk.Mode));
        w.WriteNumber("minActive", trunk.MinActive);
        w.WriteNumber("helloIntervalMs", trunk.HelloIntervalMs);
        w.WriteNumber("multiplier", trunk.Multiplier);
        if (trunk.Balance is { } balance) w.WriteString("balance", IntentText.TrunkBalance.Of(balance));
    }

    private static void WriteGateway(Utf8JsonWriter w, GatewayIntent gateway)
    {
        w.WriteString("name", gateway.Name);
        w.WriteString("node", gateway.Node);
        if (gateway.Mac is { } mac) w.WriteString("mac", mac.ToString());
        Array(w, "tenants", ByName(gateway.Tenants, t => t.Tenant), WriteGatewayTenant);
    }

    private static void WriteGatewayTenant(Utf8JsonWriter w, GatewayTenantIntent tenant)
    {
        w.WriteString("tenant", tenant.Tenant);
        Strings(w, "networks", tenant.Networks.Select(n => n.ToString()));
        Array(w, "routes", tenant.Routes, (w, r) =>
        {
            w.WriteString("prefix", r.Prefix.ToString());
            w.WriteString("nextHop", r.NextHop.ToString());
        });
        if (tenant.Downlink is { } downlink)
        {
            w.WriteStartObject("downlink");
            w.WriteString("kind", IntentText.PortKind.Of(downlink.Kind));
            w.WriteString("name", downlink.Name);
            if (downlink.Segment is { } segment) w.WriteString("segment", segment);
            if (downlink.Traffic is { } traffic) w.WriteNumber("traffic", traffic);
            if (downlink.Namespace is { } netns) w.WriteString("namespace", netns);
            if (tenant.DownlinkMtu is { } downlinkMtu) w.WriteNumber("mtu", downlinkMtu);
            w.WriteEndObject();
        }
        if (tenant.Uplink is { } uplink)
        {
            w.WriteStartObject("uplink");
            WritePort(w, uplink.Port);
            w.WriteString("address", uplink.Address.ToString());
            if (uplink.Vlan is { } vlan) w.WriteNumber("vlan", vlan);
            if (uplink.Mtu is { } mtu) w.WriteNumber("mtu", mtu);
            w.WriteEndObject();
        }
        Strings(w, "snatPool", tenant.SnatPool.Select(p => p.ToString()));
        Array(w, "dnat", tenant.Dnat, (w, d) =>
        {
            w.WriteString("protocol", IntentText.DnatProtocol.Of(d.Protocol));
            w.WriteNumber("externalPort", d.ExternalPort);
            w.WriteString("internalAddress", d.InternalAddress.ToString());
            w.WriteNumber("internalPort", d.InternalPort);
        });
        if (tenant.Firewall is { } firewall)
        {
            w.WriteStartObject("firewall");
            w.WriteString("defaultPolicy", IntentText.Policy.Of(firewall.DefaultPolicy));
            Array(w, "rules", firewall.Rules, WriteRule);
            w.WriteEndObject();
        }
    }

    private static void WriteRule(Utf8JsonWriter w, FirewallRuleIntent rule)
    {
        w.WriteString("name", rule.Name);
        w.WriteString("action", IntentText.Action.Of(rule.Action));
        w.WriteString("protocol", IntentText.RuleProtocol.Of(rule.Protocol));
        w.WriteString("source", rule.Source.ToString());
        w.WriteString("destination", rule.Destination.ToString());
        if (rule.Ports is { } ports) w.WriteString("ports", ports.ToString());
    }

    private static void WriteHost(Utf8JsonWriter w, HostIntent host)
    {
        w.WriteString("name", host.Name);
        w.WriteString("node", host.Node);
        w.WriteStartObject("mfe");
        w.WriteString("name", host.Mfe.Name);
        w.WriteEndObject();
        Array(w, "containerDcns", ByName(host.ContainerDcns, d => d.Name), (w, d) =>
        {
            w.WriteString("name", d.Name);
            w.WriteString("vnicMac", d.VnicMac.ToString());
            WritePort(w, d.VnicPort);
        });
        Array(w, "containers", ByName(host.Containers, c => c.Name), (w, c) =>
        {
            w.WriteString("name", c.Name);
            w.WriteString("dcn", c.Dcn);
            w.WriteNumber("localTag", c.LocalTag);
            w.WriteString("mac", c.Mac.ToString());
            w.WriteString("ip", c.Ip.ToString());
            if (c.Tenant is { } tenant) w.WriteString("tenant", tenant);
            if (c.Ingress is { } ingress) WriteAcl(w, "ingress", ingress);
            if (c.Egress is { } egress) WriteAcl(w, "egress", egress);
            if (c.Capture is { } capture) w.WriteString("capture", capture);
        });
    }

    private static void WriteAcl(Utf8JsonWriter w, string property, FirewallIntent acl)
    {
        w.WriteStartObject(property);
        w.WriteString("defaultPolicy", IntentText.Policy.Of(acl.DefaultPolicy));
        Array(w, "rules", acl.Rules, WriteRule);
        w.WriteEndObject();
    }

    private static void WriteHypervisor(Utf8JsonWriter w, HypervisorIntent hypervisor)
    {
        w.WriteString("name", hypervisor.Name);
        w.WriteString("node", hypervisor.Node);
        Array(w, "modems", ByName(hypervisor.Modems, m => m.Name), (w, m) =>
        {
            w.WriteString("name", m.Name);
            w.WriteString("device", m.Device);
            w.WriteString("apn", m.Apn);
        });
        w.WriteStartObject("bridge");
        w.WriteString("name", hypervisor.Bridge.Name);
        w.WriteString("mac", hypervisor.Bridge.Mac.ToString());
        w.WriteEndObject();
        Array(w, "vms", ByName(hypervisor.Vms, v => v.Name), (w, v) =>
        {
            w.WriteString("name", v.Name);
            w.WriteString("mac", v.Mac.ToString());
            WritePort(w, v.Port);
            w.WriteString("modem", v.Modem);
            w.WriteString("mode", IntentText.VmMode.Of(v.Mode));
        });
    }

    private static IEnumerable<T> ByName<T>(ImmutableArray<T> items, Func<T, string> name) =>
        items.IsDefault ? [] : items.OrderBy(name, StringComparer.Ordinal);

    private static void Array<T>(Utf8JsonWriter w, string property, IEnumerable<T> items, Action<Utf8JsonWriter, T> write)
    {
        w.WriteStartArray(property);
        foreach (var item in items)
        {
            w.WriteStartObject();
            write(w, item);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    private static void Array<T>(Utf8JsonWriter w, string property, ImmutableArray<T> items, Action<Utf8JsonWriter, T> write) =>
        Array(w, property, items.IsDefault ? [] : (IEnumerable<T>)items, write);

    private static void Strings(Utf8JsonWriter w, string property, IEnumerable<string> values)
    {
        w.WriteStartArray(property);
        foreach (var value in values) w.WriteStringValue(value);
        w.WriteEndArray();
    }
}
