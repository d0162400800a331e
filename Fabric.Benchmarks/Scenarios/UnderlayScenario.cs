using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Fabric.Actors.DataPlane.Host;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Benchmarks;

/// <summary>
/// What the I/O ports cost on this machine:
/// <list type="bullet">
/// <item>UDP underlay, 64-byte payloads on 127.0.0.1, one sender thread and one receiver thread,
/// for a bounded time per run: Socket.SendTo/ReceiveFrom; sendmmsg/recvmmsg; and the default
/// Batched mode (sendmmsg with UDP GSO runs). The figure is datagrams/s that reached the
/// receiving port (the sender's rate and CPU per frame are printed too).</item>
/// <item>TAP: a private namespace, a TAP port moved into it, an <see cref="L3Host"/> behind it.
/// RTT = median of `ping` times from the namespace; tap_fps = 60-byte UDP frames/s the port
/// writes into the namespace, counted by the namespace's own UDP stack (/proc/net/snmp).</item>
/// </list>
/// Prints one line per run, then as its LAST line one JSON object with the medians (and min/max)
/// over the repetitions. Everything is torn down even on failure; loops are bounded by time.
/// </summary>
public static partial class UnderlayScenario
{
    private const int PayloadLength = 64;
    private const string NamespaceAddress = "10.213.0.1";
    private const string HostAddress = "10.213.0.2";

    public static int Run(string[] args)
    {
        double seconds = Option(args, "--seconds", 3);
        int reps = (int)Option(args, "--reps", 3);
        int pings = (int)Option(args, "--pings", 50);
        var duration = TimeSpan.FromSeconds(Math.Clamp(seconds, 0.2, 30));
        reps = Math.Clamp(reps, 1, 10);
        pings = Math.Clamp(pings, 5, 500);

        // Three ways to move the same datagrams: per-datagram Socket calls, sendmmsg/recvmmsg,
        // and the default Batched mode (sendmmsg with UDP GSO runs, recvmmsg).
        var udpConfigs = new (string Key, UdpUnderlayOptions Options)[]
        {
            ("socket", new UdpUnderlayOptions { Mode = UdpIoMode.Socket }),
            ("mmsg_no_gso", new UdpUnderlayOptions { Mode = UdpIoMode.Batched, SegmentationOffload = false }),
            ("batched", new UdpUnderlayOptions { Mode = UdpIoMode.Batched }),
        };
        var udpFps = udpConfigs.ToDictionary(c => c.Key, _ => new List<double>());
        var udpCpu = udpConfigs.ToDictionary(c => c.Key, _ => new List<double>());
        for (int r = 0; r < reps; r++)
        {
            foreach ((string key, UdpUnderlayOptions options) in udpConfigs)
            {
                (double rx, double tx, double cpuUs) = MeasureUdp(options, duration);
                udpFps[key].Add(rx);
                udpCpu[key].Add(cpuUs);
                Console.WriteLine(FormattableString.Invariant(
                    $"udp {key} run={r + 1} rx_fps={rx:F0} tx_fps={tx:F0} loss={(tx > 0 ? 1 - rx / tx : 0):P1} cpu_us_per_frame={cpuUs:F2}"));
            }
        }

        var rttRuns = new List<double>();
        var tapFpsRuns = new List<double>();
        var echoRuns = new List<double>();
        string? tapError = null;
        try
        {
            for (int r = 0; r < reps; r++)
            {
                (double rttUs, double tapFps, double echoPps) = MeasureTap(pings, duration);
                rttRuns.Add(rttUs);
                tapFpsRuns.Add(tapFps);
                echoRuns.Add(echoPps);
                Console.WriteLine(FormattableString.Invariant(
                    $"tap run={r + 1} rtt_us_median={rttUs:F1} tap_fps={tapFps:F0} tap_echo_pps={echoPps:F0}"));
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException or TimeoutException or System.ComponentModel.Win32Exception)
        {
            tapError = ex.Message;
            Console.Error.WriteLine($"tap part failed (needs root, iproute2 and iputils-ping; .ci/run installs them): {ex.Message}");
        }

        using var json = new MemoryStream();
        using (var w = new Utf8JsonWriter(json))
        {
            w.WriteStartObject();
            foreach ((string key, _) in udpConfigs)
            {
                WriteStat(w, "udp_fps_" + key, udpFps[key]);
            }

            foreach ((string key, _) in udpConfigs)
            {
                WriteStat(w, "udp_cpu_us_per_frame_" + key, udpCpu[key]);
            }

            WriteStat(w, "tap_rtt_us_median", rttRuns);
            WriteStat(w, "tap_fps", tapFpsRuns);
            WriteStat(w, "tap_echo_pps", echoRuns);
            w.WriteNumber("udp_payload_bytes", PayloadLength);
            w.WriteNumber("seconds_per_run", duration.TotalSeconds);
            w.WriteNumber("repetitions", reps);
            w.WriteNumber("pings_per_run", pings);
            if (tapError is not null)
            {
                w.WriteString("tap_error", tapError);
            }

            w.WriteEndObject();
        }

        Console.WriteLine(System.Text.Encoding.UTF8.GetString(json.ToArray()));
        return tapError is null ? 0 : 1;
    }

    /// <summary>
    /// One sender thread blasts 256-frame batches for <paramref name="duration"/>; returns
    /// received/s, sent/s and this process's CPU time (user + system, both threads, including
    /// the loopback receive path the kernel runs inside the send call) per received frame.
    /// </summary>
    private static (double RxFps, double TxFps, double CpuUsPerFrame) MeasureUdp(UdpUnderlayOptions options, TimeSpan duration)
    {
        using var receiver = new UdpUnderlayPort("bench-rx", 2, new IPEndPoint(IPAddress.Loopback, 0), options);
        using var sender = new UdpUnderlayPort("bench-tx", 1, new IPEndPoint(IPAddress.Loopback, 0), options);
        var pool = new PacketBatchPool(maxRetained: 4, batchCapacity: 256, slotSize: 256, headroom: 0);

        PacketBatch outgoing = pool.Rent();
        while (outgoing.TryAppend(new byte[PayloadLength]))
        {
        }

        for (int i = 0; i < outgoing.Count; i++)
        {
            outgoing[i].Peer = receiver.Local;
        }

        var stop = new ManualResetEventSlim();
        var receiving = new Thread(() =>
        {
            PacketBatch incoming = pool.Rent();
            while (!stop.IsSet)
            {
                incoming.Clear();
                receiver.ReceiveBatch(incoming, 20);
            }

            incoming.Return();
        }) { Name = "bench-udp-rx" };
        receiving.Start();

        long rxStart = receiver.Counters.RxFrames;
        TimeSpan cpuStart = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < duration)
        {
            sender.SendBatch(outgoing);
        }

        TimeSpan sendTime = clock.Elapsed;
        Thread.Sleep(100); // let the receiver drain what is already queued
        stop.Set();
        receiving.Join();
        TimeSpan cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuStart;
        outgoing.Return();
        double seconds = sendTime.TotalSeconds;
        long received = receiver.Counters.RxFrames - rxStart;
        return (received / seconds, sender.Counters.TxFrames / seconds, received > 0 ? cpu.TotalMicroseconds / received : 0);
    }

