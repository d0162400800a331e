using Akka.Actor;

namespace Fabric.Actors.Gateway.Actors;

/// <summary>
/// What GET /gateways/{name} shows: the data path's counters and caches, the ports, the miss
/// path's state. Read under the data path's lock (the status handler is guarded).
/// </summary>
internal static class GatewayStatusReport
{
    /// <param name="resolver">The sharded miss path (null: the stages run in process).</param>
    /// <param name="self">This node's address, for the owners of the flow-cache buckets.</param>
    public static GatewayStatus Build(GatewayDatapath dp, GatewayPorts ports, MissResolver? resolver, DatapathGate gate, string node, Address self)
    {
        var plan = dp.Plan;
        var c = dp.Counters;
        c.Drops[(int)Pipeline.GatewayDrop.IngressBusy] = gate.IngressBusyDrops; // the data path never writes this one
        var shards = dp.Shards.Select(s => CacheStats.Of(s.Stats, resolver?.EntityOf(s.Index) is { } e ? (e.Path.Address.HasLocalScope ? self : e.Path.Address).ToString() : null)).ToList();
        return new GatewayStatus(
            plan.Name, node, plan.Generation, resolver is null ? "local" : "sharded",
            [.. plan.Tenants.Select(t => t.Name)],
            [.. plan.Ports.Select(ports.StatusOf)],
            new Dictionary<string, long>
            {
                ["frames"] = c.Frames, ["forwarded"] = c.Forwarded, ["hits"] = c.Hits, ["misses"] = c.Misses,
                ["exact-hits"] = c.ExactHits, ["megaflow-hits"] = c.MegaflowHits, ["megaflow-masks"] = dp.MasksInUse,
                ["slow-path"] = c.SlowPath, ["resolved-by-entity"] = dp.RemoteResolved,
                ["resolved-on-receive-thread"] = resolver?.ResolvedHere ?? 0, ["direct-buckets"] = resolver?.DirectBuckets ?? 0, ["dropped"] = c.DroppedTotal,
                ["arp-replies"] = c.ArpReplies, ["arp-requests"] = c.ArpRequests,
                ["arp-requests-limited"] = c.ArpRequestsLimited, ["echo-replies"] = c.EchoReplies,
                ["icmp-errors"] = c.IcmpErrors, ["icmp-errors-limited"] = c.IcmpErrorsLimited, ["tcp-resets"] = c.TcpResets,
                ["fragmented"] = c.Fragmented, ["fragments-sent"] = c.FragmentsSent,
                ["super-frames-forwarded"] = dp.SuperFramesForwarded, ["super-frames-cut"] = dp.SuperFramesCut,
            },
            c.StageRunsByName(),
            c.DropsByName(),
            CacheStats.Sum(shards),
            shards,
            resolver?.Waiting ?? 0,
            resolver?.ShardMoves ?? 0,
            dp.NeighborCount,
            [.. plan.Tenants.Where(t => t.Snat is not null).Select(t => new NatPoolStatus(
                t.Name, t.Snat!.BlockSize, t.Snat.BlockCount, dp.Ledger.LeasedCount(t.Vni), dp.Ledger.FreeCount(t.Vni)))],
            // What each stage actor published and the data path reads: per tenant dr, fw, sr, nat.
            [.. plan.Tenants.SelectMany(t => t.Tables.All).Select(x => x.Status())]);
    }
}
