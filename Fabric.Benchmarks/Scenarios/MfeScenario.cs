using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Akka.Actor;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Guardian;
using Fabric.Actors.Switching;
using Fabric.Messages.Intent;

namespace Fabric.Benchmarks.Scenarios;

/// <summary>
/// The MFE on simulated ports, in one process. Figures:
/// <list type="bullet">
/// <item>fps_64: 64-byte tagged frames per second through one MFE port pair on one thread
/// (simulated VNIC read = template copy, classify by tag, source check, egress and ingress ACL,
/// re-tag, one send per batch to a counting sink), and bytes allocated per frame;</item>
/// <item>cross_host_fps_64: the same frames to a container on another host: encapsulated in
/// Geneve, sent over UDP on loopback (127.0.0.14 → 127.0.0.15), decapsulated, tagged and
/// delivered by the other MFE (frames per second that arrived; sent per second printed too);</item>
/// <item>port_add_ms: from handing the MFE actor a spec with one more container to that
/// container's port forwarding (its table swapped in), median of 20 (no intent commit or ghost
/// verification in it: the cluster test measures those end to end).</item>
/// </list>
/// </summary>
public static class MfeScenario
{
    private const string Intent = """
        nodes:
          - { name: node-a, address: 127.0.0.14, roles: [fabric] }
          - { name: node-b, address: 127.0.0.15, roles: [fabric] }
        tenants:
          - { name: blue, vni: 1001 }
        hosts:
          - name: host-a
            node: node-a
            mfe: { name: mfe-a }
            containerDcns: [ { name: dcn-a, vnicMac: 02:00:00:00:10:01 } ]
            containers:
              - name: web
                dcn: dcn-a
                localTag: 101
                mac: 02:00:00:00:11:01
                ip: 10.1.0.10
                tenant: blue
                egress: { defaultPolicy: allow, rules: [ { name: no-smtp, action: deny, protocol: tcp, ports: 25 } ] }
              - name: db
                dcn: dcn-a
                localTag: 102
                mac: 02:00:00:00:11:02
                ip: 10.1.0.11
                tenant: blue
                ingress: { defaultPolicy: deny, rules: [ { name: from-web, action: allow, source: 10.1.0.0/24 } ] }
          - name: host-b
            node: node-b
            mfe: { name: mfe-b }
            containerDcns: [ { name: dcn-b, vnicMac: 02:00:00:00:10:02 } ]
            containers:
              - { name: api, dcn: dcn-b, localTag: 201, mac: 02:00:00:00:12:01, ip: 10.1.0.20, tenant: blue }
        """;

