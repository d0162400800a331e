using Fabric.Actors.Gateway.Pipeline;

namespace Fabric.Actors.Gateway;

/// <summary>Per-gateway counters: frames, hits/misses, stage runs, one counter per drop reason. Written by the datapath's one thread.</summary>
public sealed class GatewayCounters
{
    private static readonly int DropCount = Enum.GetValues<GatewayDrop>().Length;
    private static readonly int StageCount = Enum.GetValues<GatewayStage>().Length;

    public long Frames;
    public long Forwarded;
    public long Hits;
    public long Misses;
    /// <summary>Hits answered by a masked entry shared by several flows (the rest of <see cref="Hits"/> matched exactly).</summary>
    public long MegaflowHits;
    public long ExactHits => Hits - MegaflowHits;
    /// <summary>Frames that ran the stages (misses plus slow-path hits: TCP FIN/RST, TTL expiry).</summary>
    public long SlowPath;
    public long ArpReplies;
    public long ArpRequests;
    /// <summary>ARP requests not sent because the same target was asked for less than neighbor-retry-min ago.</summary>
    public long ArpRequestsLimited;
    public long EchoReplies;
    public long IcmpErrors;
    public long TcpResets;
    /// <summary>ICMP errors not sent because the token bucket was empty (fabric.gateway.icmp-errors).</summary>
    public long IcmpErrorsLimited;
    /// <summary>Datagrams without DF longer than their output port's MTU, forwarded as fragments (RFC 791)...</summary>
    public long Fragmented;
    /// <summary>... and the fragments they became.</summary>
    public long FragmentsSent;
    public readonly long[] Drops = new long[DropCount];
    public readonly long[] StageRuns = new long[StageCount];

    public long DroppedTotal => Drops.Sum();

    public IReadOnlyDictionary<string, long> DropsByName() =>
        Enum.GetValues<GatewayDrop>().Where(d => d != GatewayDrop.None).ToDictionary(Name, d => Drops[(int)d]);

    public IReadOnlyDictionary<string, long> StageRunsByName() =>
        Enum.GetValues<GatewayStage>().ToDictionary(Name, s => StageRuns[(int)s]);

    /// <summary>Counts <paramref name="frames"/> dropped for <paramref name="reason"/>: the one way a gateway drop is counted. Called holding the data path's lock.</summary>
    public void Drop(GatewayDrop reason, long frames = 1) => Drops[(int)reason] += frames;

    /// <summary>kebab-case wire name of an enum member (FirewallDenied → firewall-denied), as every other drop name (<see cref="KebabCase"/>).</summary>
    public static string Name<T>(T value) where T : struct, Enum => KebabCase.Of(value.ToString());
}

/// <summary>One traced packet: the key, hit or miss, each stage's record, and what happened.</summary>
public sealed record PacketTrace(string Key, bool Hit, IReadOnlyList<string> Records, string Result);
