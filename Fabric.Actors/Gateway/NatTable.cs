using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.Gateway;

/// <summary>
/// The NAT bindings of one flow-cache shard and the port blocks behind them (port block
/// allocation per inside host, as carrier-grade NATs do, RFC 6888: a quota per subscriber, ports
/// well used, a log line per block rather than per flow; blocks as in RFC 7422, lent on demand):
/// <list type="bullet">
/// <item>a host starts with one block and takes another when every port of its blocks is bound
/// for the protocol (at most <see cref="NatSettings.MaxBlocksPerHost"/>); a block whose last
/// binding went away goes back to the shard's spares at once, and spares beyond twice
/// <see cref="NatSettings.SpareBlocks"/> (or twice the blocks hosts took between the last two
/// <see cref="Deficits"/>, when more) go back to the gateway's ledger;</item>
/// <item>inside a host's blocks the external port is chosen round-robin, one cursor per
/// protocol: a port freed a moment ago is the last one offered again (RFC 7857 §2: a reused
/// port must not meet the previous connection's state still held by the peer or a firewall);</item>
/// <item>a binding lives while a tracked connection uses it (<see cref="NatBinding.Connections"/>);
/// the connection table calls <see cref="Release"/> when the last one goes (closed and held,
/// or idle);</item>
/// <item>a released TCP binding is remembered for its inside endpoint for
/// <see cref="NatSettings.TcpMappingMemory"/> (<see cref="NatBinding.Dormant"/>): its port stays
/// reserved, and that endpoint's next connection leaves from it again. A server holds a closed
/// connection in TIME_WAIT and takes a new SYN on its 4-tuple only when the SYN is newer than the
/// old connection (timestamps, sequence numbers); a client's kernel makes them newer only for the
/// same 4-tuple of its own (its timestamp offset is drawn per 4-tuple). A port handed to another
/// endpoint within that time has about half of its SYNs answered with the old connection's ACK:
/// the client resets and retries. A host with every port bound or remembered takes another block;
/// when it can take none, the mapping remembered longest gives way (<see cref="Reclaimed"/>), so
/// memory never costs a connection.</item>
/// </list>
/// Blocks come from the spares (granted by the gateway in sharded mode, see
/// <see cref="Reconcile"/>) or from an <see cref="IPortBlockLender"/> (in-process). Plain,
/// single-threaded state; nothing here allocates per packet on a hit (hits never come here).
/// </summary>
public sealed class NatTable(NatSettings settings, int bucket = 0, IPortBlockLender? lender = null, Func<long>? clockMs = null)
{
    private readonly Func<long> _clockMs = clockMs ?? (static () => Environment.TickCount64);
    private readonly long _memoryMs = (long)settings.TcpMappingMemory.TotalMilliseconds;
    /// <summary>Hosts with remembered (dormant) bindings, for <see cref="Recycle"/>'s expiry; one with none left is dropped there.</summary>
    private readonly List<HostPorts> _dormantHosts = [];
    private int _dormant;
    private readonly Dictionary<(uint Tenant, IpProtocol Protocol, Ipv4Address Address, ushort Port), NatBinding> _byInside = [];
    private readonly Dictionary<(uint Tenant, IpProtocol Protocol, Ipv4Address Address, ushort Port), NatBinding> _byExternal = [];
    private readonly Dictionary<uint, TenantPorts> _tenants = [];
    private readonly List<(uint Tenant, PortBlock Block)> _returned = [];
    /// <summary>Objects of released bindings, ready for new ones.</summary>
    private readonly Stack<NatBinding> _free = new();
    /// <summary>Released since the last <see cref="Recycle"/>: whoever released them may still hold them until then.</summary>
    private readonly List<NatBinding> _retired = [];
    /// <summary>Spare objects kept beyond the live bindings' count.</summary>
    private const int SpareFloor = 1024;
    /// <summary>Most released bindings waiting for <see cref="Recycle"/>.</summary>
    private const int RetiredCap = 1 << 16;

    public NatTable()
        : this(NatSettings.Default)
    {
    }

