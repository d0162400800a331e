using System.Collections.Immutable;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.Gateway;

/// <summary>
/// Deterministic source NAT (RFC 7422): every inside address owns a fixed block of external
/// ports on one pool address, computed from its index among the tenant's inside addresses, so
/// (pool address, external port) names its inside address with no state at all. The port inside
/// the block is a hash of (inside port, protocol), probed linearly past ports in use; a flow
/// that was alone in its block therefore gets the same external port again on any node after
/// its flow-cache shard moved, without a journal. Ports 0..1023 are never handed out.
/// </summary>
public sealed class SnatPlan
{
    public const int FirstPort = 1024;
    public const int PortsPerAddress = 65536 - FirstPort;
    /// <summary>Largest block per inside address (RFC 7422 sizes blocks to the pool; we cap them).</summary>
    public const int MaxBlockSize = 4096;

    private readonly ImmutableArray<(Ipv4Address Network, int Size)> _inside;
    private readonly Ipv4Address[] _pool;

    private SnatPlan(ImmutableArray<(Ipv4Address, int)> inside, Ipv4Address[] pool, long insideCount)
    {
        _inside = inside;
        _pool = pool;
        InsideCount = insideCount;
        var total = (long)pool.Length * PortsPerAddress;
        BlockSize = insideCount == 0 ? 0 : (int)Math.Min(MaxBlockSize, total / insideCount);
        BlocksPerAddress = BlockSize == 0 ? 0 : PortsPerAddress / BlockSize;
    }

    public long InsideCount { get; }
    public int BlockSize { get; }
    public int BlocksPerAddress { get; }
    public IReadOnlyList<Ipv4Address> Pool => _pool;
    /// <summary>False when the pool is too small to give every inside address at least one port.</summary>
    public bool IsUsable => BlockSize > 0;

    public static SnatPlan Create(IEnumerable<(Ipv4Address Address, int PrefixLength)> insideNetworks, IEnumerable<(Ipv4Address Address, int PrefixLength)> pool)
    {
        var inside = insideNetworks
            .Select(n => (Network: new Ipv4Address(n.Address.ToUInt32() & Ipv4Address.MaskOf(n.PrefixLength).ToUInt32()), Size: 1 << (32 - Math.Max(n.PrefixLength, 8))))
            .ToImmutableArray();
        var addresses = new List<Ipv4Address>();
        foreach (var (a, p) in pool)
        {
            var count = 1u << (32 - Math.Max(p, 24)); // at most 256 addresses per pool entry
            var first = a.ToUInt32() & Ipv4Address.MaskOf(p).ToUInt32();
            for (var i = 0u; i < count; i++) addresses.Add(new Ipv4Address(first + i));
        }
        return new SnatPlan(inside, [.. addresses.Distinct()], inside.Sum(n => (long)n.Size));
    }

    /// <summary>Index of <paramref name="address"/> in the pool, or -1.</summary>
    public int PoolIndex(Ipv4Address address)
    {
        for (var i = 0; i < _pool.Length; i++)
        {
            if (_pool[i] == address) return i;
        }
        return -1;
    }

    /// <summary>The block of <paramref name="inside"/>: pool address and first port; false if it is not an inside address.</summary>
    public bool TryBlock(Ipv4Address inside, out Ipv4Address poolAddress, out ushort firstPort)
    {
        poolAddress = default;
        firstPort = 0;
        if (!IsUsable) return false;
        long index = 0;
        foreach (var (network, size) in _inside)
        {
            var offset = (long)inside.ToUInt32() - network.ToUInt32();
            if (offset >= 0 && offset < size)
            {
                index += offset;
                poolAddress = _pool[index / BlocksPerAddress];
                firstPort = (ushort)(FirstPort + index % BlocksPerAddress * BlockSize);
                return true;
            }
            index += size;
        }
        return false;
    }

