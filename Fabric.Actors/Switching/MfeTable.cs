using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.Switching;

/// <summary>
/// One MFE's forwarding state at one moment, immutable: per VNIC the container behind each local
/// tag, every known container (local or on another host) by MAC, and every known address per
/// logical switch for answering ARP, and the gateways' router ports on its switches (by switch
/// and MAC: one gateway has one MAC on every tenant's switch). The MFE actor builds a new table on every change and swaps
/// it in; a data-path thread reads the current table once per batch, so a batch never sees two.
/// Nothing is learned from traffic: the intent names every MAC and address.
/// </summary>
public sealed class MfeTable
{
    public static readonly MfeTable Empty = new(0, [], new(), new(), new(), [], 0, []);

    private readonly VnicEntry[] _vnics;
    private readonly RouterEntry[] _routers;

    private MfeTable(
        long generation,
        VnicEntry[] vnics,
        Dictionary<ulong, Target> byMac,
        Dictionary<ulong, MacAddress> arp,
        HashSet<uint> switches,
        LocalEntry[] locals,
        int remotes,
        RouterEntry[] routers)
    {
        _routers = routers;
        Generation = generation;
        _vnics = vnics;
        ByMac = byMac;
        Arp = arp;
        Switches = switches;
        Locals = locals;
        Remotes = remotes;
    }

    /// <summary>Increases with every table the MFE builds.</summary>
    public long Generation { get; }

    /// <summary>The containers forwarding now (port and VNIC up), sorted by name.</summary>
    public IReadOnlyList<LocalEntry> Locals { get; }

    /// <summary>Containers of this host's tenants on other hosts.</summary>
    public int Remotes { get; }

    internal Dictionary<ulong, Target> ByMac { get; }

    /// <summary>(switch &lt;&lt; 32 | address) → MAC.</summary>
    internal Dictionary<ulong, MacAddress> Arp { get; }

    /// <summary>The logical switches (VNIs) with a local container.</summary>
    internal HashSet<uint> Switches { get; }

    /// <summary>The local tags of <paramref name="vnic"/> (index = VLAN id), or null when the table does not know it.</summary>
    internal LocalEntry?[]? TagsOf(DcnVnic vnic)
    {
        foreach (var entry in _vnics)
        {
            if (ReferenceEquals(entry.Vnic, vnic))
            {
                return entry.ByTag;
            }
        }

        return null;
    }

    /// <summary>The router port with <paramref name="mac"/> on logical switch <paramref name="switch"/>, or null (a short scan: a switch has one router).</summary>
    internal RouterEntry? Router(uint @switch, MacAddress mac)
    {
        foreach (var r in _routers)
        {
            if (r.Switch == @switch && r.Mac == mac)
            {
                return r;
            }
        }

        return null;
    }

    /// <summary>The router ports in the table (local and on other nodes).</summary>
    public IReadOnlyList<RouterEntry> Routers => _routers;

    internal static ulong ArpKey(uint @switch, Ipv4Address address) => ((ulong)@switch << 32) | address.ToUInt32();

    /// <summary>
    /// The table for <paramref name="spec"/> given the VNICs and container ports that are up: a
    /// container forwards once both its port and its DCN's VNIC are; a local router port once
    /// its <see cref="RouterPort"/> is in <paramref name="routerPorts"/> (by link name).
    /// </summary>
    public static MfeTable Build(
        MfeSpec spec, IReadOnlyDictionary<string, DcnVnic> vnics, IReadOnlyDictionary<string, ContainerPort> ports, long generation,
        IReadOnlyDictionary<string, RouterPort>? routerPorts = null)
    {
        var byTag = new Dictionary<DcnVnic, LocalEntry?[]>();
        var byMac = new Dictionary<ulong, Target>();
        var arp = new Dictionary<ulong, MacAddress>();
        var switches = new HashSet<uint>();
        var locals = new List<LocalEntry>();
        foreach (var c in spec.Containers)
        {
            if (!vnics.TryGetValue(c.Dcn, out var vnic) || !ports.TryGetValue(c.Name, out var port))
            {
                continue;
            }

            var local = new LocalEntry(port, vnic, c.Tag, c.Mac, c.Ip, c.Vni, PortAcl.Compile(c.Ingress), PortAcl.Compile(c.Egress));
            if (!byTag.TryGetValue(vnic, out var tags))
            {
                byTag[vnic] = tags = new LocalEntry?[VlanId.MaxValue + 1];
            }

            tags[c.Tag.Value] = local;
            byMac[c.Mac.ToUInt64()] = new Target(c.Vni, local, default);
            arp[ArpKey(c.Vni, c.Ip)] = c.Mac;
            switches.Add(c.Vni);
            locals.Add(local);
        }

        int remotes = 0;
        foreach (var r in spec.Remotes)
        {
            byMac.TryAdd(r.Mac.ToUInt64(), new Target(r.Vni, null, r.Remote));
            arp.TryAdd(ArpKey(r.Vni, r.Ip), r.Mac);
            remotes++;
        }

        var routers = new List<RouterEntry>();
        foreach (var r in spec.RouterPorts)
        {
            RouterPort? port = null;
            if (r.IsLocal && (routerPorts is null || !routerPorts.TryGetValue(r.Link, out port)))
            {
                continue;
            }

            routers.Add(new RouterEntry(r.Vni, r.Mac, port, r.Remote ?? default));
            foreach (var address in r.Addresses)
            {
                arp.TryAdd(ArpKey(r.Vni, address), r.Mac);
            }

            if (port is not null)
            {
                switches.Add(r.Vni);
            }
        }

        // A VNIC up without containers still has a (empty) tag table: its frames are unknown-tag, not not-ready.
        foreach (var vnic in vnics.Values)
        {
            byTag.TryAdd(vnic, new LocalEntry?[VlanId.MaxValue + 1]);
        }

        return new MfeTable(
            generation,
            [.. byTag.Select(kv => new VnicEntry(kv.Key, kv.Value))],
            byMac,
            arp,
            switches,
            [.. locals],
            remotes,
            [.. routers]);
    }

    private sealed record VnicEntry(DcnVnic Vnic, LocalEntry?[] ByTag);
}

/// <summary>A container forwarding on this MFE, as one table sees it.</summary>
public sealed record LocalEntry(
    ContainerPort Port,
    DcnVnic Vnic,
    VlanId Tag,
    MacAddress Mac,
    Ipv4Address Ip,
    uint Switch,
    PortAcl? Ingress,
    PortAcl? Egress);

/// <summary>A router port on logical switch <see cref="Switch"/>: carried here (<see cref="Local"/>) or on another node's underlay.</summary>
public sealed record RouterEntry(uint Switch, MacAddress Mac, RouterPort? Local, UnderlayEndpoint Remote);

/// <summary>Where a MAC is: a local container, or a node's underlay; on logical switch <see cref="Switch"/>.</summary>
internal sealed record Target(uint Switch, LocalEntry? Local, UnderlayEndpoint Remote);
