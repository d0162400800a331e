using Spectre.Console;
using System.Text;
using System.Text.Json.Nodes;

namespace Fabric.Node.Cli;

/// <summary>Human renderings of management API replies.</summary>
public static class Tables
{
    public static string Members(JsonNode n)
    {
        var rows = n["members"]!.AsArray().Select(m => new[]
        {
            m!["node"]!.ToString(), m["status"]!.ToString(), string.Join(",", m["roles"]!.AsArray().Select(r => r!.ToString())),
            m["node"]!.ToString() == n["leader"]?.ToString() ? "leader" : "",
            m["node"]!.ToString() == n["selfNode"]?.ToString() ? "self" : "",
        });
        var text = Table(["NODE", "STATUS", "ROLES", "LEADER", "SELF"], rows);
        var unreachable = n["unreachable"]!.AsArray();
        return unreachable.Count == 0 ? text
            : text + "\nunreachable: " + string.Join(", ", unreachable.Select(u => u!["node"]!.ToString()));
    }

    public static string ActorTree(JsonNode n)
    {
        var sb = new StringBuilder();
        void Walk(JsonNode node, string indent)
        {
            sb.Append(indent).AppendLine(node["path"]!.ToString());
            foreach (var child in node["children"]!.AsArray()) Walk(child!, indent + "  ");
        }
        Walk(n, "");
        return sb.ToString().TrimEnd();
    }

    public static string Intent(JsonNode n)
    {
        var document = n["document"];
        return $"intent version {n["version"]} (change {n["changeId"]})\n" +
               (document is null ? "(empty)" : document.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
    }

    public static string Applied(JsonNode n) =>
        $"node {n["node"]} runs intent version {n["version"]} (change {n["changeId"]})\n" +
        Table(["KIND", "NAME"], n["elements"]!.AsArray().Select(e => new[] { e!["kind"]!.ToString(), e["name"]!.ToString() })) +
        (n["restarting"]?.AsArray() is { Count: > 0 } restarting
            ? "\nrestarting (failed to start, retried with backoff):\n" + Table(["KIND", "NAME", "FAILURES", "LAST ERROR"],
                restarting.Select(r => new[] { r!["kind"]!.ToString(), r["name"]!.ToString(), r["startFailures"]!.ToString(), r["lastError"]!.ToString() }))
            : "");

    public static string Proposal(JsonNode n) => n["status"]?.ToString() == "unchanged"
        ? $"unchanged: the document equals intent version {n["version"]}"
        : $"change {n["changeId"]} proposed on intent version {n["baseVersion"]}; follow it with 'fabric-node change show {n["changeId"]}'";

    public static string Changes(JsonNode n) => Table(
        ["ID", "STATUS", "BASE", "VERSION", "AUTHOR", "PROPOSED", "VERIFIER"],
        n.AsArray().Select(c => new[]
        {
            c!["changeId"]!.ToString(), c["status"]!.ToString(), c["baseVersion"]!.ToString(),
            c["committedVersion"]?.ToString() ?? "-", c["author"]!.ToString(), c["proposedAt"]!.ToString(),
            c["verifier"]?.ToString() ?? "-",
        }));

    public static string Change(JsonNode c)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"change {c["changeId"]}: {c["status"]}");
        sb.AppendLine($"  proposed  {c["proposedAt"]} by {c["author"]} on intent version {c["baseVersion"]}");
        if (c["verifier"] is { } v) sb.AppendLine($"  verifier  {v}");
        if (c["decidedAt"] is { } d) sb.AppendLine($"  decided   {d}");
        if (c["committedVersion"] is { } cv) sb.AppendLine($"  committed as intent version {cv}");
        if (c["ghost"] is { } g)
            sb.AppendLine($"  ghost     {(g["verified"]?.GetValue<bool>() == true ? "verified" : "rejected")}: {g["probes"]} probe(s), " +
                          $"{g["checksPassed"]} check(s) passed, {g["checksFailed"]} failed, in {g["seconds"]?.GetValue<double>():F2} s");
        var findings = c["findings"]?.AsArray() ?? [];
        if (findings.Count > 0) sb.AppendLine("  findings:");
        foreach (var f in findings)
        {
            sb.AppendLine($"  - [{f!["check"]}] {f["reason"]}");
            foreach (var hop in f["path"]?.AsArray() ?? []) sb.AppendLine($"      {hop}");
        }
        var diff = c["diff"]?.AsArray() ?? [];
        if (diff.Count > 0) sb.AppendLine($"  differs from main ({diff.Count} probe(s)):");
        foreach (var x in diff) sb.AppendLine($"  ~ {x!["probe"]}\n      before: {x["before"]}\n      after:  {x["after"]}");
        foreach (var p in c["placement"]?.AsArray() ?? []) sb.AppendLine($"  placement {p}");
        return sb.ToString().TrimEnd();
    }

    /// <summary>Table width when the output is not a terminal: wide enough that no row wraps (scripts grep lines).</summary>
    public const int UnboundedWidth = 4096;

    private static readonly AsyncLocal<int?> CurrentWidth = new();

    /// <summary>The width tables fit into: the terminal's when printing to one, else <see cref="UnboundedWidth"/>.</summary>
    public static int Width
    {
        get => CurrentWidth.Value ?? UnboundedWidth;
        set => CurrentWidth.Value = value;
    }

    /// <summary>
    /// Rows under a header line, columns two spaces apart (Spectre.Console, no borders, no colour);
    /// cells wrap within their column when the table is wider than <see cref="Width"/>.
    /// </summary>
    public static string Table(string[] headers, IEnumerable<string[]> rows)
    {
        var table = new Spectre.Console.Table().Border(Spectre.Console.TableBorder.None);
        foreach (var header in headers) table.AddColumn(new Spectre.Console.TableColumn(new Spectre.Console.Text(header)).PadLeft(0).PadRight(2));
        foreach (var row in rows) table.AddRow(row.Select(cell => (Spectre.Console.Rendering.IRenderable)new Spectre.Console.Text(cell)));
        var text = new StringWriter();
        var console = Spectre.Console.AnsiConsole.Create(new Spectre.Console.AnsiConsoleSettings
        {
            Out = new Spectre.Console.AnsiConsoleOutput(text),
            Ansi = Spectre.Console.AnsiSupport.No,
            ColorSystem = Spectre.Console.ColorSystemSupport.NoColors,
            Interactive = Spectre.Console.InteractionSupport.No,
        });
        console.Profile.Width = Width;
        console.Write(table);
        return string.Join('\n', text.ToString().Split('\n').Select(line => line.TrimEnd()).Where(line => line.Length > 0));
    }
}
