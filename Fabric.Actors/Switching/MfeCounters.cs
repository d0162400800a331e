namespace Fabric.Actors.Switching;

/// <summary>Why the MFE dropped a frame; each reason has its own counter and a name in status.</summary>
public enum MfeDrop
{
    /// <summary>A VNIC frame without an 802.1Q tag: it belongs to no container.</summary>
    Untagged,

    /// <summary>A VNIC frame whose tag is no container of that DCN.</summary>
    UnknownTag,

    /// <summary>A VNIC frame with two tags (802.1ad / QinQ): a container's frame carries one.</summary>
    DoubleTagged,

    /// <summary>A frame the parser refused (truncated or malformed headers, bad Geneve header).</summary>
    Malformed,

    /// <summary>A container sent a frame with a source MAC other than its own.</summary>
    SourceMacMismatch,

    /// <summary>The sending container's egress ACL denied it.</summary>
    EgressAcl,

    /// <summary>The receiving container's ingress ACL denied it.</summary>
    IngressAcl,

    /// <summary>No container (local or remote) has the destination MAC.</summary>
    UnknownDestination,

    /// <summary>The destination container is on another logical switch (tenant).</summary>
    OtherTenant,

    /// <summary>Broadcast or multicast other than ARP: the MFE does not flood.</summary>
    NonUnicast,

    /// <summary>An ARP request for an address no container of the switch has.</summary>
    ArpUnknownTarget,

    /// <summary>The destination is on another host and this node has no underlay socket.</summary>
    NoUnderlay,

    /// <summary>A Geneve frame for a VNI no local container is on.</summary>
    UnknownVni,

    /// <summary>A Geneve frame whose payload is not Ethernet, or a control (OAM) frame.</summary>
    NotEthernet,

    /// <summary>A ghost frame met a main element, or a main frame a ghost element.</summary>
    GhostMismatch,

    /// <summary>A frame arrived on a VNIC that the current table does not know yet (starting or stopping).</summary>
    NotReady,

    /// <summary>A frame for a gateway's router port while the gateway's end of the link is not open.</summary>
    RouterAbsent,

    /// <summary>A gateway sent a frame tagged 802.1Q onto a logical switch (the switch's frames are untagged).</summary>
    Tagged,
}

/// <summary>
/// Frame and byte counters of one MFE port (a container's view: rx = frames the container sent,
/// tx = frames delivered to it) or of a VNIC or the underlay, plus one drop counter per
/// <see cref="MfeDrop"/>. Interlocked adds: any data-path thread may count, any thread may read.
/// </summary>
public sealed class MfeCounters
{
    private static readonly MfeDrop[] Reasons = Enum.GetValues<MfeDrop>();
    private readonly long[] _drops = new long[Reasons.Length];
    private long _rxFrames;
    private long _rxBytes;
    private long _txFrames;
    private long _txBytes;

    public long RxFrames => Interlocked.Read(ref _rxFrames);
    public long RxBytes => Interlocked.Read(ref _rxBytes);
    public long TxFrames => Interlocked.Read(ref _txFrames);
    public long TxBytes => Interlocked.Read(ref _txBytes);

    public long Drops(MfeDrop reason) => Interlocked.Read(ref _drops[(int)reason]);

    public long TotalDrops => Reasons.Sum(Drops);

    public void Rx(long bytes)
    {
        Interlocked.Increment(ref _rxFrames);
        Interlocked.Add(ref _rxBytes, bytes);
    }

    public void Tx(long bytes)
    {
        Interlocked.Increment(ref _txFrames);
        Interlocked.Add(ref _txBytes, bytes);
    }

    public void Drop(MfeDrop reason, long frames = 1) => Interlocked.Add(ref _drops[(int)reason], frames);

    /// <summary>Non-zero drop counters by name (<c>unknown-tag</c>, <c>egress-acl</c>, ...).</summary>
    public IReadOnlyDictionary<string, long> DropsByName()
    {
        var result = new SortedDictionary<string, long>(StringComparer.Ordinal);
        foreach (var reason in Reasons)
        {
            long n = Drops(reason);
            if (n != 0)
            {
                result[Name(reason)] = n;
            }
        }

        return result;
    }

    /// <summary>The kebab-case name of a reason, as status and the CLI show it.</summary>
    public static string Name(MfeDrop reason) => reason switch
    {
        MfeDrop.Untagged => "untagged",
        MfeDrop.UnknownTag => "unknown-tag",
        MfeDrop.DoubleTagged => "double-tagged",
        MfeDrop.Malformed => "malformed",
        MfeDrop.SourceMacMismatch => "source-mac-mismatch",
        MfeDrop.EgressAcl => "egress-acl",
        MfeDrop.IngressAcl => "ingress-acl",
        MfeDrop.UnknownDestination => "unknown-destination",
        MfeDrop.OtherTenant => "other-tenant",
        MfeDrop.NonUnicast => "non-unicast",
        MfeDrop.ArpUnknownTarget => "arp-unknown-target",
        MfeDrop.NoUnderlay => "no-underlay",
        MfeDrop.UnknownVni => "unknown-vni",
        MfeDrop.NotEthernet => "not-ethernet",
        MfeDrop.GhostMismatch => "ghost-mismatch",
        MfeDrop.NotReady => "not-ready",
        MfeDrop.RouterAbsent => "router-absent",
        MfeDrop.Tagged => "tagged",
        _ => reason.ToString(),
    };
}