    public NatSettings Settings { get; } = settings;
    /// <summary>Bindings connections use (remembered ones are not counted: <see cref="Remembered"/>).</summary>
    public int Count => _byInside.Count - _dormant;
    public long Created { get; private set; }
    public long Released { get; private set; }
    /// <summary>TCP bindings no connection uses, kept for their inside endpoint (<see cref="NatSettings.TcpMappingMemory"/>).</summary>
    public int Remembered => _dormant;
    /// <summary>Remembered bindings their inside endpoint took up again (its next connection left from the same port).</summary>
    public long Revived { get; private set; }
    /// <summary>Remembered bindings whose port went to another endpoint before their time was up (the host could take no block).</summary>
    public long Reclaimed { get; private set; }
    /// <summary>Bindings refused because the host's blocks were full and no block could be had.</summary>
    public long Exhausted { get; private set; }
    public long BlocksTaken { get; private set; }
    public long BlocksFreed { get; private set; }

    /// <summary>Bindings connections use (not the remembered ones).</summary>
    public IEnumerable<NatBinding> Bindings => _byInside.Values.Where(b => !b.Dormant);

    /// <summary>Blocks held by hosts, over every tenant.</summary>
    public int BlocksInUse => _tenants.Values.Sum(t => t.Hosts.Values.Sum(h => h.Blocks.Count));

    /// <summary>Spare blocks, over every tenant.</summary>
    public int SpareCount => _tenants.Values.Sum(t => t.Spares.Count);

    public int SparesOf(uint tenant) => _tenants.TryGetValue(tenant, out var t) ? t.Spares.Count : 0;

    public IEnumerable<uint> Tenants => _tenants.Keys;

    /// <summary>The blocks a host holds, in its round-robin order.</summary>
    public IReadOnlyList<PortBlock> BlocksOf(uint tenant, Ipv4Address host) =>
        _tenants.TryGetValue(tenant, out var t) && t.Hosts.TryGetValue(host, out var h) ? [.. h.Blocks.Select(b => b.Block)] : [];

    /// <summary>Every block this table holds for <paramref name="tenant"/> (hosts' and spares), and those it is returning.</summary>
    public IEnumerable<PortBlock> Holdings(uint tenant) =>
        _tenants.TryGetValue(tenant, out var t) ? t.Hosts.Values.SelectMany(h => h.Blocks.Select(b => b.Block)).Concat(t.Spares) : [];

    public bool TryGetByInside(uint tenant, IpProtocol protocol, Ipv4Address address, ushort port, out NatBinding binding) =>
        _byInside.TryGetValue((tenant, protocol, address, port), out binding!);

    public bool TryGetByExternal(uint tenant, IpProtocol protocol, Ipv4Address address, ushort port, out NatBinding binding) =>
        _byExternal.TryGetValue((tenant, protocol, address, port), out binding!);

    /// <summary>
    /// Finds or makes the binding for an inside endpoint: the next free port after the host's
    /// cursor, taking a new block when the host's are full. False (counted) when no port can be had.
    /// </summary>
    public bool TryBind(SnatPlan plan, uint tenant, IpProtocol protocol, Ipv4Address inside, ushort insidePort, out NatBinding binding, out bool created)
    {
        created = false;
        if (TryGetByInside(tenant, protocol, inside, insidePort, out binding))
        {
            if (binding.Dormant)
            {
                Wake(binding);
                Revived++;
            }
            return true;
        }
        var p = ProtocolIndex(protocol);
        if (p < 0 || !plan.IsUsable)
        {
            Exhausted++;
            return false;
        }
        var t = TenantOf(tenant, plan.BlockSize);
        if (!t.Hosts.TryGetValue(inside, out var host)) t.Hosts[inside] = host = new HostPorts();
        var size = t.BlockSize;
        var total = host.Blocks.Count * size;
        int position;
        if (host.Bound[p] < total)
        {
            position = NextFree(host, tenant, protocol, p, size, total);
        }
        else
        {
            if (host.Blocks.Count >= Settings.MaxBlocksPerHost || !TryTakeBlock(t, tenant, out var block))
            {
                if (host.Blocks.Count < Settings.MaxBlocksPerHost) t.Starved++; // wanted a block, none was spare
                if (p == 0 && host.DormantHead is { } oldest)
                {
                    // Every port bound or remembered, and no block to be had: the mapping remembered longest gives way.
                    binding = TakeOver(oldest, tenant, protocol, inside, insidePort);
                    created = true;
                    return true;
                }
                if (host.Blocks.Count >= Settings.MaxBlocksPerHost || !FreeRememberedBlock(t, tenant) || !TryTakeBlock(t, tenant, out block))
                {
                    if (host.Blocks.Count == 0) t.Hosts.Remove(inside);
                    Exhausted++;
                    return false;
                }
            }
            host.Blocks.Add(new HostBlock(block));
            BlocksTaken++;
            position = total; // the new block's first port: everything before it is bound
        }
        host.Cursor[p] = position;
        var hb = host.Blocks[position / size];
        binding = New(tenant, protocol, inside, insidePort, hb.Block.Address, (ushort)(hb.Block.FirstPort + position % size), host, hb);
        Add(binding, host, hb, p);
        created = true;
        return true;
    }

