using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Gateway;

namespace Fabric.Tests.Gateways;

/// <summary>
/// TCP mapping memory (fabric.gateway.nat.tcp-mapping-memory): a TCP binding its last connection
/// let go stays reserved for its inside endpoint, so that endpoint's next connection leaves from
/// the same external port, and no other endpoint's SYN meets a server's TIME_WAIT for it while
/// the host can have other ports. Plain state, a clock of the test's.
/// </summary>
public class NatMappingMemoryTests
{
    private const uint Tenant = 7;
    private static readonly Ipv4Address Host = Ipv4Address.Parse("10.0.0.10");
    private static readonly Ipv4Address Pool = Ipv4Address.Parse("192.0.2.10");
    private static readonly TimeSpan Memory = TimeSpan.FromSeconds(60);

    private long _now = 1_000_000;

    /// <summary>One pool address in blocks of 16 ports; the table holds <paramref name="spareBlocks"/> of them as spares.</summary>
    private (SnatPlan Plan, NatTable Nat) Setup(int maxBlocks, int spareBlocks, TimeSpan memory)
    {
        var plan = SnatPlan.Create([(Pool, 32)], 16);
        var nat = new NatTable(new NatSettings(16, maxBlocks, 1, memory), clockMs: () => _now);
        nat.Reconcile(Tenant, 16, Enumerable.Range(0, spareBlocks).Select(plan.Block).ToHashSet());
        return (plan, nat);
    }

    private static NatBinding Bind(SnatPlan plan, NatTable nat, ushort insidePort, IpProtocol protocol = IpProtocol.Tcp)
    {
        Assert.True(nat.TryBind(plan, Tenant, protocol, Host, insidePort, out var b, out _), $"no port for {insidePort}");
        b.Connections++; // a connection uses it, as the connection table's Attach leaves it
        return b;
    }

    private static void Let(NatTable nat, NatBinding b)
    {
        b.Connections--;
        nat.Release(b);
    }

    [Fact]
    public void An_inside_endpoint_that_comes_back_leaves_from_its_old_port_and_others_get_other_ports()
    {
        var (plan, nat) = Setup(maxBlocks: 64, spareBlocks: 4, Memory);
        var first = Bind(plan, nat, 40000);
        ushort port = first.ExternalPort;
        Let(nat, first);
        Assert.True(first.Dormant);
        Assert.Equal(0, nat.Count);
        Assert.Equal(1, nat.Remembered);

        // Sixteen other endpoints, round the whole block and past it: round-robin alone would give
        // the sixteenth the freed port; remembered, it is skipped and the host takes a second block.
        var others = Enumerable.Range(1, 16).Select(i => Bind(plan, nat, (ushort)(40000 + i))).ToList();
        Assert.DoesNotContain(port, others.Select(o => o.ExternalPort));
        Assert.Equal(2, nat.BlocksOf(Tenant, Host).Count);

        var again = Bind(plan, nat, 40000);
        Assert.Same(first, again);
        Assert.Equal(port, again.ExternalPort);
        Assert.False(again.Dormant);
        Assert.Equal(1, nat.Revived);
        Assert.Equal(17, nat.Count);
        Assert.Equal(0, nat.Remembered);
    }

    [Fact]
    public void A_host_whose_ports_are_all_bound_or_remembered_takes_another_block_while_it_can()
    {
        var (plan, nat) = Setup(maxBlocks: 64, spareBlocks: 4, Memory);
        var firstRound = Enumerable.Range(0, 16).Select(i => Bind(plan, nat, (ushort)(40000 + i))).ToList();
        foreach (var b in firstRound) Let(nat, b);
        Assert.Equal(16, nat.Remembered);

        // Sixteen new endpoints: a second block, not the remembered ports.
        var secondRound = Enumerable.Range(0, 16).Select(i => Bind(plan, nat, (ushort)(50000 + i))).ToList();
        Assert.Equal(2, nat.BlocksOf(Tenant, Host).Count);
        Assert.Empty(firstRound.Select(b => b.ExternalPort).Intersect(secondRound.Select(b => b.ExternalPort)));
        Assert.Equal(0, nat.Reclaimed);
        Assert.Equal(0, nat.Exhausted);
    }