    public static int Run(string[] args)
    {
        double seconds = Math.Clamp(Option(args, "--seconds", 2), 0.5, 30);
        int reps = (int)Math.Clamp(Option(args, "--reps", 3), 1, 10);
        ushort port = (ushort)Option(args, "--geneve-port", 46081);
        var intent = IntentParser.Parse(Intent).Document!;
        var specA = MfeElementKind.Spec(intent, intent.Hosts[0], port);
        var specB = MfeElementKind.Spec(intent, intent.Hosts[1], port);

        var local = new List<double>();
        var cross = new List<double>();
        double allocatedPerFrame = 0;
        using var nodeA = new SwitchingNode(genevePort: port);
        using var nodeB = new SwitchingNode(genevePort: port);
        var (dpA, vnicA, sinkA) = Mfe(specA, nodeA);
        var (dpB, _, sinkB) = Mfe(specB, nodeB);
        nodeA.EnsureUnderlay(specA.Underlay).Attach(dpA);
        nodeB.EnsureUnderlay(specB.Underlay).Attach(dpB);
        for (int r = 0; r < reps; r++)
        {
            var (fps, perFrame) = Blast(vnicA, dpA, "02:00:00:00:11:02", "10.1.0.11", sinkA, seconds);
            local.Add(fps);
            allocatedPerFrame = Math.Max(allocatedPerFrame, perFrame);
            var (sent, _) = Blast(vnicA, dpA, "02:00:00:00:12:01", "10.1.0.20", sinkA, seconds, sinkB, out double arrived);
            cross.Add(arrived);
            Console.WriteLine(FormattableString.Invariant(
                $"run={r + 1} fps_64={fps:F0} bytes_per_frame={perFrame:F3} cross_host_sent_fps={sent:F0} cross_host_fps_64={arrived:F0}"));
        }

        double portAdd = PortAddMs(intent);
        var l = Stats.Of(local);
        var c = Stats.Of(cross);
        Console.WriteLine($"port_add_ms={portAdd:F1}");
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            scenario = "mfe",
            fps_64 = Math.Round(l.Median),
            fps_64_min = Math.Round(l.Min),
            fps_64_max = Math.Round(l.Max),
            bytes_per_frame = Math.Round(allocatedPerFrame, 3),
            cross_host_fps_64 = Math.Round(c.Median),
            cross_host_fps_64_min = Math.Round(c.Min),
            cross_host_fps_64_max = Math.Round(c.Max),
            port_add_ms = Math.Round(portAdd, 1),
            reps,
            seconds,
        }));
        return 0;
    }

    private static (MfeDatapath Datapath, DcnVnic Vnic, SimulatedPort Sink) Mfe(MfeSpec spec, SwitchingNode node)
    {
        var datapath = new MfeDatapath(spec.Host, node.Pool, ghost: false);
        var sink = new SimulatedPort(spec.Dcns[0].Name, 1);
        var vnic = new DcnVnic(spec.Dcns[0], sink, datapath);
        var ports = spec.Containers.ToDictionary(c => c.Name, c => new ContainerPort(c, null));
        datapath.Table = MfeTable.Build(spec, new Dictionary<string, DcnVnic> { [vnic.Name] = vnic }, ports, 1);
        return (datapath, vnic, sink);
    }

    private static (double Fps, double BytesPerFrame) Blast(DcnVnic vnic, MfeDatapath dp, string dstMac, string dstIp, SimulatedPort sink, double seconds) =>
        Blast(vnic, dp, dstMac, dstIp, sink, seconds, null, out _);

    /// <summary>web's frames to <paramref name="dstMac"/> as fast as one thread forwards them; frames/s handled, allocation per frame.</summary>
    private static (double Fps, double BytesPerFrame) Blast(
        DcnVnic vnic, MfeDatapath dp, string dstMac, string dstIp, SimulatedPort sink, double seconds, SimulatedPort? farSink, out double arrivedFps)
    {
        var generator = new SimulatedPort("gen", 9, new TrafficProfile
        {
            Flows = 64, FrameLengths = [60], Vlan = new VlanId(101), Seed = 3,
            SourceMac = MacAddress.Parse("02:00:00:00:11:01"), SourceAddress = Ipv4Address.Parse("10.1.0.10"),
            DestinationMac = MacAddress.Parse(dstMac), DestinationAddress = Ipv4Address.Parse(dstIp),
        });
        var forwarder = new MfeForwarder(dp.Pool, ghost: false);
        void Batch()
        {
            var batch = dp.Pool.Rent();
            generator.ReceiveBatch(batch, 0);
            forwarder.FromVnic(vnic, dp.Table, batch);
        }

        var warm = Stopwatch.StartNew();
        while (warm.ElapsedMilliseconds < 200)
        {
            Batch();
            if (farSink is not null) Thread.Sleep(0);
        }

        long frames0 = generator.Generated, far0 = farSink?.Counters.TxFrames ?? 0;
        long alloc0 = GC.GetAllocatedBytesForCurrentThread();
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed.TotalSeconds < seconds)
        {
            Batch();
        }

        double elapsed = sw.Elapsed.TotalSeconds;
        long frames = generator.Generated - frames0;
        long allocated = GC.GetAllocatedBytesForCurrentThread() - alloc0;
        Thread.Sleep(100); // the far side drains
        arrivedFps = farSink is null ? 0 : (farSink.Counters.TxFrames - far0) / (elapsed + 0.1);
        return (frames / elapsed, (double)allocated / frames);
    }

    /// <summary>Median time from an MFE spec with one more container to that container forwarding.</summary>
    private static double PortAddMs(IntentDocument intent)
    {
        using var system = ActorSystem.Create("mfe-bench", "akka.loglevel = WARNING");
        using var node = new SwitchingNode(genevePort: 46091);
        var kind = new MfeElementKind(node);
        var host = intent.Hosts[0];
        var actor = system.ActorOf(kind.Props(kind.Desired(intent, "node-a").Single()), "host-host-a");
        WaitFor(() => node.Mfes.TryGetValue("host-a", out var m) && m.IsReady, 10_000);
        var runtime = node.Mfes["host-a"];
        var times = new List<double>();
        for (int i = 0; i < 20; i++)
        {
            var extra = new ContainerIntent($"c{i}", "dcn-a", (ushort)(1000 + i), new Mac48(0x0200_0000_3000UL + (ulong)i), new Ipv4(0x0A01_0100u + (uint)i), "blue");
            var changed = intent with { Hosts = intent.Hosts.Replace(host, host with { Containers = host.Containers.Add(extra) }) };
            var sw = Stopwatch.StartNew();
            actor.Tell(new ElementSpecChanged(kind.Desired(changed, "node-a").Single()));
            WaitFor(() => runtime.Datapath.Table.Locals.Any(p => p.Port.Name == extra.Name), 10_000);
            times.Add(sw.Elapsed.TotalMilliseconds);
            actor.Tell(new ElementSpecChanged(kind.Desired(intent, "node-a").Single()));
            WaitFor(() => runtime.Datapath.Table.Locals.Count == 2, 10_000);
        }

        return Stats.Of(times).Median;
    }

    private static bool WaitFor(Func<bool> condition, int timeoutMs)
    {
        var sw = Stopwatch.StartNew();
        while (sw.ElapsedMilliseconds < timeoutMs)
        {
            if (condition()) return true;
            Thread.SpinWait(100);
        }

        return condition();
    }

    private static double Option(string[] args, string name, double fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? double.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
