using Fabric.Actors.DataPlane.Io;

namespace Fabric.Actors.Gateway.Actors;

// Status: what GET /gateways/{name} shows, read under the data path's lock (the handler is guarded).
public sealed partial class GatewayActor
{
    private GatewayStatus BuildStatus()
    {
        var plan = _dp.Plan;
        var c = _dp.Counters;
        c.Drops[(int)Pipeline.GatewayDrop.IngressBusy] = _gate.IngressBusyDrops; // the data path never writes this one
        var self = Akka.Cluster.Cluster.Get(Context.System).SelfAddress;
        var shards = _dp.Shards.Select(s => CacheStats.Of(s.Stats, _entities[s.Index] is { } e ? (e.Path.Address.HasLocalScope ? self : e.Path.Address).ToString() : null)).ToList();
        return new GatewayStatus(
            plan.Name, _node, plan.Generation, _region is null ? "local" : "sharded",
            [.. plan.Tenants.Select(t => t.Name)],
            [.. plan.Ports.Select(PortStatus)],
            new Dictionary<string, long>
            {
                ["frames"] = c.Frames, ["forwarded"] = c.Forwarded, ["hits"] = c.Hits, ["misses"] = c.Misses,
                ["exact-hits"] = c.ExactHits, ["megaflow-hits"] = c.MegaflowHits, ["megaflow-masks"] = _dp.MasksInUse,
                ["slow-path"] = c.SlowPath, ["resolved-by-entity"] = _dp.RemoteResolved, ["dropped"] = c.DroppedTotal,
                ["arp-replies"] = c.ArpReplies, ["arp-requests"] = c.ArpRequests, ["echo-replies"] = c.EchoReplies,
                ["icmp-errors"] = c.IcmpErrors, ["icmp-errors-limited"] = c.IcmpErrorsLimited, ["tcp-resets"] = c.TcpResets,
                ["fragmented"] = c.Fragmented, ["fragments-sent"] = c.FragmentsSent,
            },
            c.StageRunsByName(),
            c.DropsByName(),
            CacheStats.Sum(shards),
            shards,
            _pending.Sum(p => p.Count) + _inflight.Values.Sum(i => i.Frames.Count),
            _shardMoves,
            _dp.NeighborCount,
            [.. plan.Tenants.Where(t => t.Snat is not null).Select(t => new NatPoolStatus(
                t.Name, t.Snat!.BlockSize, t.Snat.BlockCount, _dp.Ledger.LeasedCount(t.Vni), _dp.Ledger.FreeCount(t.Vni)))]);
    }

    private GatewayPortStatus PortStatus(GatewayPort p)
    {
        var plan = _dp.Plan;
        var s = _supervision.GetValueOrDefault(p.Id);
        var (kind, role, tenant) = (p.Ref.Kind.ToString().ToLowerInvariant(), p.Role.ToString().ToLowerInvariant(), plan.Tenants[p.TenantIndex].Name);
        var restarts = s?.Restarts ?? 0;
        var failures = s?.OpenFailures ?? 0;
        return _ports.TryGetValue(p.Id, out var port)
            ? new GatewayPortStatus(p.Id, p.Ref.Name, kind, role, tenant, port.State.ToString().ToLowerInvariant(), port.Counters.RxFrames, port.Counters.TxFrames, port.Counters.TotalDrops,
                restarts, failures, s?.LastError, p.Mtu)
            : new GatewayPortStatus(p.Id, p.Ref.Name, kind, role, tenant, s?.Restarting == true ? "restarting" : "absent", 0, 0, 0, restarts, failures, s?.LastError, p.Mtu);
    }
}
