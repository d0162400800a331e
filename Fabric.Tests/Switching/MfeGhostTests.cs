using System.Collections.Concurrent;
using Akka.TestKit.Xunit2;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Guardian;
using Fabric.Actors.Switching;
using Fabric.Messages.Intent;
using Fabric.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Fabric.Tests.Switching;

/// <summary>
/// The ghost contract: the switching capability registered with a second (ghost) element-kind
/// registry runs a ghost copy of host-1 whose every port comes from the verifier's factory, with
/// its own Geneve port; a frame injected as container web (as <see cref="MfeAttachments"/>
/// says to) comes out tagged for db, marked ghost, and nothing of the main plane is opened.
/// </summary>
public sealed class MfeGhostTests() : TestKit("akka.loglevel = WARNING")
{
    [Fact]
    public async Task A_ghost_copy_built_on_simulated_ports_delivers_a_frame_injected_as_one_container_tagged_for_another()
    {
        var intent = MfeRig.Document;
        var web = MfeAttachments.Resolve(intent, "host-1/web")!;
        var db = MfeAttachments.Resolve(intent, "host-1", "db")!;
        Assert.Equal(new MfeAttachment("host-1", "node-1", "mfe-1", "web", "dcn-1", new PortRef(PortKind.Simulated, "dcn-1"),
            Mac48.TryParse("02:00:00:00:10:01", out var vnicMac) ? vnicMac : default, 101, web.Mac, web.Ip, "blue", 1001), web);

        // The verifier's port factory: ghost ports (the web container's VNIC is the one frames are
        // injected into; a ghost port only accepts ghost frames, so what it delivers is ghost).
        var ports = new GhostPortSet(null);
        var factory = ports.Factory();
        IPort Factory(PortRef port, ushort id) => factory(port, id);
        var profile = new TrafficProfile
        {
            Flows = 1, Vlan = new VlanId(web.Tag),
            SourceMac = new MacAddress(web.Mac.Value), SourceAddress = new Ipv4Address(web.Ip.Value),
            DestinationMac = new MacAddress(db.Mac.Value), DestinationAddress = new Ipv4Address(db.Ip.Value),
        };
        var untagged = SimulatedPort.BuildUdpFrame(profile, 0, 128);
        var webFrame = new byte[untagged.Length + VlanLayout.TagLength];
        Assert.True(VlanTagging.TryCopyTagged(untagged, new VlanId(web.Tag), webFrame, out _));

        ushort mainPort = (ushort)(48000 + Environment.ProcessId % 1000);
        var main = new SwitchingNode(genevePort: mainPort);
        var kinds = new ElementKindRegistry();
        var ghostKinds = new ElementKindRegistry();
        await using var services = new ServiceCollection().AddSwitching(kinds, main, ghostKinds, Factory).BuildServiceProvider();
        var ghost = services.GetRequiredKeyedService<SwitchingNode>(SwitchingHosting.GhostKey);
        Assert.True(ghost.Ghost);
        Assert.Equal(mainPort + 1, ghost.GenevePort);

        var kind = Assert.Single(ghostKinds.Kinds);
        var spec = Assert.Single(kind.Desired(intent, "node-1"));
        Assert.Equal("host-host-1", spec.ChildName);
        Sys.ActorOf(kind.Props(spec), spec.ChildName);

        await Eventually.Holds(() => ghost.Mfes.TryGetValue("host-1", out var mfe) && mfe.IsReady, TimeSpan.FromSeconds(10), "the ghost MFE forwards");
        Assert.True(ports.TryFind(GhostPortSet.PortKey(web.VnicPort.Name), out var vnic));
        await Eventually.Holds(() =>
        {
            vnic.Inject(webFrame);
            return vnic.Delivered.Any(d => Frames.TagOf(d) == db.Tag);
        }, TimeSpan.FromSeconds(10), "a frame tagged for db");

        var frame = vnic.Delivered.First(d => Frames.TagOf(d) == db.Tag);
        Assert.Equal(0, vnic.Counters.Drops(PortDropReason.PlaneMismatch)); // every frame it was given was a ghost frame
        Assert.True(EthernetView.TryParse(frame, out var eth, out _));
        Assert.Equal((new MacAddress(web.Mac.Value), new MacAddress(db.Mac.Value)), (eth.Source, eth.Destination));
        Assert.True(ghost.Status("host-1")!.Ghost);
        Assert.True(ghost.Mfes["host-1"].Ports["db"].Counters.TxFrames > 0);

        // Only the ghost underlay socket was opened, on the ghost port; the main plane opened nothing.
        var underlay = Assert.Single(ghost.Underlays);
        Assert.Equal(mainPort + 1, underlay.Local.Port);
        Assert.True(underlay.Ghost);
        Assert.Empty(main.Underlays);
        Assert.Empty(main.Mfes);
    }
}