    /// <summary>
    /// Re-creates a binding known elsewhere (the gateway's mirror after this shard's entity moved):
    /// same external port, in the block that holds it (taken from the spares when it is one).
    /// Returns the existing binding when the inside endpoint is bound already; null when the port
    /// is bound to another endpoint.
    /// </summary>
    public NatBinding? Restore(SnatPlan plan, uint tenant, IpProtocol protocol, Ipv4Address inside, ushort insidePort, Ipv4Address external, ushort externalPort)
    {
        if (TryGetByInside(tenant, protocol, inside, insidePort, out var existing))
        {
            if (!existing.Dormant) return existing;
            Wake(existing);
            if (existing.ExternalAddress == external && existing.ExternalPort == externalPort) return existing;
            ReleaseNow(existing); // remembered with another port: the connection being restored has its own
        }
        var p = ProtocolIndex(protocol);
        if (p < 0 || !plan.TryBlockIndex(external, externalPort, out var index)) return null;
        if (_byExternal.TryGetValue((tenant, protocol, external, externalPort), out var holder))
        {
            // A live connection's port, remembered for another endpoint: the connection keeps it.
            if (!holder.Dormant) return null;
            Wake(holder);
            ReleaseNow(holder);
        }
        var t = TenantOf(tenant, plan.BlockSize);
        var block = plan.Block(index);
        if (!t.Hosts.TryGetValue(inside, out var host)) t.Hosts[inside] = host = new HostPorts();
        var hb = host.Blocks.Find(b => b.Block == block);
        if (hb is null)
        {
            t.Spares.Remove(block);
            hb = new HostBlock(block);
            host.Blocks.Add(hb);
            BlocksTaken++;
        }
        var position = host.Blocks.IndexOf(hb) * t.BlockSize + (externalPort - block.FirstPort);
        if (position > host.Cursor[p]) host.Cursor[p] = position;
        var binding = New(tenant, protocol, inside, insidePort, external, externalPort, host, hb);
        Add(binding, host, hb, p);
        return binding;
    }

    /// <summary>
    /// A binding no connection uses any more: a TCP one is remembered for its inside endpoint
    /// (<see cref="NatSettings.TcpMappingMemory"/>), any other is forgotten (<see cref="ReleaseNow"/>).
    /// </summary>
    public void Release(NatBinding b)
    {
        if (!b.Live || b.Dormant) return;
        if (_memoryMs > 0 && b.Protocol == IpProtocol.Tcp && b.Host is { } host && b.Block is not null)
        {
            Remember(b, host);
            return;
        }
        ReleaseNow(b);
    }

    /// <summary>Forgets a binding; its block goes back to the spares when it was the block's last.</summary>
    private void ReleaseNow(NatBinding b)
    {
        if (!b.Live) return;
        Unindex(b);
        if (b.Host is not { } host || b.Block is not { } hb || !_tenants.TryGetValue(b.Tenant, out var t)) return;
        host.Bound[ProtocolIndex(b.Protocol)]--;
        if (--hb.Used > 0) return;
        var i = host.Blocks.IndexOf(hb);
        host.Blocks.RemoveAt(i);
        BlocksFreed++;
        var size = t.BlockSize;
        for (var p = 0; p < host.Cursor.Length; p++)
        {
            // Keep each cursor on the same port: later blocks move down one place.
            if (host.Cursor[p] >= (i + 1) * size) host.Cursor[p] -= size;
            else if (host.Cursor[p] >= i * size) host.Cursor[p] = i * size - 1;
        }
        if (host.Blocks.Count == 0) t.Hosts.Remove(b.InsideAddress);
        t.Spares.Add(hb.Block);
        var target = Math.Max(Settings.SpareBlocks, t.Demand);
        var keep = lender is null ? 2 * target : target;
        while (t.Spares.Count > keep)
        {
            var give = t.Spares[^1];
            t.Spares.RemoveAt(t.Spares.Count - 1);
            if (lender is not null) lender.TakeBack(bucket, b.Tenant, give);
            else
            {
                t.Returning.Add(give);
                _returned.Add((b.Tenant, give));
            }
        }
    }

