using System.Text;
using System.Text.Json.Nodes;

namespace Fabric.Node.Cli;

/// <summary>Human renderings of the cellular routes (`hv list`, `hv show`).</summary>
public static class CellularTables
{
    public static string Hypervisors(JsonNode n) => Tables.Table(
        ["HYPERVISOR", "NODE", "BRIDGE", "MODEMS (PHASE, ADDRESS)", "VMS (LEASED ADDRESS)"],
        (n["hypervisors"]?.AsArray() ?? []).Select(h => new[]
        {
            h!["name"]!.ToString(), h["node"]!.ToString(), $"{h["bridge"]} {h["bridgeMac"]}",
            string.Join(", ", (h["modems"]?.AsArray() ?? []).Select(m => $"{m!["name"]} {m["phase"]} {m["address"]?.ToString() ?? "-"}")),
            string.Join(", ", (h["vms"]?.AsArray() ?? []).Select(v => $"{v!["name"]} {v["leasedAddress"]?.ToString() ?? "-"}")),
        }));

    public static string Hypervisor(JsonNode h)
    {
        var sb = new StringBuilder();
        var bridge = h["bridge"]!;
        sb.AppendLine($"hypervisor {h["name"]} on {h["node"]}: bridge {bridge["name"]} {bridge["mac"]}, gateway {bridge["gateway"]}, " +
                      $"lease {bridge["leaseSeconds"]} s, renew every {bridge["renewSeconds"]} s");
        sb.AppendLine(Tables.Table(
            ["MODEM", "DEVICE", "APN", "PHASE", "REGISTRATION", "SIGNAL", "BEARER", "ADDRESS", "IMEI", "DIALS", "DROPS", "REOPENS", "LAST ERROR"],
            (h["modems"]?.AsArray() ?? []).Select(m => new[]
            {
                m!["name"]!.ToString(), m["device"]!.ToString(), m["apn"]!.ToString(), m["phase"]!.ToString(),
                m["registration"]?.ToString() ?? "-", m["signalDbm"] is { } dbm ? $"{dbm} dBm" : "-", m["bearer"]!.ToString(),
                m["address"]?.ToString() ?? "-", m["imei"]?.ToString() ?? "-", m["counters"]!["dials"]!.ToString(),
                m["counters"]!["bearerDrops"]!.ToString(), m["counters"]!["reopens"]!.ToString(), m["lastError"]?.ToString() ?? "-",
            })).TrimEnd());
        sb.Append(Tables.Table(
            ["VM", "MAC", "MODE", "MODEM", "PORT", "STATE", "CELLULAR", "LEASED", "TO MODEM", "TO VM", "DHCP OFFER/ACK/NAK", "DROPS"],
            (h["vms"]?.AsArray() ?? []).Select(v => new[]
            {
                v!["name"]!.ToString(), v["mac"]!.ToString(), v["mode"]!.ToString(), v["modem"]!.ToString(),
                $"{v["portKind"]}:{v["port"]}", v["portError"] is { } error ? $"{v["portState"]} ({error})" : v["portState"]!.ToString(),
                v["cellularAddress"]?.ToString() ?? "-", v["leasedAddress"]?.ToString() ?? "-",
                v["toModem"]!.ToString(), v["toVm"]!.ToString(), $"{v["dhcpOffers"]}/{v["dhcpAcks"]}/{v["dhcpNaks"]}",
                string.Join(" ", (v["drops"]?.AsObject() ?? []).Select(d => $"{d.Key}={d.Value}")),
            })));
        return sb.ToString();
    }

    public static string Modem(JsonNode m)
    {
        var c = m["counters"]!;
        var d = m["data"]!;
        return $"""
            modem {m["name"]} ({m["device"]}, link {m["link"]}), APN {m["apn"]}: {m["phase"]} for {m["phaseForMs"]} ms
              registration {m["registration"]?.ToString() ?? "-"}, signal {(m["signalDbm"] is { } dbm ? $"{dbm} dBm" : "-")}, IMEI {m["imei"]?.ToString() ?? "-"}, SIM {m["sim"]?.ToString() ?? "-"}
              bearer {m["bearer"]}, address {m["address"]?.ToString() ?? "-"}, last error {m["lastError"]?.ToString() ?? "-"}
              commands {c["commandsSent"]}, timeouts {c["timeouts"]}, errors {c["errors"]}, garbage lines {c["garbageLines"]}, URCs {c["urcs"]}
              dials {c["dials"]}, bearer drops {c["bearerDrops"]}, address changes {c["addressChanges"]}, reboots {c["reboots"]}, re-opens {c["reopens"]}
              data {d["port"]}: {d["txPackets"]} packets out, {d["rxPackets"]} in, {d["drops"]} dropped
            """;
    }
}
