using System.Text;
using System.Text.Json.Nodes;

namespace Fabric.Node.Cli;

/// <summary>Human renderings of the switching routes (`host show`, `port list`).</summary>
public static class SwitchingTables
{
    public static string Host(JsonNode h)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"host {h["name"]} on {h["node"]}: MFE {h["mfe"]}{(h["ghost"]?.GetValue<bool>() == true ? " (ghost)" : "")}, " +
                      $"table generation {h["tableGeneration"]}, {h["remoteContainers"]} remote container(s)");
        if (h["overlay"] is { } o)
        {
            sb.AppendLine($"  overlay {o["local"]}: rx {o["rxFrames"]} frames, tx {o["txFrames"]} frames{Drops(o["drops"], ", drops ")}");
        }

        sb.AppendLine(Tables.Table(
            ["DCN", "VNIC MAC", "PORT", "STATE", "RX FRAMES", "TX FRAMES", "PORT DROPS", "DROPS (NO CONTAINER)"],
            (h["dcns"]?.AsArray() ?? []).Select(d => new[]
            {
                d!["name"]!.ToString(), d["vnicMac"]!.ToString(), $"{d["portKind"]}:{d["port"]}",
                d["portState"]!.ToString() + (d["portDetail"] is { } detail ? $" ({detail})" : ""),
                d["rxFrames"]!.ToString(), d["txFrames"]!.ToString(), d["portDrops"]!.ToString(), Drops(d["drops"]),
            })));
        sb.Append(PortTable(h["ports"]?.AsArray() ?? [], withHost: false));
        return sb.ToString().TrimEnd();
    }

    public static string Ports(JsonNode n) => PortTable(n["ports"]?.AsArray() ?? [], withHost: true);

    private static string PortTable(JsonArray ports, bool withHost)
    {
        string[] headers = ["PORT", "DCN", "TAG", "MAC", "IP", "TENANT", "STATE", "RX FRAMES", "RX BYTES", "TX FRAMES", "TX BYTES", "DROPS"];
        return Tables.Table(
            withHost ? ["HOST", .. headers] : headers,
            ports.Select(p =>
            {
                string[] row =
                [
                    p!["name"]!.ToString(), p["dcn"]!.ToString(), p["tag"]!.ToString(), p["mac"]!.ToString(), p["ip"]!.ToString(),
                    p["tenant"]?.ToString() ?? "-", p["state"]!.ToString(), p["rxFrames"]!.ToString(), p["rxBytes"]!.ToString(),
                    p["txFrames"]!.ToString(), p["txBytes"]!.ToString(), Drops(p["drops"]),
                ];
                return withHost ? [p["host"]!.ToString(), .. row] : row;
            }));
    }

    private static string Drops(JsonNode? drops, string prefix = "")
    {
        var pairs = drops?.AsObject().Select(d => $"{d.Key}={d.Value}").ToList() ?? [];
        return pairs.Count == 0 ? (prefix.Length == 0 ? "-" : "") : prefix + string.Join(",", pairs);
    }
}
