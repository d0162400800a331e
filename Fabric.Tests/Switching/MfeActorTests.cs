using System.Diagnostics;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Guardian;
using Fabric.Actors.Switching;
using Fabric.Messages.Intent;
using Fabric.Tests.Support;
using Xunit.Abstractions;

namespace Fabric.Tests.Switching;

/// <summary>The host / MFE / VNIC / port actors: made and changed by specs, one port at a time.</summary>
public sealed class MfeActorTests(ITestOutputHelper output) : TestKit("akka.loglevel = WARNING")
{
    private static IntentDocument WithContainer(IntentDocument intent, ContainerIntent? extra)
    {
        var host = intent.Hosts.First(h => h.Name == "host-1");
        var changed = host with { Containers = extra is null ? host.Containers : host.Containers.Add(extra) };
        return intent with { Hosts = intent.Hosts.Replace(host, changed) };
    }

    [Fact]
    public async Task The_actor_tree_follows_the_spec_and_adding_or_removing_a_container_loses_none_of_the_others_frames()
    {
        FramePort? dcn1 = null;
        long delivered = 0, lastTicks = 0, maxGapTicks = 0;
        long changeFrom = long.MaxValue, changeTo = long.MaxValue;
        var node = new SwitchingNode(genevePort: (ushort)(49000 + Environment.ProcessId % 1000), portFactory: (port, id) =>
        {
            if (port.Name != "dcn-1")
            {
                return SwitchingNode.IdlePort(port, id);
            }

            dcn1 = new FramePort(port.Name, id)
            {
                KeepSent = false,
                OnSend = batch =>
                {
                    long now = Stopwatch.GetTimestamp();
                    long last = Interlocked.Exchange(ref lastTicks, now);
                    long at = Interlocked.Read(ref changeFrom);
                    if (last != 0 && now >= at && last <= Interlocked.Read(ref changeTo))
                    {
                        long gap = now - last;
                        long seen;
                        while (gap > (seen = Interlocked.Read(ref maxGapTicks)) && Interlocked.CompareExchange(ref maxGapTicks, gap, seen) != seen)
                        {
                        }
                    }

                    for (int i = 0; i < batch.Count; i++)
                    {
                        if (Frames.TagOf(batch.Frame(i).ToArray()) == 102)
                        {
                            Interlocked.Increment(ref delivered);
                        }
                    }
                },
            };
            return dcn1;
        });
        using var _ = node;
        var kind = new MfeElementKind(node);
        var intent = MfeRig.Document;
        var spec = Assert.Single(kind.Desired(intent, "node-1"));
        var host = Sys.ActorOf(kind.Props(spec), spec.ChildName);
        var timeout = TimeSpan.FromSeconds(10);
        await Eventually.Holds(() => node.Mfes.TryGetValue("host-1", out var m) && m.IsReady, timeout, "host-1's MFE forwarding");

        // The tree: host-host-1/mfe-mfe-1 with a vnic-* per DCN and a port-* per container.
        var mfePath = $"{host.Path}/mfe-mfe-1";
        foreach (var child in new[] { "vnic-dcn-1", "vnic-dcn-2", "port-web", "port-db", "port-cache", "port-other" })
        {
            await Sys.ActorSelection($"{mfePath}/{child}").ResolveOne(timeout);
        }

        var runtime = node.Mfes["host-1"];
        var webPort = runtime.Ports["web"];
        var dbPort = runtime.Ports["db"];
        var dbActor = await Sys.ActorSelection($"{mfePath}/port-db").ResolveOne(timeout);

        // web streams to db (hairpin on dcn-1) at a steady pace while a container is added and removed.
        var rig = new MfeRig();
        var frame = rig.Frame("web", "db");
        long injected = 0;
        using var stop = new CancellationTokenSource();
        var pump = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                dcn1!.Inject(Enumerable.Repeat(frame, 20).ToArray());
                Interlocked.Add(ref injected, 20);
                Thread.Sleep(1);
            }
        });

        await Task.Delay(500);
        Interlocked.Exchange(ref changeFrom, Stopwatch.GetTimestamp());
        var added = WithContainer(intent, new ContainerIntent("cache2", "dcn-1", 150, Mac("02:00:00:00:11:05"), Ip("10.1.0.13"), "blue"));
        host.Tell(new ElementSpecChanged(Assert.Single(kind.Desired(added, "node-1"))));
        await Eventually.Holds(() => runtime.IsReady && runtime.Ports.ContainsKey("cache2"), timeout, "cache2's port forwarding");
        await Sys.ActorSelection($"{mfePath}/port-cache2").ResolveOne(timeout);
        await Task.Delay(300);
        host.Tell(new ElementSpecChanged(Assert.Single(kind.Desired(intent, "node-1"))));
        await Eventually.Holds(() => !runtime.Ports.ContainsKey("cache2") && runtime.Datapath.Table.Locals.Count == 4, timeout, "cache2's port gone");
        await Task.Delay(300);
        Interlocked.Exchange(ref changeTo, Stopwatch.GetTimestamp());
        stop.Cancel();
        await pump;
        await Eventually.Holds(() => Interlocked.Read(ref delivered) == Interlocked.Read(ref injected), timeout,
            $"every injected frame delivered ({Interlocked.Read(ref delivered)} of {Interlocked.Read(ref injected)})");

        double gapMs = maxGapTicks * 1000.0 / Stopwatch.Frequency;
        output.WriteLine($"{injected} frames web -> db, all delivered; largest gap between deliveries while cache2 came and went: {gapMs:F1} ms");
        Assert.Equal(injected, webPort.Counters.RxFrames);
        Assert.Equal(0, webPort.Counters.TotalDrops + dbPort.Counters.TotalDrops);
        // Neither port was re-made: the same objects, the same actor.
        Assert.Same(webPort, runtime.Ports["web"]);
        Assert.Same(dbPort, runtime.Ports["db"]);
        Assert.Equal(dbActor, await Sys.ActorSelection($"{mfePath}/port-db").ResolveOne(timeout));
        await Assert.ThrowsAsync<ActorNotFoundException>(() => Sys.ActorSelection($"{mfePath}/port-cache2").ResolveOne(TimeSpan.FromMilliseconds(500)));
    }

    [Fact]
    public async Task A_container_moved_to_another_tag_and_a_dcn_given_another_port_change_only_themselves()
    {
        var opened = new List<string>();
        var node = new SwitchingNode(genevePort: (ushort)(49500 + Environment.ProcessId % 400), portFactory: (port, id) =>
        {
            lock (opened)
            {
                opened.Add(port.Name);
            }

            return new FramePort(port.Name, id);
        });
        using var _ = node;
        var kind = new MfeElementKind(node);
        var intent = MfeRig.Document;
        var host = Sys.ActorOf(kind.Props(Assert.Single(kind.Desired(intent, "node-1"))), "host-host-1");
        var timeout = TimeSpan.FromSeconds(10);
        await Eventually.Holds(() => node.Mfes.TryGetValue("host-1", out var m) && m.IsReady, timeout, "forwarding");
        var runtime = node.Mfes["host-1"];
        var web = runtime.Ports["web"];
        var dcn1 = runtime.Vnics["dcn-1"];

        var h = intent.Hosts[0];
        var db = h.Containers.First(c => c.Name == "db");
        var dcn2 = h.ContainerDcns.First(d => d.Name == "dcn-2");
        var changedHost = h with
        {
            Containers = h.Containers.Replace(db, db with { LocalTag = 120 }),
            ContainerDcns = h.ContainerDcns.Replace(dcn2, dcn2 with { Port = new PortRef(PortKind.Simulated, "dcn-2-b") }),
        };
        host.Tell(new ElementSpecChanged(Assert.Single(kind.Desired(intent with { Hosts = intent.Hosts.Replace(h, changedHost) }, "node-1"))));
        await Eventually.Holds(() => runtime.IsReady && runtime.Vnics.TryGetValue("dcn-2", out var v) && v.Port.Name == "dcn-2-b", timeout, "the new tag and port in use");

        Assert.Equal(120, runtime.Datapath.Table.Locals.First(l => l.Port.Name == "db").Tag.Value);
        Assert.Same(web, runtime.Ports["web"]);
        Assert.Same(dcn1, runtime.Vnics["dcn-1"]);
        Assert.Equal(["dcn-1", "dcn-2", "dcn-2-b"], opened.Order());
    }

    private static Mac48 Mac(string text) => Mac48.TryParse(text, out var mac) ? mac : throw new FormatException(text);

    private static Ipv4 Ip(string text) => Ipv4.TryParse(text, out var ip) ? ip : throw new FormatException(text);
}
