using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Fabric.Node.Cli;

/// <summary>Human renderings of the pseudowire routes (`trunk show`, `pw list`).</summary>
public static class PseudowireTables
{
    public static string Trunk(JsonNode t)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"trunk {t["name"]} on {t["pe"]} (attachment circuit {t["attachmentCircuit"]}): {t["state"]}");
        sb.AppendLine($"  mode {t["mode"]}, balance {t["balance"]} ({t["flowsAssigned"]} flows assigned, {t["flowIdleMoves"]} moved after an idle gap, " +
                      $"{t["flowFailovers"]} failed over, {t["flowLiveEvictions"]} evicted while busy), {t["active"]} active, min {t["minActive"]}, " +
                      $"{t["transitions"]} trunk / {t["memberTransitions"]} member transitions, {t["trunkDownDrops"]} frames dropped while down");
        sb.Append(Tables.Table(
            ["MEMBER", "WEIGHT", "STATE", "ACTIVE", "TX FRAMES", "TX BYTES", "FRAME SHARE", "BYTE SHARE", "FLAPS"],
            (t["members"]?.AsArray() ?? []).Select(m => new[]
            {
                m!["pw"]!.ToString(), m["weight"]!.ToString(), m["state"]!.ToString(),
                m["active"]!.GetValue<bool>() ? "yes" : "no", m["txFrames"]!.ToString(), m["txBytes"]!.ToString(),
                Percent(m["frameShare"]), Percent(m["byteShare"]), m["transitions"]!.ToString(),
            })));
        return sb.ToString();
    }

    public static string Pws(JsonNode n) => Tables.Table(
        ["PW", "PE", "REMOTE PE", "TRUNK", "LABELS (LOCAL/REMOTE)", "REMOTE", "STATE", "TX FRAMES", "RX FRAMES", "REORDERED", "HELLOS TX/RX"],
        (n["pws"]?.AsArray() ?? []).Select(p => new[]
        {
            p!["name"]!.ToString(), p["pe"]!.ToString(), p["remotePe"]!.ToString(), p["trunk"]?.ToString() ?? "-",
            $"{p["localLabel"]}/{p["remoteLabel"]}", p["remote"]!.ToString(), p["state"]!.ToString(),
            p["txFrames"]!.ToString(), p["rxFrames"]!.ToString(), p["rxReordered"]!.ToString(),
            $"{p["hellosSent"]}/{p["hellosReceived"]}",
        }));

    private static string Percent(JsonNode? share) =>
        (share?.GetValue<double>() ?? 0).ToString("P1", CultureInfo.InvariantCulture);
}
