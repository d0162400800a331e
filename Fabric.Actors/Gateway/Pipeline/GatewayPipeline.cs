using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Gateway;

namespace Fabric.Actors.Gateway.Pipeline;

/// <summary>What a whole pipeline run decided: the stage records folded together.</summary>
public struct PipelineOutcome
{
    public StageVerdict Verdict;
    public GatewayDrop Reason;
    public RejectKind Reject;
    public Rewrites Rewrites;
    public ushort OutPort;
    public Ipv4Address NextHop;
    public FlowFields Consulted;
    public StateCreated Created;
    public Connection? Connection;
    public int Stages;
    /// <summary>The firewall table's item (rule, or the default policy) that judged the flow, + 1; 0: none did (no firewall, or a tracked connection passed).</summary>
    public int FirewallRule;
}

/// <summary>Runs a tenant's stages in order on the slow path and folds their records (the synthesizer's input).</summary>
public static class GatewayPipeline
{
    public const int MaxStages = 4;

    /// <summary>
    /// Runs the stages for <paramref name="p"/> (its key is rewritten as the stages go), writing
    /// each stage's record into <paramref name="records"/> (at least <see cref="MaxStages"/> long).
    /// </summary>
    public static PipelineOutcome Run(ref PacketFacts p, TenantPlan t, NatTable nat, ConnectionTable connections, long now, Span<StageRecord> records)
    {
        var o = new PipelineOutcome();
        if (p.Ingress == PortRole.Downlink)
        {
            if (Step(ref o, ref p, GatewayStages.DistributedRouter(p, t), records)) return o;
            if (Step(ref o, ref p, GatewayStages.Firewall(p, t, connections, now, out o.Connection), records)) return o;
            var routed = GatewayStages.ServiceRouter(p, t);
            Step(ref o, ref p, routed, records);
            if (routed.Verdict != StageVerdict.Forward || routed.OutPort != t.UplinkPort) return o;
            // NAT is post-routing on the uplink: it may rewrite or drop, never re-route.
            var inside = p.Connection(p.Key.Tenant); // named before SNAT rewrites the source
            var nated = GatewayStages.Nat(ref p, t, nat);
            Step(ref o, ref p, nated, records);
            if (nated.Verdict == StageVerdict.Next) o.Verdict = StageVerdict.Forward;
            KeepBinding(ref o, p, inside, nat, connections, now);
            return o;
        }
        if (Step(ref o, ref p, GatewayStages.Nat(ref p, t, nat), records)) return o;
        if (Step(ref o, ref p, GatewayStages.Firewall(p, t, connections, now, out o.Connection), records)) return o;
        Step(ref o, ref p, GatewayStages.DistributedRouter(p, t), records);
        if (o.Verdict == StageVerdict.Forward) KeepBinding(ref o, p, p.Connection(p.Key.Tenant), nat, connections, now);
        return o;
    }

    /// <summary>
    /// Ties the SNAT binding a forwarded packet used to its connection, which keeps it alive (NAT
    /// session tracking, RFC 7857 §2). Without a firewall no stage tracked the connection yet: it
    /// is found or made here, under the same rules (a lone RST makes none). A binding made for a
    /// packet that got no connection is released at once.
    /// </summary>
    private static void KeepBinding(ref PipelineOutcome o, in PacketFacts p, in ConnectionKey key, NatTable nat, ConnectionTable connections, long now)
    {
        if (p.Probe || p.Binding is not { } binding) return;
        if (o.Verdict != StageVerdict.Forward)
        {
            nat.ReleaseIfUnused(binding);
            return;
        }
        if (o.Connection is null)
        {
            var c = connections.Find(key);
            if (c is { State: ConnectionState.Closed } && p.Key.IpProtocol == IpProtocol.Tcp && ConnectionTracking.IsOpening(p.TcpFlags)) connections.Reopen(c, now);
            if (c is null && ConnectionTracking.MayStart(p.Key.IpProtocol, p.TcpFlags, loosePickup: true, out var pickedUp))
            {
                c = connections.Add(key, fromInside: true, pickedUp || p.ReversedSnat, now);
                o.Created |= StateCreated.Connection;
            }
            o.Connection = c;
        }
        if (o.Connection is { } connection) ConnectionTable.Attach(connection, binding);
        else nat.ReleaseIfUnused(binding);
    }

    /// <summary>Folds one record in; true when the pipeline ends here.</summary>
    private static bool Step(ref PipelineOutcome o, ref PacketFacts p, in StageRecord r, Span<StageRecord> records)
    {
        if (o.Stages < records.Length) records[o.Stages] = r;
        o.Stages++;
        o.Consulted |= r.Consulted;
        o.Created |= r.Created;
        o.Rewrites = o.Rewrites.Then(r.Rewrites);
        Apply(ref p, r.Rewrites);
        o.Verdict = r.Verdict;
        if (r.Stage == GatewayStage.Firewall && r.Item >= 0) o.FirewallRule = r.Item + 1;
        switch (r.Verdict)
        {
            case StageVerdict.Forward:
                o.OutPort = r.OutPort;
                o.NextHop = r.NextHop;
                return true;
            case StageVerdict.Drop:
            case StageVerdict.Reject:
                o.Reason = r.Reason;
                o.Reject = r.Reject;
                return true;
            default:
                return false;
        }
    }

    /// <summary>What the rewrites do to the key (what the bytes will say after the entry is applied).</summary>
    public static void Apply(ref PacketFacts p, in Rewrites r)
    {
        if ((r.Fields & RewriteFields.SourceAddress) != 0) p.Key.SourceAddress = r.SourceAddress;
        if ((r.Fields & RewriteFields.DestinationAddress) != 0) p.Key.DestinationAddress = r.DestinationAddress;
        if ((r.Fields & RewriteFields.SourcePort) != 0) p.Key.SourcePort = r.SourcePort;
        if ((r.Fields & (RewriteFields.DestinationPort | RewriteFields.IcmpIdentifier)) != 0) p.Key.DestinationPort = r.DestinationPort;
    }
}
