using System.Text;
using System.Text.Json.Nodes;

namespace Fabric.Node.Cli;

/// <summary>Human renderings of the gateway routes (`gateway show`, `flows top`).</summary>
public static class GatewayTables
{
    public static string Gateway(JsonNode n)
    {
        var s = n["status"]!;
        var sb = new StringBuilder();
        sb.AppendLine($"gateway {s["name"]} on {s["node"]}: generation {s["generation"]}, {s["mode"]} flow cache, tenants {string.Join(", ", s["tenants"]!.AsArray().Select(t => t!.ToString()))}");
        sb.AppendLine();
        sb.AppendLine(Tables.Table(["PORT", "ID", "KIND", "ROLE", "TENANT", "STATE", "RX", "TX", "DROPS", "RESTARTS"],
            s["ports"]!.AsArray().Select(p => new[]
            {
                p!["name"]!.ToString(), p["id"]!.ToString(), p["kind"]!.ToString(), p["role"]!.ToString(), p["tenant"]!.ToString(),
                p["state"]!.ToString(), p["rxFrames"]!.ToString(), p["txFrames"]!.ToString(), p["drops"]!.ToString(), p["restarts"]?.ToString() ?? "0",
            })));
        sb.AppendLine();
        sb.AppendLine("counters: " + Pairs(s["counters"]!, all: true));
        sb.AppendLine("stage runs: " + Pairs(s["stageRuns"]!, all: true));
        sb.AppendLine("drops: " + Pairs(s["drops"]!, all: false));
        if (s["stages"] is JsonArray stages && stages.Count > 0)
        {
            sb.AppendLine();
            sb.AppendLine(Tables.Table(["TENANT", "STAGE", "GEN", "ITEMS", "HOLDS", "NEXT", "FORWARD", "DROP", "REJECT"],
                stages.Select(t => new[]
                {
                    t!["tenant"]!.ToString(), t["stage"]!.ToString(), t["generation"]!.ToString(), t["itemCount"]!.ToString(), t["summary"]!.ToString(),
                    t["verdicts"]?["next"]?.ToString() ?? "0", t["verdicts"]?["forward"]?.ToString() ?? "0",
                    t["verdicts"]?["drop"]?.ToString() ?? "0", t["verdicts"]?["reject"]?.ToString() ?? "0",
                })).TrimEnd());
            var rules = stages.Where(t => t!["stage"]!.ToString() == "firewall" && t["itemCount"]!.GetValue<int>() > 1).ToList();
            if (rules.Count > 0)
            {
                sb.AppendLine();
                sb.AppendLine(Tables.Table(["TENANT", "#", "FIREWALL RULE", "FLOWS", "PACKETS"],
                    rules.SelectMany(t => t!["items"]!.AsArray().Select(i => new[]
                    {
                        t["tenant"]!.ToString(), i!["index"]!.ToString(), i["item"]!.ToString(), i["flows"]!.ToString(), i["packets"]!.ToString(),
                    }))).TrimEnd());
            }
        }
        sb.AppendLine();
        var c = s["cache"]!;
        sb.AppendLine($"flow cache: active {c["active"]}, insertions {c["insertions"]}, hits {c["hits"]}, misses {c["misses"]}, hit rate {Percent(c["hitRate"])}, " +
                      $"evictions {c["evictions"]}, collisions {c["collisions"]}; pending misses {s["pendingMisses"]}, shard moves {s["shardMoves"]}");
        sb.AppendLine();
        var entities = (n["entities"]?.AsArray() ?? []).ToDictionary(e => e!["bucket"]!.GetValue<int>(), e => e!);
        sb.Append(Tables.Table(["BUCKET", "ACTIVE", "INSERTIONS", "HITS", "MISSES", "HIT-RATE", "EVICTIONS", "COLLISIONS", "CONNS", "NAT", "ENTITY-NODE"],
            s["shards"]!.AsArray().Select(b =>
            {
                var e = entities.GetValueOrDefault(b!["bucket"]!.GetValue<int>());
                return new[]
                {
                    b["bucket"]!.ToString(), b["active"]!.ToString(), b["insertions"]!.ToString(), b["hits"]!.ToString(), b["misses"]!.ToString(),
                    Percent(b["hitRate"]), b["evictions"]!.ToString(), b["collisions"]!.ToString(), b["connections"]!.ToString(),
                    e?["natBindings"]?.ToString() ?? "-", e?["node"]?.ToString() ?? "-",
                };
            })));
        return sb.ToString().TrimEnd();
    }

    public static string FlowsTop(JsonNode n) => Tables.Table(
        ["GATEWAY", "BUCKET", "ACTIVE", "HITS", "MISSES", "HIT-RATE", "EVICTIONS", "CONNS", "ENTITY"],
        n.AsArray().Select(r => new[]
        {
            r!["gateway"]!.ToString(), r["bucket"]!.ToString(), r["active"]!.ToString(), r["hits"]!.ToString(), r["misses"]!.ToString(),
            Percent(r["hitRate"]), r["evictions"]!.ToString(), r["connections"]!.ToString(), r["owner"]?.ToString() ?? "-",
        }));

    private static string Percent(JsonNode? rate) => rate is null ? "-" : $"{rate.GetValue<double>() * 100:F1}%";

    private static string Pairs(JsonNode map, bool all)
    {
        var pairs = map.AsObject().Where(kv => all || kv.Value!.GetValue<long>() != 0).Select(kv => $"{kv.Key}={kv.Value}").ToList();
        return pairs.Count == 0 ? "none" : string.Join(" ", pairs);
    }
}