    /// <summary>
    /// Namespace + TAP + L3Host: median ping RTT in µs; frames/s written into the namespace; echo
    /// replies/s with 64 pings kept in flight (`ping -f -l 64`: both directions through the port).
    /// </summary>
    private static (double RttUs, double TapFps, double EchoPps) MeasureTap(int pings, TimeSpan duration)
    {
        using var ns = new ScenarioNamespace("fbench-tap");
        using TapPort tap = TapPort.Open($"fbt{Environment.ProcessId % 1_000_000}", id: 3);
        ScenarioNamespace.Run("ip", $"link set {tap.InterfaceName} netns {ns.Name}");
        ns.Ip($"addr add {NamespaceAddress}/24 dev {tap.InterfaceName}");
        ns.Ip($"link set {tap.InterfaceName} up");

        var hostMac = MacAddress.Parse("02:fa:b0:00:00:02");
        var host = new L3Host(hostMac, Ipv4Address.Parse(HostAddress));
        var pool = new PacketBatchPool(maxRetained: 16, batchCapacity: 256);
        host.Serve(tap, pool);
        try
        {
            ns.Exec("ping", $"-c 3 -i 0.05 -W 1 {HostAddress}"); // resolves ARP, warms the path
            string output = ns.Exec("ping", $"-c {pings} -i 0.02 -W 1 {HostAddress}", timeoutMs: 30_000 + pings * 100);
            double[] times = RttPattern().Matches(output)
                .Select(m => double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) * 1000)
                .Order()
                .ToArray();
            if (times.Length < pings / 2)
            {
                throw new InvalidOperationException($"only {times.Length} of {pings} pings answered:\n{output}");
            }

            double rtt = Median(times);
            double fps = MeasureTapInjection(ns, tap, hostMac, duration);
            double echo = MeasureFloodPing(ns, duration);
            return (rtt, fps, echo);
        }
        finally
        {
            tap.StopReceiving();
        }
    }

    /// <summary>Writes batches of 60-byte UDP frames (to a closed port) into the namespace; counts what its UDP stack saw.</summary>
    private static double MeasureTapInjection(ScenarioNamespace ns, TapPort tap, MacAddress hostMac, TimeSpan duration)
    {
        string linkJson = ns.Ip($"-j link show dev {tap.InterfaceName}");
        var nsMac = MacAddress.Parse(JsonDocument.Parse(linkJson).RootElement[0].GetProperty("address").GetString()!);
        var profile = new TrafficProfile
        {
            Flows = 1,
            SourceMac = hostMac,
            DestinationMac = nsMac,
            SourceAddress = Ipv4Address.Parse(HostAddress),
            DestinationAddress = Ipv4Address.Parse(NamespaceAddress),
            DestinationPort = 9, // discard: nobody listens, the stack counts it as NoPorts
        };
        using var generator = new SimulatedPort("bench-gen", 9, profile);
        var batch = new PacketBatch(capacity: 256);
        generator.ReceiveBatch(batch, 0);

        long before = UdpDatagramsSeen(ns);
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < duration)
        {
            tap.SendBatch(batch);
        }

        double seconds = clock.Elapsed.TotalSeconds;
        return (UdpDatagramsSeen(ns) - before) / seconds;
    }

    /// <summary>`ping -f -l 64` for the duration (bounded by -w and -c): echo replies per second.</summary>
    private static double MeasureFloodPing(ScenarioNamespace ns, TimeSpan duration)
    {
        int seconds = Math.Max(1, (int)Math.Round(duration.TotalSeconds));
        // Exits 1 when the deadline ends the run before the count: expected, so not checked.
        string output = ns.Exec("ping", $"-f -l 64 -q -s 56 -w {seconds} -c 2000000 {HostAddress}", timeoutMs: (seconds + 30) * 1000, check: false);
        Match m = FloodSummaryPattern().Match(output);
        if (!m.Success)
        {
            throw new InvalidOperationException($"unexpected flood ping output:\n{output}");
        }

        double received = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        double ms = double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
        return ms > 0 ? received / (ms / 1000) : 0;
    }

    /// <summary>UDP InDatagrams + NoPorts + InErrors of the namespace (all datagrams its stack parsed).</summary>
    private static long UdpDatagramsSeen(ScenarioNamespace ns)
    {
        string[] lines = ns.Exec("cat", "/proc/net/snmp").Split('\n').Where(l => l.StartsWith("Udp:", StringComparison.Ordinal)).ToArray();
        string[] names = lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        string[] values = lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        long sum = 0;
        foreach (string field in new[] { "InDatagrams", "NoPorts", "InErrors" })
        {
            sum += long.Parse(values[Array.IndexOf(names, field)], CultureInfo.InvariantCulture);
        }

        return sum;
    }

    private static double Median(IReadOnlyList<double> sorted) =>
        sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;

    private static void WriteStat(Utf8JsonWriter w, string name, List<double> runs)
    {
        if (runs.Count == 0)
        {
            w.WriteNull(name);
            return;
        }

        double[] sorted = runs.Order().ToArray();
        w.WriteNumber(name, Math.Round(Median(sorted), 1));
        w.WriteNumber(name + "_min", Math.Round(sorted[0], 1));
        w.WriteNumber(name + "_max", Math.Round(sorted[^1], 1));
    }

    private static double Option(string[] args, string name, double fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length && double.TryParse(args[i + 1], CultureInfo.InvariantCulture, out double v) ? v : fallback;
    }

    [GeneratedRegex(@"time=([0-9.]+) ms")]
    private static partial Regex RttPattern();

    [GeneratedRegex(@"(\d+) received.*time (\d+)ms")]
    private static partial Regex FloodSummaryPattern();
}
