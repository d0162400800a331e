using Akka.TestKit.Xunit2;
using Fabric.Actors.Cellular;
using Fabric.Actors.Cellular.Bridge;
using Fabric.Actors.Cellular.Emulator;
using Fabric.Actors.Cellular.Modem;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.Guardian;
using Fabric.Messages.Intent;

namespace Fabric.Tests.Cellular;

/// <summary>
/// The hypervisor element outside ghost mode, with a simulated modem on a real pseudo-terminal
/// (no root needed: the carrier is in memory, the VM port too): a modem that vanishes or stops
/// answering is re-opened with backoff and dials again, and a changed intent re-dials the new APN.
/// </summary>
public class HypervisorActorTests() : TestKit("akka.loglevel = WARNING")
{
    private static readonly CellularSettings Fast = CellularSettings.Default with
    {
        Timings = new ModemTimings { CommandTimeoutMs = 300, PollIntervalMs = 300, MaxTimeouts = 2, ReopenMinMs = 100, ReopenMaxMs = 800 },
        Lease = new LeaseTerms(),
    };

    private static string Intent(string apn) => $"""
        version: 1
        nodes:
          - name: node-1
            roles: [fabric]
        hypervisors:
          - name: hv-a
            node: node-1
            modems:
              - name: modem-1
                device: simulated
                apn: {apn}
            bridge: {"{"} name: cbr0, mac: 02:00:00:00:2a:00 {"}"}
            vms:
              - name: vm-1
                mac: 02:00:00:00:2a:01
        """;

    private static ElementSpec Spec(HypervisorElementKind kind, string apn) =>
        Assert.Single(kind.Desired(IntentParser.Parse(Intent(apn)).Document!, "node-1"));

    [Fact]
    public void A_vanished_modem_is_reopened_on_its_new_terminal_and_a_silent_one_is_closed_and_reopened_until_it_answers()
    {
        var node = new CellularNode(settings: Fast);
        var kind = new HypervisorElementKind(node);
        var element = Sys.ActorOf(kind.Props(Spec(kind, "internet")), "hv-hv-a");
        try
        {
            AwaitCondition(() => node.Status("hv-a")?.Modems.SingleOrDefault()?.Bearer == "up", TimeSpan.FromSeconds(10));
            var modem = node.Hypervisors["hv-a"].Modems["modem-1"];
            var firstTerminal = modem.Link;
            Assert.StartsWith("/dev/pts/", firstTerminal);

            // USB reset: the terminal disappears; the actor re-opens (on the new one) and dials.
            modem.Device.Simulated!.Unplug();
            AwaitCondition(() => modem.Status() is { Bearer: "up", Counters.Reopens: >= 1 } s && s.Link != firstTerminal, TimeSpan.FromSeconds(10));
            Assert.Equal(1, modem.Status().Counters.BearerDrops);

            // Firmware hang: commands go unanswered; closed, re-opened with backoff while silent.
            var reopens = modem.Status().Counters.Reopens;
            modem.Device.Simulated.Emulator.Silent = true;
            AwaitCondition(() => modem.Status().Phase == "backoff", TimeSpan.FromSeconds(5));
            Assert.Contains("no answer to", modem.Status().LastError);
            AwaitCondition(() => modem.Status().Counters.Reopens >= reopens + 3, TimeSpan.FromSeconds(10));
            Assert.Null(node.Status("hv-a")!.Vms.Single().CellularAddress); // the bridge has no address while the modem is down
            modem.Device.Simulated.Emulator.Silent = false;
            AwaitCondition(() => modem.Status().Bearer == "up", TimeSpan.FromSeconds(10));
            AwaitCondition(() => node.Status("hv-a")!.Vms.Single().CellularAddress == modem.Status().Address, TimeSpan.FromSeconds(5));
        }
        finally
        {
            Sys.Stop(element);
        }
    }

    [Fact]
    public void A_changed_apn_restarts_the_modem_which_dials_the_new_apn()
    {
        var node = new CellularNode(settings: Fast);
        var kind = new HypervisorElementKind(node);
        var element = Sys.ActorOf(kind.Props(Spec(kind, "internet")), "hv-hv-a");
        try
        {
            AwaitCondition(() => node.Status("hv-a")?.Modems.SingleOrDefault()?.Bearer == "up", TimeSpan.FromSeconds(10));
            element.Tell(new ElementSpecChanged(Spec(kind, "iot.example")), TestActor);
            AwaitCondition(() => node.Status("hv-a")?.Modems.SingleOrDefault() is { Bearer: "up", Apn: "iot.example" }, TimeSpan.FromSeconds(10));
            Assert.Equal("iot.example", node.Hypervisors["hv-a"].Modems["modem-1"].Device.Simulated!.Emulator.Apn);
        }
        finally
        {
            Sys.Stop(element);
        }
    }

    /// <summary>A VM port the test can unplug, as a TAP whose device was deleted.</summary>
    private sealed class UnpluggablePort(string name, ushort id) : MemoryPort(name, id)
    {
        public void Unplug() => SetState(PortState.Gone, "device deleted (test)");
    }

    [Fact]
    public void A_vm_port_that_goes_away_says_so_and_is_reopened_and_one_that_cannot_open_is_retried_with_backoff()
    {
        var opened = new List<UnpluggablePort>();
        var failuresLeft = 0;
        var node = new CellularNode(settings: Fast with { BridgeRetryMin = TimeSpan.FromMilliseconds(100), BridgeRetryMax = TimeSpan.FromMilliseconds(400) }, portFactory: (port, id) =>
        {
            lock (opened)
            {
                if (failuresLeft > 0)
                {
                    failuresLeft--;
                    throw new IOException("no such device (test)");
                }
                var p = new UnpluggablePort(port.Name, id);
                opened.Add(p);
                return p;
            }
        });
        var kind = new HypervisorElementKind(node);
        var element = Sys.ActorOf(kind.Props(Spec(kind, "internet")), "hv-hv-a");
        try
        {
            AwaitCondition(() => node.Status("hv-a")?.Vms.SingleOrDefault()?.CellularAddress is not null, TimeSpan.FromSeconds(10));
            var vm = node.Hypervisors["hv-a"].Vms["vm-1"];
            Assert.Single(opened);

            // The device goes: the port says so and the bridge re-opens it (retry-min later), no poll needed.
            lock (opened) failuresLeft = 2;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            opened[0].Unplug();
            AwaitCondition(() => vm.PortRestarts == 1 && vm.Bridge is not null, TimeSpan.FromSeconds(5));
            var back = clock.Elapsed;
            lock (opened)
            {
                Assert.Equal(0, failuresLeft); // re-opens at +100 ms (fails), +200 ms (fails), +400 ms (opens)
                Assert.Equal(2, opened.Count);
            }
            Assert.InRange(back, TimeSpan.FromMilliseconds(650), TimeSpan.FromSeconds(3));
            Assert.Null(vm.PortError);
            Assert.Same(opened[1], vm.Bridge!.VmPort);

            // Healthy again: nothing is opened while nothing fails.
            Thread.Sleep(500);
            lock (opened) Assert.Equal(2, opened.Count);
        }
        finally
        {
            Sys.Stop(element);
        }
    }
}
