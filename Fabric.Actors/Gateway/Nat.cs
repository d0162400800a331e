using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.Gateway;

/// <summary>A block of external ports on one pool address: <c>[FirstPort, FirstPort + size)</c>.</summary>
public readonly record struct PortBlock(Ipv4Address Address, ushort FirstPort)
{
    public override string ToString() => $"{Address}:{FirstPort}";
}

/// <summary>
/// A tenant's SNAT pool cut into port blocks (blocks as in RFC 7422, lent on demand; sizes
/// from <see cref="NatSettings"/>): every pool address carries <see cref="BlocksPerAddress"/>
/// blocks of <see cref="BlockSize"/> ports from 1024 up. Blocks are numbered address by address;
/// which host holds which block is decided at run time (<see cref="PortBlockLedger"/>,
/// <see cref="NatTable"/>), not by this plan. Immutable.
/// </summary>
public sealed class SnatPlan
{
    public const int FirstPort = 1024;
    public const int PortsPerAddress = 65536 - FirstPort;

    private readonly Ipv4Address[] _pool;
    /// <summary>Pool address to its index, for pools too large to scan (null: scan).</summary>
    private readonly Dictionary<Ipv4Address, int>? _index;

    private SnatPlan(Ipv4Address[] pool, int blockSize)
    {
        _pool = pool;
        if (pool.Length > 8) _index = pool.Select((a, i) => (a, i)).ToDictionary(x => x.a, x => x.i);
        BlockSize = blockSize;
        BlocksPerAddress = PortsPerAddress / blockSize;
        BlockCount = pool.Length * BlocksPerAddress;
    }

    public int BlockSize { get; }
    public int BlocksPerAddress { get; }
    /// <summary>Blocks in the whole pool.</summary>
    public int BlockCount { get; }
    public IReadOnlyList<Ipv4Address> Pool => _pool;
    /// <summary>False when the pool holds no block at all.</summary>
    public bool IsUsable => BlockCount > 0;

    public static SnatPlan Create(IEnumerable<(Ipv4Address Address, int PrefixLength)> pool, int blockSize)
    {
        if (blockSize is < 1 or > PortsPerAddress) throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, $"1..{PortsPerAddress}");
        var addresses = new List<Ipv4Address>();
        foreach (var (a, p) in pool)
        {
            var count = 1u << (32 - Math.Max(p, 24)); // at most 256 addresses per pool entry
            var first = a.ToUInt32() & Ipv4Address.MaskOf(p).ToUInt32();
            for (var i = 0u; i < count; i++) addresses.Add(new Ipv4Address(first + i));
        }
        return new SnatPlan([.. addresses.Distinct()], blockSize);
    }

    /// <summary>True when both plans cut the same addresses into the same blocks (so block numbers mean the same).</summary>
    public bool SameBlocks(SnatPlan other) => BlockSize == other.BlockSize && _pool.AsSpan().SequenceEqual(other._pool);

    /// <summary>Index of <paramref name="address"/> in the pool, or -1.</summary>
    public int PoolIndex(Ipv4Address address)
    {
        if (_index is not null) return _index.TryGetValue(address, out var at) ? at : -1;
        for (var i = 0; i < _pool.Length; i++)
        {
            if (_pool[i] == address) return i;
        }
        return -1;
    }

    public PortBlock Block(int index) =>
        new(_pool[index / BlocksPerAddress], (ushort)(FirstPort + index % BlocksPerAddress * BlockSize));

    /// <summary>The number of the block holding external (<paramref name="address"/>, <paramref name="port"/>); false outside the pool's blocks.</summary>
    public bool TryBlockIndex(Ipv4Address address, ushort port, out int index)
    {
        index = -1;
        var p = PoolIndex(address);
        if (p < 0 || port < FirstPort) return false;
        var inAddress = (port - FirstPort) / BlockSize;
        if (inAddress >= BlocksPerAddress) return false;
        index = p * BlocksPerAddress + inAddress;
        return true;
    }

    public bool TryBlockIndex(PortBlock block, out int index) => TryBlockIndex(block.Address, block.FirstPort, out index);

    /// <summary>The pool address a port-less protocol (GRE, ESP...) from <paramref name="inside"/> leaves with: fixed per host.</summary>
    public Ipv4Address AddressFor(Ipv4Address inside)
    {
        var x = inside.ToUInt32() * 0x9E3779B1u;
        return _pool[(int)((x ^ (x >> 16)) % (uint)_pool.Length)];
    }
}

/// <summary>
/// A NAT binding: inside endpoint ⇄ external endpoint for one protocol (endpoint-independent
/// mapping, RFC 4787 §4.1). It lives while a tracked connection uses it: <see cref="Connections"/>
/// counts them, and the last one to go releases it (<see cref="NatTable.Release"/>). Its table
/// reuses the objects of released bindings (as the connection table does its connections), so
/// churn allocates none; <see cref="Live"/> is false between a release and the next use.
/// </summary>
public sealed class NatBinding
{
    /// <summary>Made by its table only (<see cref="NatTable.TryBind"/>, <see cref="NatTable.Restore"/>), which starts each life with <see cref="Begin"/>.</summary>
    internal NatBinding()
    {
    }

    public uint Tenant { get; private set; }
    public IpProtocol Protocol { get; private set; }
    public Ipv4Address InsideAddress { get; private set; }
    public ushort InsidePort { get; private set; }
    public Ipv4Address ExternalAddress { get; private set; }
    public ushort ExternalPort { get; private set; }
    /// <summary>Tracked connections using this binding.</summary>
    public int Connections { get; internal set; }
    /// <summary>False once released: a connection that still points here must not release it twice.</summary>
    public bool Live { get; internal set; }
    /// <summary>No connection uses it, and it is kept for its inside endpoint (TCP mapping memory): its port stays reserved.</summary>
    public bool Dormant { get; internal set; }

    internal long DormantSince;
    internal NatBinding? DormantPrev;
    internal NatBinding? DormantNext;

    internal HostPorts? Host { get; private set; }
    internal HostBlock? Block { get; private set; }

    /// <summary>Starts a life (a new object, or one its table reuses).</summary>
    internal NatBinding Begin(uint tenant, IpProtocol protocol, Ipv4Address insideAddress, ushort insidePort, Ipv4Address externalAddress, ushort externalPort, HostPorts? host, HostBlock? block)
    {
        Tenant = tenant;
        Protocol = protocol;
        InsideAddress = insideAddress;
        InsidePort = insidePort;
        ExternalAddress = externalAddress;
        ExternalPort = externalPort;
        Host = host;
        Block = block;
        Connections = 0;
        Live = true;
        Dormant = false;
        DormantPrev = DormantNext = null;
        return this;
    }

    public override string ToString() => $"{Protocol} {InsideAddress}:{InsidePort} -> {ExternalAddress}:{ExternalPort} ({Connections} connections)";
}

/// <summary>Lends port blocks to a flow-cache shard synchronously (in-process gateway: the datapath's own ledger).</summary>
public interface IPortBlockLender
{
    bool TryLend(int bucket, uint tenant, out PortBlock block);

    void TakeBack(int bucket, uint tenant, PortBlock block);
}