    /// <summary>
    /// The bindings released before this call become spares for new ones. The owner calls it at a
    /// point where nothing it handed out still refers to them (its connection table's sweep: the
    /// connections that held them were removed a sweep earlier).
    /// </summary>
    public void Recycle()
    {
        ForgetExpired(_clockMs());
        var keep = Math.Max(SpareFloor, _byInside.Count);
        foreach (var b in _retired)
        {
            if (_free.Count >= keep) break;
            _free.Push(b);
        }
        _retired.Clear();
    }

    private NatBinding New(uint tenant, IpProtocol protocol, Ipv4Address inside, ushort insidePort, Ipv4Address external, ushort externalPort, HostPorts host, HostBlock block) =>
        (_free.TryPop(out var spare) ? spare : new NatBinding()).Begin(tenant, protocol, inside, insidePort, external, externalPort, host, block);

    /// <summary>Keeps a released TCP binding for its inside endpoint, its port reserved, the newest at the tail of its host's list.</summary>
    private void Remember(NatBinding b, HostPorts host)
    {
        b.Dormant = true;
        b.DormantSince = _clockMs();
        b.DormantPrev = host.DormantTail;
        b.DormantNext = null;
        if (host.DormantTail is { } tail) tail.DormantNext = b;
        else host.DormantHead = b;
        host.DormantTail = b;
        b.Block!.Dormant++;
        if (host.DormantCount++ == 0 && !host.InDormantList)
        {
            host.InDormantList = true;
            _dormantHosts.Add(host);
        }
        _dormant++;
    }

    /// <summary>Takes a remembered binding off its host's list: it is in use again, or going.</summary>
    private void Wake(NatBinding b)
    {
        var host = b.Host!;
        if (b.DormantPrev is { } prev) prev.DormantNext = b.DormantNext;
        else host.DormantHead = b.DormantNext;
        if (b.DormantNext is { } next) next.DormantPrev = b.DormantPrev;
        else host.DormantTail = b.DormantPrev;
        b.DormantPrev = b.DormantNext = null;
        b.Dormant = false;
        b.Block!.Dormant--;
        host.DormantCount--;
        _dormant--;
    }

    /// <summary>
    /// The port of the remembered binding <paramref name="old"/> goes to a new inside endpoint:
    /// the old binding is released and a new one takes its port (block and counts unchanged).
    /// </summary>
    private NatBinding TakeOver(NatBinding old, uint tenant, IpProtocol protocol, Ipv4Address inside, ushort insidePort)
    {
        Wake(old);
        Unindex(old);
        Reclaimed++;
        var b = New(tenant, protocol, inside, insidePort, old.ExternalAddress, old.ExternalPort, old.Host!, old.Block!);
        Index(b);
        return b;
    }

    /// <summary>
    /// No block to be had for a host with nothing of its own to give way: a block of another host
    /// whose every binding is only remembered is freed (those mappings forgotten, counted as
    /// reclaimed), so remembering never costs a host its first port. False when there is none.
    /// </summary>
    private bool FreeRememberedBlock(TenantPorts t, uint tenant)
    {
        var remembered = t.Hosts.Values.SelectMany(h => h.Blocks).FirstOrDefault(hb => hb.Used > 0 && hb.Dormant == hb.Used);
        if (remembered is null) return false;
        for (var port = 0; port < t.BlockSize; port++)
        {
            if (_byExternal.TryGetValue((tenant, IpProtocol.Tcp, remembered.Block.Address, (ushort)(remembered.Block.FirstPort + port)), out var b) && b.Dormant)
            {
                Wake(b);
                Reclaimed++;
                ReleaseNow(b); // the last one frees the block to the spares
            }
        }
        return true;
    }

