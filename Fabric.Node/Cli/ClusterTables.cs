using System.Text.Json.Nodes;

namespace Fabric.Node.Cli;

/// <summary>Human renderings of the sharding and log routes.</summary>
public static class ClusterTables
{
    public static string Regions(JsonNode n)
    {
        var regions = n["regions"]?.AsArray() ?? [];
        return regions.Count == 0 ? "no shard region on this node" : Tables.Table(["REGION"], regions.Select(r => new[] { r!.ToString() }));
    }

    /// <summary><c>GET /cluster/shards/{region}?cluster=true</c>: every node's shards of the region.</summary>
    public static string RegionStats(JsonNode n)
    {
        var nodes = n["nodes"]?.AsArray() ?? [];
        var rows = nodes.Select(node =>
        {
            var shards = node!["shards"]?.AsArray() ?? [];
            return new[] { node["node"]!.ToString(), shards.Count.ToString(), shards.Sum(s => s!["numEntities"]!.GetValue<int>()).ToString() };
        });
        return $"region {n["region"]}\n" + Tables.Table(["NODE", "SHARDS", "ENTITIES"], rows);
    }

    /// <summary><c>GET /cluster/shards/{region}</c>: this node's shards of the region (Akka Management's shape).</summary>
    public static string ShardStats(string region, JsonNode n)
    {
        var shards = n["regions"]?.AsArray() ?? [];
        return $"region {region} on this node: {shards.Count} shard(s), {shards.Sum(s => s!["numEntities"]!.GetValue<int>())} entities\n" +
               Tables.Table(["SHARD", "ENTITIES"], shards.Select(s => new[] { s!["shardId"]!.ToString(), s["numEntities"]!.ToString() }));
    }

    public static string LogLine(JsonNode line)
    {
        var time = line["time"]?.GetValue<DateTimeOffset>() is { } t ? t.ToUniversalTime().ToString("HH:mm:ss.fff") : "";
        return $"{time} {line["level"],-7} {line["source"]}: {line["message"]}";
    }
}