    /// <summary>The inside address owning external (<paramref name="poolAddress"/>, <paramref name="port"/>); the reverse of <see cref="TryBlock"/>.</summary>
    public bool TryInsideOf(Ipv4Address poolAddress, ushort port, out Ipv4Address inside)
    {
        inside = default;
        var p = PoolIndex(poolAddress);
        if (p < 0 || !IsUsable || port < FirstPort) return false;
        var blockInAddress = (port - FirstPort) / BlockSize;
        if (blockInAddress >= BlocksPerAddress) return false;
        var index = (long)p * BlocksPerAddress + blockInAddress;
        foreach (var (network, size) in _inside)
        {
            if (index < size)
            {
                inside = new Ipv4Address(network.ToUInt32() + (uint)index);
                return true;
            }
            index -= size;
        }
        return false;
    }

    /// <summary>Where the probe for a flow's external port starts inside its block (fixed for the flow).</summary>
    public int PreferredOffset(ushort insidePort, IpProtocol protocol)
    {
        var x = ((uint)insidePort << 8 | (byte)protocol) * 0x9E3779B1u;
        return (int)((x ^ (x >> 15)) % (uint)BlockSize);
    }
}

/// <summary>A NAT binding: inside endpoint ⇄ external endpoint for one protocol (endpoint-independent mapping, RFC 4787).</summary>
public readonly record struct NatBinding(uint Tenant, IpProtocol Protocol, Ipv4Address InsideAddress, ushort InsidePort, Ipv4Address ExternalAddress, ushort ExternalPort);

/// <summary>
/// The NAT bindings a flow-cache shard holds (the shard owns every inside address hashed to it,
/// hence whole port blocks: no other shard allocates in them). Plain state; the NAT stage
/// decides, this table only remembers.
/// </summary>
public sealed class NatTable
{
    private readonly Dictionary<(uint Tenant, IpProtocol Protocol, Ipv4Address Address, ushort Port), NatBinding> _byInside = [];
    private readonly Dictionary<(uint Tenant, IpProtocol Protocol, Ipv4Address Address, ushort Port), NatBinding> _byExternal = [];

    public int Count => _byInside.Count;
    public long Created { get; private set; }
    public long Exhausted { get; private set; }

    public IEnumerable<NatBinding> Bindings => _byInside.Values;

    public bool TryGetByInside(uint tenant, IpProtocol protocol, Ipv4Address address, ushort port, out NatBinding binding) =>
        _byInside.TryGetValue((tenant, protocol, address, port), out binding);

    public bool TryGetByExternal(uint tenant, IpProtocol protocol, Ipv4Address address, ushort port, out NatBinding binding) =>
        _byExternal.TryGetValue((tenant, protocol, address, port), out binding);

    /// <summary>Finds or makes the binding for an inside endpoint; false when its block is full (or it is not inside).</summary>
    public bool TryBind(SnatPlan plan, uint tenant, IpProtocol protocol, Ipv4Address inside, ushort insidePort, out NatBinding binding, out bool created)
    {
        created = false;
        if (TryGetByInside(tenant, protocol, inside, insidePort, out binding)) return true;
        if (!plan.TryBlock(inside, out var external, out var first)) return false;
        var start = plan.PreferredOffset(insidePort, protocol);
        for (var n = 0; n < plan.BlockSize; n++)
        {
            var port = (ushort)(first + (start + n) % plan.BlockSize);
            if (_byExternal.ContainsKey((tenant, protocol, external, port))) continue;
            binding = new NatBinding(tenant, protocol, inside, insidePort, external, port);
            Add(binding);
            created = true;
            Created++;
            return true;
        }
        Exhausted++;
        return false;
    }

    public void Add(in NatBinding b)
    {
        _byInside[(b.Tenant, b.Protocol, b.InsideAddress, b.InsidePort)] = b;
        _byExternal[(b.Tenant, b.Protocol, b.ExternalAddress, b.ExternalPort)] = b;
    }

    public bool Remove(in NatBinding b) =>
        _byInside.Remove((b.Tenant, b.Protocol, b.InsideAddress, b.InsidePort)) | _byExternal.Remove((b.Tenant, b.Protocol, b.ExternalAddress, b.ExternalPort));

    public void Clear()
    {
        _byInside.Clear();
        _byExternal.Clear();
    }
}