    [Fact]
    public void With_no_block_to_be_had_the_mapping_remembered_longest_gives_way_and_no_connection_is_refused()
    {
        var (plan, nat) = Setup(maxBlocks: 1, spareBlocks: 2, Memory);
        var firstRound = new List<NatBinding>();
        for (var i = 0; i < 16; i++)
        {
            firstRound.Add(Bind(plan, nat, (ushort)(40000 + i)));
            _now += 10;
        }
        foreach (var b in firstRound)
        {
            Let(nat, b);
            _now += 10;
        }

        // The host may hold one block: a new endpoint takes the port of the one remembered longest.
        var newcomer = Bind(plan, nat, 50000);
        Assert.Equal(firstRound[0].ExternalPort, newcomer.ExternalPort);
        Assert.False(firstRound[0].Live);
        Assert.Equal(1, nat.Reclaimed);
        Assert.Equal(0, nat.Exhausted);
        Assert.Equal(15, nat.Remembered);
        Assert.Single(nat.BlocksOf(Tenant, Host));

        // The endpoint whose mapping gave way comes back: a port of its own all the same (the next oldest's).
        var back = Bind(plan, nat, 40000);
        Assert.Equal(firstRound[1].ExternalPort, back.ExternalPort);
        Assert.Equal(2, nat.Reclaimed);
    }

    [Fact]
    public void A_new_host_with_no_block_to_be_had_gets_one_whose_mappings_are_all_only_remembered()
    {
        // Remembering must never cost a host its first port: with the pool's blocks all held, a
        // block of another host whose every binding is only remembered is freed for it.
        var (plan, nat) = Setup(maxBlocks: 64, spareBlocks: 1, Memory);
        var firstRound = Enumerable.Range(0, 16).Select(i => Bind(plan, nat, (ushort)(40000 + i))).ToList();
        foreach (var b in firstRound) Let(nat, b);
        Assert.Equal(0, nat.SparesOf(Tenant));

        var other = Ipv4Address.Parse("10.0.0.11");
        Assert.True(nat.TryBind(plan, Tenant, IpProtocol.Tcp, other, 50000, out var newcomer, out _));
        Assert.Equal(plan.Block(0), Assert.Single(nat.BlocksOf(Tenant, other)));
        Assert.Empty(nat.BlocksOf(Tenant, Host));
        Assert.Equal(16, nat.Reclaimed);
        Assert.Equal(0, nat.Remembered);
        Assert.Equal(0, nat.Exhausted);
        Assert.All(firstRound, b => Assert.False(b.Live));
        Assert.Equal(plan.Block(0).FirstPort, newcomer.ExternalPort);
    }

    [Fact]
    public void Mappings_are_forgotten_after_the_memory_and_their_blocks_go_back()
    {
        var (plan, nat) = Setup(maxBlocks: 64, spareBlocks: 4, Memory);
        var b = Bind(plan, nat, 40000);
        Let(nat, b);
        nat.Recycle();
        Assert.Equal(1, nat.Remembered);
        Assert.Single(nat.BlocksOf(Tenant, Host)); // the remembered port holds its block

        _now += (long)Memory.TotalMilliseconds;
        nat.Recycle();
        Assert.Equal(0, nat.Remembered);
        Assert.False(b.Live);
        Assert.Empty(nat.BlocksOf(Tenant, Host));
        Assert.Equal(4, nat.SparesOf(Tenant) + nat.TakeReturned().Count); // a spare again, or handed back beyond the spare target
        Assert.Equal(0, nat.Revived);
    }

    [Fact]
    public void Only_tcp_is_remembered_and_a_memory_of_zero_frees_the_port_at_once()
    {
        var (plan, nat) = Setup(maxBlocks: 64, spareBlocks: 4, Memory);
        var udp = Bind(plan, nat, 5353, IpProtocol.Udp);
        Let(nat, udp);
        Assert.False(udp.Live);
        Assert.Equal(0, nat.Remembered);

        var (plan0, off) = Setup(maxBlocks: 64, spareBlocks: 4, TimeSpan.Zero);
        var tcp = Bind(plan0, off, 40000);
        Let(off, tcp);
        Assert.False(tcp.Live);
        Assert.Equal(0, off.Remembered);
        Assert.Empty(off.BlocksOf(Tenant, Host));
    }

    [Fact]
    public void The_shipped_default_remembers_for_sixty_seconds_and_entities_get_it_in_their_settings()
    {
        Assert.Equal(TimeSpan.FromSeconds(60), NatSettings.Default.TcpMappingMemory);
        var settings = GatewaySettings.Default;
        Assert.Equal(settings.Nat, GatewaySettings.FromMessage(settings.ToMessage()).Nat);
    }
}