    /// <summary>Forgets the remembered bindings older than the memory (oldest first in each host's list).</summary>
    private void ForgetExpired(long now)
    {
        for (var i = _dormantHosts.Count - 1; i >= 0; i--)
        {
            var host = _dormantHosts[i];
            while (host.DormantHead is { } oldest && now - oldest.DormantSince >= _memoryMs)
            {
                Wake(oldest);
                ReleaseNow(oldest);
            }
            if (host.DormantCount == 0)
            {
                host.InDormantList = false;
                _dormantHosts[i] = _dormantHosts[^1];
                _dormantHosts.RemoveAt(_dormantHosts.Count - 1);
            }
        }
    }

    /// <summary>Releases a binding that no connection took up (a packet that made it and then went nowhere).</summary>
    public void ReleaseIfUnused(NatBinding b)
    {
        if (b.Connections == 0) Release(b);
    }

    /// <summary>Blocks handed back since the last call (sharded mode: to send to the gateway's ledger).</summary>
    /// <summary>Blocks wait to be handed back, or a tenant's spares are below <see cref="NatSettings.SpareBlocks"/>: the owner has something to tell the ledger.</summary>
    public bool HasLedgerNews
    {
        get
        {
            if (_returned.Count > 0) return true;
            foreach (var t in _tenants.Values)
            {
                if (t.Spares.Count < Settings.SpareBlocks) return true;
            }
            return false;
        }
    }

    public List<(uint Tenant, PortBlock Block)> TakeReturned()
    {
        var list = new List<(uint, PortBlock)>(_returned);
        _returned.Clear();
        return list;
    }

    /// <summary>
    /// Tenants whose spares are below <see cref="NatSettings.SpareBlocks"/>, with how many they
    /// have and how many blocks beyond that target they need: those wanted and not there since the
    /// last call, and those hosts took from the spares since then (so a burst of new hosts, or a
    /// host opening connections faster than its blocks come free, is met in one grant that lasts
    /// until the next, not two blocks at a time). What was taken since the last call is also the
    /// tenant's demand: up to twice that many spares (at most <see cref="MaxDemand"/>) are kept
    /// rather than handed back, so a host that churns through blocks finds them here, not at the gateway.
    /// </summary>
    public List<(uint Tenant, int Spares, int Starved)> Deficits()
    {
        var list = new List<(uint, int, int)>();
        foreach (var (tenant, t) in _tenants)
        {
            if (t.Spares.Count < Settings.SpareBlocks) list.Add((tenant, t.Spares.Count, t.Starved + t.Taken));
            t.Demand = Math.Min(t.Taken, MaxDemand);
            t.Starved = 0;
            t.Taken = 0;
        }
        return list;
    }

    /// <summary>Most spares a tenant's demand keeps beyond <see cref="NatSettings.SpareBlocks"/> (64 blocks: what one grant lends at most).</summary>
    public const int MaxDemand = 64;

    /// <summary>
    /// Adopts the gateway's view of what this shard leases for <paramref name="tenant"/>: a leased
    /// block this table does not hold becomes a spare (a grant, or the whole set after a move);
    /// a block being returned that the ledger no longer lists has been taken back; a spare the
    /// ledger does not list is dropped (it is not ours). Blocks hosts use are kept regardless.
    /// </summary>
    public void Reconcile(uint tenant, int blockSize, IReadOnlyCollection<PortBlock> leased)
    {
        var t = TenantOf(tenant, blockSize);
        var set = leased as ISet<PortBlock> ?? leased.ToHashSet();
        t.Returning.RemoveWhere(b => !set.Contains(b));
        t.Spares.RemoveAll(b => !set.Contains(b));
        var held = t.Hosts.Values.SelectMany(h => h.Blocks.Select(b => b.Block)).Concat(t.Spares).ToHashSet();
        foreach (var b in leased)
        {
            if (!held.Contains(b) && !t.Returning.Contains(b)) t.Spares.Add(b);
        }
    }

    /// <summary>Adds a spare block (tests, benchmarks).</summary>
    public void AddSpare(uint tenant, int blockSize, PortBlock block) => TenantOf(tenant, blockSize).Spares.Add(block);

    public void Clear()
    {
        _dormantHosts.Clear();
        _dormant = 0;
        _byInside.Clear();
        _byExternal.Clear();
        _tenants.Clear();
        _returned.Clear();
    }

    private TenantPorts TenantOf(uint tenant, int blockSize)
    {
        if (!_tenants.TryGetValue(tenant, out var t)) _tenants[tenant] = t = new TenantPorts(blockSize);
        return t;
    }

