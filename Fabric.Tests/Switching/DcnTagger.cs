using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Tests.DataPlane.Io;

namespace Fabric.Tests.Switching;

/// <summary>
/// A container DCN built from namespaces, for real traffic through an MFE. This machine's
/// kernel has no 802.1Q module, so the DCN's own switch (what tags a container's frames on their
/// way to the VNIC) is emulated in user space here, outside the product:
/// <code>
///  container ns (TAP c, untagged)  ──┐                 DCN namespace
///  container ns (TAP c, untagged)  ──┤ tagger threads ── trunk TAP ── br0 ── VNIC TAP (the MFE's port)
/// </code>
/// The bridge learns nothing (see below) and simply joins its two ports.
/// Each container is a real namespace whose interface is a TAP held by the tagger: what the
/// container sends gets its local tag and goes into the trunk TAP; what arrives from the trunk
/// with a container's tag loses it and goes to that container. The DCN namespace's Linux bridge
/// joins the trunk to the MFE's VNIC TAP (a bridge without VLAN filtering carries the tags as
/// they are). Everything is removed on dispose.
/// </summary>
internal sealed class DcnTagger : IDisposable
{
    private readonly PacketBatchPool _pool = new(maxRetained: 32);
    private readonly TapPort _trunk;
    private readonly Lock _trunkSend = new();
    private readonly Dictionary<ushort, (TapPort Tap, Lock Send)> _byTag = new();
    private readonly List<TestNamespace> _namespaces = [];
    private long _untaggedFromMfe;
    private long _unknownTagFromMfe;

    /// <param name="vnicTap">The MFE's VNIC TAP (already created by the MFE): moved into the DCN namespace.</param>
    /// <param name="name">A short unique prefix for the devices (at most 9 characters).</param>
    public DcnTagger(string vnicTap, string name, IEnumerable<Container> containers)
    {
        Dcn = new TestNamespace("mfe-dcn");
        _namespaces.Add(Dcn);
        _trunk = TapPort.Open($"{name}t", 1);
        HostTools.Ip($"link set {_trunk.InterfaceName} netns {Dcn.Name}");
        HostTools.Ip($"link set {vnicTap} netns {Dcn.Name}");
        Dcn.Exec("sysctl", "-qw net.ipv6.conf.all.disable_ipv6=1");
        Dcn.Exec("sysctl", "-qw net.ipv6.conf.default.disable_ipv6=1");
        Dcn.Ip("link add br0 type bridge");
        Dcn.Ip("link set br0 multicast off");
        // Learning off: the MFE hairpins frames between two containers of this DCN back out of
        // the VNIC, with MACs the bridge would otherwise have learnt behind the VNIC itself (and a
        // bridge never sends a frame back out of the port it came in on). Two ports: flood.
        foreach (var port in new[] { _trunk.InterfaceName, vnicTap })
        {
            Dcn.Ip($"link set {port} master br0");
            Dcn.Ip($"link set {port} type bridge_slave learning off");
            Dcn.Ip($"link set {port} up");
        }

        Dcn.Ip("link set br0 up");

        ushort id = 2;
        foreach (var c in containers)
        {
            Add(c, $"{name}{id}", id);
            id++;
        }

        _trunk.StartReceiving(_pool, FromTrunk);
    }

    public sealed record Container(string Name, ushort Tag, string Mac, string Address);

    public TestNamespace Dcn { get; }

    public Dictionary<string, TestNamespace> Containers { get; } = new();

    /// <summary>Tagged frames from the VNIC side whose tag no container here has.</summary>
    public long UnknownTags => Interlocked.Read(ref _unknownTagFromMfe);

    /// <summary>Untagged frames from the VNIC side (the DCN bridge's own IGMP reports, for one: the MFE sends none).</summary>
    public long Untagged => Interlocked.Read(ref _untaggedFromMfe);

    /// <summary>Adds a container namespace behind the tagger (a container started in the DCN).</summary>
    public void Add(Container c, string tapName, ushort id)
    {
        var ns = new TestNamespace("mfe-" + c.Name);
        _namespaces.Add(ns);
        var tap = TapPort.Open(tapName, id);
        HostTools.Ip($"link set {tap.InterfaceName} netns {ns.Name}");
        ns.Exec("sysctl", "-qw net.ipv6.conf.all.disable_ipv6=1");
        ns.Exec("sysctl", "-qw net.ipv6.conf.default.disable_ipv6=1");
        ns.Ip($"link set {tap.InterfaceName} address {c.Mac}");
        ns.Ip($"addr add {c.Address} dev {tap.InterfaceName}");
        ns.Ip($"link set {tap.InterfaceName} up");
        ns.Ip("link set lo up");
        var send = new Lock();
        lock (_byTag)
        {
            _byTag[c.Tag] = (tap, send);
        }

        Containers[c.Name] = ns;
        var tag = new VlanId(c.Tag);
        tap.StartReceiving(_pool, batch => FromContainer(batch, tag));
    }

    private void FromContainer(PacketBatch batch, VlanId tag)
    {
        var tagged = _pool.Rent();
        try
        {
            for (int i = 0; i < batch.Count; i++)
            {
                if (VlanTagging.TryCopyTagged(batch.Frame(i), tag, tagged.NextFrameRoom(), out int length))
                {
                    tagged.Commit(length);
                }
            }

            lock (_trunkSend)
            {
                _trunk.SendBatch(tagged);
            }
        }
        finally
        {
            tagged.Return();
            batch.Return();
        }
    }

    private void FromTrunk(PacketBatch batch)
    {
        var untagged = _pool.Rent();
        try
        {
            for (int i = 0; i < batch.Count; i++)
            {
                var frame = batch.Frame(i);
                if (Frames.TagOf(frame.ToArray()) is not { } tag)
                {
                    Interlocked.Increment(ref _untaggedFromMfe);
                    continue;
                }

                (TapPort Tap, Lock Send) to;
                lock (_byTag)
                {
                    if (!_byTag.TryGetValue((ushort)tag, out to))
                    {
                        Interlocked.Increment(ref _unknownTagFromMfe);
                        continue;
                    }
                }

                untagged.Clear();
                if (VlanTagging.TryCopyUntagged(frame, new VlanId(tag), untagged.NextFrameRoom(), out int length))
                {
                    untagged.Commit(length);
                    lock (to.Send)
                    {
                        to.Tap.SendBatch(untagged);
                    }
                }
            }
        }
        finally
        {
            untagged.Return();
            batch.Return();
        }
    }

    public void Dispose()
    {
        _trunk.Dispose();
        lock (_byTag)
        {
            foreach (var (tap, _) in _byTag.Values)
            {
                tap.Dispose();
            }
        }

        foreach (var ns in _namespaces)
        {
            ns.Dispose();
        }
    }
}
