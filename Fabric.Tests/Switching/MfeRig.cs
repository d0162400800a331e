using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Switching;
using Fabric.Messages.Intent;

namespace Fabric.Tests.Switching;

/// <summary>
/// One host's MFE data path without actors: its table built from an intent, each DCN's VNIC a
/// <see cref="FramePort"/>, and batches handed to the forwarder on the test's thread.
/// </summary>
internal sealed class MfeRig : IDisposable
{
    public const string Intent = """
        nodes:
          - { name: node-1, address: 127.0.0.1, roles: [fabric] }
          - { name: node-2, address: 127.0.0.2, roles: [fabric] }
        tenants:
          - { name: blue, vni: 1001 }
          - { name: green, vni: 1002 }
        hosts:
          - name: host-1
            node: node-1
            mfe: { name: mfe-1 }
            containerDcns:
              - { name: dcn-1, vnicMac: 02:00:00:00:10:01 }
              - { name: dcn-2, vnicMac: 02:00:00:00:10:02 }
            containers:
              - name: web
                dcn: dcn-1
                localTag: 101
                mac: 02:00:00:00:11:01
                ip: 10.1.0.10
                tenant: blue
                egress: { defaultPolicy: allow, rules: [ { name: no-telnet, action: deny, protocol: tcp, ports: 23 } ] }
              - name: db
                dcn: dcn-1
                localTag: 102
                mac: 02:00:00:00:11:02
                ip: 10.1.0.11
                tenant: blue
                ingress: { defaultPolicy: deny, rules: [ { name: from-web, action: allow, source: 10.1.0.10/32 } ] }
              - { name: cache, dcn: dcn-2, localTag: 101, mac: 02:00:00:00:11:03, ip: 10.1.0.12, tenant: blue }
              - { name: other, dcn: dcn-2, localTag: 200, mac: 02:00:00:00:11:04, ip: 10.2.0.10, tenant: green }
          - name: host-2
            node: node-2
            mfe: { name: mfe-2 }
            containerDcns:
              - { name: dcn-9, vnicMac: 02:00:00:00:10:09 }
            containers:
              - { name: api, dcn: dcn-9, localTag: 301, mac: 02:00:00:00:12:01, ip: 10.1.0.20, tenant: blue }
        """;

    public static readonly IntentDocument Document = IntentParser.Parse(Intent).Document
        ?? throw new InvalidOperationException(string.Join("; ", IntentParser.Parse(Intent).Errors));

    private readonly PacketBatchPool _pool = new(maxRetained: 16);

    public MfeRig(string host = "host-1", bool ghost = false, ushort genevePort = UdpPorts.Geneve, IntentDocument? intent = null)
    {
        intent ??= Document;
        Spec = MfeElementKind.Spec(intent, intent.Hosts.First(h => h.Name == host), genevePort);
        Datapath = new MfeDatapath(host, _pool, ghost);
        ushort id = 1;
        foreach (var dcn in Spec.Dcns)
        {
            var port = new FramePort(dcn.Port.Name, id++);
            Wires[dcn.Name] = port;
            Vnics[dcn.Name] = new DcnVnic(dcn, port, Datapath);
        }

        foreach (var c in Spec.Containers)
        {
            Ports[c.Name] = new ContainerPort(c, null);
        }

        Rebuild();
    }

    public MfeSpec Spec { get; }
    public MfeDatapath Datapath { get; }
    public Dictionary<string, FramePort> Wires { get; } = new();
    public Dictionary<string, DcnVnic> Vnics { get; } = new();
    public Dictionary<string, ContainerPort> Ports { get; } = new();

    public void Rebuild() => Datapath.Table = MfeTable.Build(Spec, Vnics, Ports, Datapath.Table.Generation + 1);

    public ContainerSpec Container(string name) => Spec.Containers.First(c => c.Name == name);

    /// <summary>Hands <paramref name="frames"/> to the forwarder as one batch read from DCN <paramref name="dcn"/>'s VNIC.</summary>
    public void FromDcn(string dcn, params byte[][] frames)
    {
        var batch = _pool.Rent();
        foreach (var f in frames)
        {
            Assert.True(batch.TryAppend(f));
        }

        Vnics[dcn].Forwarder.FromVnic(Vnics[dcn], Datapath.Table, batch);
    }

    public List<byte[]> SentTo(string dcn) => Wires[dcn].TakeSent();

    /// <summary>A UDP (or TCP) frame from container <paramref name="from"/> to <paramref name="to"/>'s MAC and address, tagged with <paramref name="from"/>'s tag.</summary>
    public byte[] Frame(string from, MacAddress toMac, Ipv4Address toIp, ushort port = 5001, IpProtocol protocol = IpProtocol.Udp, int length = 98, VlanId? tag = null)
    {
        var c = Container(from);
        return Frames.Tagged(c.Mac, c.Ip, toMac, toIp, tag ?? c.Tag, port, protocol, length);
    }

    public byte[] Frame(string from, string to, ushort port = 5001, IpProtocol protocol = IpProtocol.Udp, int length = 98)
    {
        var (mac, ip) = Address(to);
        return Frame(from, mac, ip, port, protocol, length);
    }

    public (MacAddress Mac, Ipv4Address Ip) Address(string container)
    {
        var c = Document.Hosts.SelectMany(h => h.Containers).First(x => x.Name == container);
        return (new MacAddress(c.Mac.Value), new Ipv4Address(c.Ip.Value));
    }

    public void Dispose()
    {
        foreach (var v in Vnics.Values)
        {
            v.Dispose();
        }
    }
}

internal static class Frames
{
    public static byte[] Untagged(MacAddress srcMac, Ipv4Address srcIp, MacAddress dstMac, Ipv4Address dstIp, ushort port = 5001, IpProtocol protocol = IpProtocol.Udp, int length = 98)
    {
        var profile = new TrafficProfile
        {
            SourceMac = srcMac, DestinationMac = dstMac, SourceAddress = srcIp, DestinationAddress = dstIp,
            DestinationPort = port, SourcePort = 40000, Protocol = protocol,
        };
        return protocol == IpProtocol.Tcp ? SimulatedPort.BuildTcpFrame(profile, 0, length) : SimulatedPort.BuildUdpFrame(profile, 0, length);
    }

    public static byte[] Tagged(MacAddress srcMac, Ipv4Address srcIp, MacAddress dstMac, Ipv4Address dstIp, VlanId tag, ushort port = 5001, IpProtocol protocol = IpProtocol.Udp, int length = 98) =>
        Tag(Untagged(srcMac, srcIp, dstMac, dstIp, port, protocol, length), tag);

    public static byte[] Tag(byte[] frame, VlanId tag)
    {
        var tagged = new byte[frame.Length + VlanLayout.TagLength];
        Assert.True(VlanTagging.TryCopyTagged(frame, tag, tagged, out _));
        return tagged;
    }

    public static byte[] ArpRequest(MacAddress srcMac, Ipv4Address srcIp, Ipv4Address target, VlanId? tag)
    {
        var buffer = new byte[128];
        Assert.True(ArpFrame.TryEmit(ArpRepr.Request(srcMac, srcIp, target), srcMac, MacAddress.Broadcast, tag, buffer, out int length));
        return buffer[..length];
    }

    /// <summary>The 802.1Q VLAN id of a frame, or null when untagged.</summary>
    public static int? TagOf(byte[] frame) =>
        (EtherType)BigEndian.U16(frame, EthernetLayout.EtherType) == EtherType.Vlan ? VlanId.FromTci(BigEndian.U16(frame, EthernetLayout.HeaderLength)).Value : null;
}