    private bool TryTakeBlock(TenantPorts t, uint tenant, out PortBlock block)
    {
        if (t.Spares.Count > 0)
        {
            block = t.Spares[0];
            t.Spares.RemoveAt(0);
            t.Taken++;
            return true;
        }
        if (lender is not null && lender.TryLend(bucket, tenant, out block)) return true;
        block = default;
        return false;
    }

    /// <summary>The first free port after the cursor (the host has one: fewer bound than ports).</summary>
    private int NextFree(HostPorts host, uint tenant, IpProtocol protocol, int p, int size, int total)
    {
        var start = host.Cursor[p];
        for (var n = 1; n <= total; n++)
        {
            var position = (int)((uint)(start + n) % (uint)total);
            var block = host.Blocks[position / size].Block;
            if (!_byExternal.ContainsKey((tenant, protocol, block.Address, (ushort)(block.FirstPort + position % size)))) return position;
        }
        throw new InvalidOperationException("a host with fewer bindings than ports has a free port");
    }

    private void Add(NatBinding b, HostPorts host, HostBlock hb, int p)
    {
        Index(b);
        host.Bound[p]++;
        hb.Used++;
    }

    /// <summary>Makes a binding findable from both sides.</summary>
    private void Index(NatBinding b)
    {
        _byInside[(b.Tenant, b.Protocol, b.InsideAddress, b.InsidePort)] = b;
        _byExternal[(b.Tenant, b.Protocol, b.ExternalAddress, b.ExternalPort)] = b;
        Created++;
    }

    /// <summary>Ends a binding's life: no longer findable, its object reused from the next <see cref="Recycle"/> on (its host and block counts are the caller's).</summary>
    private void Unindex(NatBinding b)
    {
        b.Live = false;
        _byInside.Remove((b.Tenant, b.Protocol, b.InsideAddress, b.InsidePort));
        _byExternal.Remove((b.Tenant, b.Protocol, b.ExternalAddress, b.ExternalPort));
        Released++;
        if (_retired.Count < RetiredCap) _retired.Add(b); // beyond (no sweep for long): the GC takes it
    }

    /// <summary>Ports are bound per protocol (TCP, UDP, ICMP echo identifiers), from the same blocks.</summary>
    private static int ProtocolIndex(IpProtocol protocol) => protocol switch
    {
        IpProtocol.Tcp => 0,
        IpProtocol.Udp => 1,
        IpProtocol.Icmp => 2,
        _ => -1,
    };

    private sealed class TenantPorts(int blockSize)
    {
        public readonly int BlockSize = blockSize;
        public readonly Dictionary<Ipv4Address, HostPorts> Hosts = [];
        /// <summary>Blocks leased to this shard and held by no host, oldest first (taken from the front, so a freed block waits longest).</summary>
        public readonly List<PortBlock> Spares = [];
        /// <summary>Blocks handed back to the ledger and not yet acknowledged by it.</summary>
        public readonly HashSet<PortBlock> Returning = [];
        /// <summary>Blocks hosts wanted when no spare was there, since the last <see cref="Deficits"/>.</summary>
        public int Starved;
        /// <summary>Blocks hosts took from the spares since the last <see cref="Deficits"/>.</summary>
        public int Taken;
        /// <summary>What <see cref="Taken"/> was at the last <see cref="Deficits"/>: the spares kept rather than handed back (at least the settings' spare blocks).</summary>
        public int Demand;
    }
}

/// <summary>A host's blocks and its round-robin cursors (a position counts ports over the blocks in order).</summary>
internal sealed class HostPorts
{
    public readonly List<HostBlock> Blocks = [];
    public readonly int[] Cursor = [-1, -1, -1];
    public readonly int[] Bound = new int[3];
    /// <summary>Remembered TCP bindings (<see cref="NatBinding.Dormant"/>), the oldest first.</summary>
    public NatBinding? DormantHead;
    public NatBinding? DormantTail;
    public int DormantCount;
    /// <summary>Whether the table's list of hosts with remembered bindings holds this host.</summary>
    public bool InDormantList;
}

internal sealed class HostBlock(PortBlock block)
{
    public readonly PortBlock Block = block;
    /// <summary>Bindings of every protocol in this block.</summary>
    public int Used;
    /// <summary>Of those, remembered ones (<see cref="NatBinding.Dormant"/>): when all are, the block may be freed for another host.</summary>
    public int Dormant;
}
