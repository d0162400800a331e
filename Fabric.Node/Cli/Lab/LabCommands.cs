using System.CommandLine;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Fabric.Messages.Intent;
using Fabric.Node.Hosting;

namespace Fabric.Node.Cli.Lab;

/// <summary>
/// <c>fabric-node lab up|down [INTENT]</c> (root): network namespaces behind the intent's TAP
/// ports, as its <c>lab</c> section describes them (docs/intent-schema.md), so real traffic
/// (ping, iperf3) crosses the fabric in one step. <c>lab down</c> removes what <c>lab up</c> made;
/// a marker under <see cref="StateDirectory"/> remembers which TAP devices the lab created.
/// </summary>
public static class LabCommands
{
    /// <summary>Where <c>lab up</c> notes each TAP device it created (so <c>lab down</c> removes only those).</summary>
    public static string StateDirectory { get; set; } = "/run/fabric-lab";

    public static Command Build()
    {
        var intent = new Argument<string?>("INTENT") { Description = "an intent with a 'lab' section (default: samples/lab-intent.yaml)", Arity = ArgumentArity.ZeroOrOne };
        var up = new Command("up", "make a namespace with its address and route behind each TAP port the intent's lab section names; prints ping/iperf3 lines to try") { intent };
        up.SetAction((line, _) => Up(line.GetValue(intent), line.InvocationConfiguration.Output));
        var down = new Command("down", "remove the namespaces, bridges and TAP devices 'lab up' made for the intent") { intent };
        down.SetAction((line, _) => Down(line.GetValue(intent), line.InvocationConfiguration.Output));
        return new Command("lab", "a lab around the fabric: Linux network namespaces behind the intent's TAP ports (needs root)") { up, down };
    }

    public static async Task<int> Up(string? file, TextWriter output)
    {
        var lab = Read(file);
        var made = new List<(LabNamespace Ns, bool Tap)>();
        try
        {
            foreach (var ns in lab)
            {
                if (Directory.Exists($"/run/netns/{ns.Namespace}"))
                    throw new CliException($"namespace {ns.Namespace} exists already: run 'fabric-node lab down' first", 1);
                var makeTap = !Directory.Exists($"/sys/class/net/{ns.Port}");
                made.Add((ns, makeTap));
                if (makeTap) MarkTap(ns, true);
                foreach (var command in ns.UpCommands(makeTap)) Ip(command);
                await output.WriteLineAsync($"lab {ns.Namespace}: eth0 {ns.Address}{(ns.Gateway is null ? "" : $" via {ns.Gateway}")}, bridged to TAP {ns.Port}{(makeTap ? " (made)" : "")}");
            }
        }
        catch
        {
            // Nothing half-made stays behind.
            foreach (var (ns, tap) in made) Remove(ns, tap);
            throw;
        }

        await output.WriteLineAsync();
        await output.WriteLineAsync("Try (once fabric-node runs this intent):");
        foreach (var from in lab)
        {
            foreach (var to in lab.Where(t => t != from))
                await output.WriteLineAsync($"  ip netns exec {from.Namespace} ping -c 3 {to.Host}");
        }
        if (lab.Count >= 2)
        {
            await output.WriteLineAsync($"  ip netns exec {lab[1].Namespace} iperf3 -s -D");
            await output.WriteLineAsync($"  ip netns exec {lab[0].Namespace} iperf3 -c {lab[1].Host} -t 5");
        }
        await output.WriteLineAsync($"Remove it with: fabric-node lab down{(file is null ? "" : $" {file}")}");
        return 0;
    }

    public static async Task<int> Down(string? file, TextWriter output)
    {
        foreach (var ns in Read(file))
        {
            var madeTap = File.Exists(TapMarker(ns));
            Remove(ns, madeTap);
            await output.WriteLineAsync($"lab {ns.Namespace}: removed (bridge {ns.Bridge}{(madeTap ? $", TAP {ns.Port}" : "")})");
        }
        return 0;
    }

    private static List<LabNamespace> Read(string? file)
    {
        if (geteuid() != 0) throw new CliException("lab needs root (network namespaces, bridges and TAP devices)", 2);
        var path = file ?? Path.Combine(AppContext.BaseDirectory, "samples", "lab-intent.yaml");
        if (!File.Exists(path)) throw new CliException($"no such file '{path}'", 2);
        var parsed = IntentParser.Parse(File.ReadAllBytes(path), IntentParseLimits.Default);
        if (!parsed.IsValid || parsed.Document is null)
            throw new CliException($"{path} is not a valid intent document: {parsed.Errors.FirstOrDefault()}", 2);
        if (parsed.Document.Lab.IsDefaultOrEmpty) throw new CliException($"{path} has no 'lab' section (docs/intent-schema.md)", 2);
        return parsed.Document.Lab.Select(LabNamespace.For).ToList();
    }

    /// <summary>Best effort: each step may already be gone (a half-made lab, a second <c>lab down</c>).</summary>
    private static void Remove(LabNamespace ns, bool tap)
    {
        foreach (var command in ns.DownCommands(tap)) Ip(command, mayFail: true);
        MarkTap(ns, false);
    }

    private static string TapMarker(LabNamespace ns) => Path.Combine(StateDirectory, $"{ns.Port}.tap");

    private static void MarkTap(LabNamespace ns, bool made)
    {
        if (!made)
        {
            File.Delete(TapMarker(ns));
            return;
        }
        Directory.CreateDirectory(StateDirectory);
        File.WriteAllText(TapMarker(ns), ns.Namespace);
    }

    private static void Ip(string arguments, bool mayFail = false)
    {
        var info = new ProcessStartInfo("ip") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var word in arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries)) info.ArgumentList.Add(word);
        using var process = Process.Start(info) ?? throw new CliException("cannot run 'ip' (iproute2)", 2);
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0 && !mayFail) throw new CliException($"ip {arguments}: {error.Trim()}", 1);
    }

    [DllImport("libc")]
    private static extern uint geteuid();
}
