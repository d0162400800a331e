using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Akka.TestKit.Xunit2;
using Fabric.Actors.Cellular;
using Fabric.Actors.Cellular.Emulator;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Messages.Intent;
using Fabric.Tests.DataPlane.Io;
using Fabric.Tests.Support;
using Xunit.Abstractions;

namespace Fabric.Tests.Cellular;

/// <summary>
/// Real traffic: a hypervisor element dials its simulated modem over a pseudo-terminal (the
/// serial AT port code), the modem's raw-IP side is a TUN device in a carrier namespace with a
/// server behind a router, and a VM namespace on the bridge's TAP runs Debian's ISC dhclient.
/// The VM gets the cellular address by DHCP and reaches the server (ping, TCP); the carrier then
/// changes the address, and later drops the bearer: the VM follows each time, and its NIC never
/// loses carrier.
/// </summary>
public partial class CellularTrafficTests(ITestOutputHelper output) : TestKit("akka.loglevel = WARNING")
{
    private static readonly MacAddress VmMac = MacAddress.Parse("02:00:00:00:2c:01");
    private static readonly string Server = SimulatedCarrier.ServerAddress.ToString();

    [Fact]
    public async Task A_vm_gets_the_cellular_address_by_dhcp_reaches_the_carrier_server_and_follows_address_changes_and_redials_without_a_link_flap()
    {
        HostTools.RequireRoot();
        var dhclient = HostTools.Require("dhclient", "isc-dhcp-client");
        var nc = HostTools.Require("nc", "netcat-openbsd");
        HostTools.Require("ping", "iputils-ping");

        using var carrier = new CarrierNetwork();
        using var vm = new VmNamespace($"celv{carrier.Tag}", VmMac);
        var node = new CellularNode(portFactory: vm.OpenTap) { CarrierFactory = carrier.OpenTun };
        var document = IntentParser.Parse($$"""
            version: 1
            nodes:
              - name: node-1
                roles: [fabric]
            hypervisors:
              - name: hv-cel
                node: node-1
                modems:
                  - name: modem-1
                    device: simulated
                    apn: internet
                bridge: { name: cbr0, mac: 02:00:00:00:2c:00 }
                vms:
                  - name: vm-1
                    mac: {{VmMac}}
                    port: { kind: tap, name: {{vm.Tap}} }
            """).Document!;
        var kind = new HypervisorElementKind(node);
        var spec = Assert.Single(kind.Desired(document, "node-1"));
        var element = Sys.ActorOf(kind.Props(spec), spec.ChildName);
        var leases = Path.Combine(Path.GetTempPath(), $"cel-dhclient-{carrier.Tag}");
        BackgroundTool? client = null;
        try
        {
            var started = Stopwatch.StartNew();
            await Eventually.Holds(() => node.Status("hv-cel")?.Modems.SingleOrDefault()?.Bearer == "up", TimeSpan.FromSeconds(15), "the modem dialed");
            var dialMs = started.ElapsedMilliseconds;
            var modem = node.Status("hv-cel")!.Modems.Single();
            Assert.StartsWith("/dev/pts/", modem.Link); // the AT dialogue ran over a real serial (pseudo-)terminal
            var first = modem.Address!;

            // A stock Debian DHCP client in the VM.
            started.Restart();
            client = BackgroundTool.In(vm.Ns, dhclient, $"-4 -d -v -pf {leases}.pid -lf {leases}.leases {vm.Tap}");
            await Eventually.Holds(() => vm.Address() == first, TimeSpan.FromSeconds(20), $"the VM has {first} (dhclient: {client.Output})");
            var dhcpMs = started.ElapsedMilliseconds;
            Assert.True(vm.Ping(Server, count: 2), "the VM reaches the carrier's server");
            using var listener = BackgroundTool.In(carrier.Server, nc, $"-lkn {Server} 7070");
            await Task.Delay(300);
            Assert.Equal(0, vm.Ns.Exec(nc, $"-z -w 3 {Server} 7070").ExitCode);
            var flapsBefore = vm.CarrierChanges();

            // The carrier moves the address (announced with +CGEV: ME PDN ACT, read with AT+CGPADDR).
            var simulated = node.Hypervisors["hv-cel"].Modems["modem-1"].Device.Simulated!;
            var change = await Follow(vm, client, () => simulated.Emulator.ChangeAddress()!.Value);
            output.WriteLine($"address change {first} -> {change.Address}: VM moved after {change.MovedMs} ms, " +
                             $"reached the server after {change.ReachedMs} ms, largest ping gap {change.LargestGapMs} ms");
            Assert.InRange(change.ReachedMs, 0, 4_000);
            Assert.Equal(0, vm.Ns.Exec(nc, $"-z -w 3 {Server} 7070").ExitCode);

            // The bearer drops: the modem re-dials (the carrier gives yet another address) and the VM follows.
            var redial = await Follow(vm, client, () =>
            {
                simulated.Emulator.DropBearer();
                return Ipv4Address.Any;
            });
            output.WriteLine($"bearer drop: re-dialed to {redial.Address}, VM moved after {redial.MovedMs} ms, " +
                             $"reached the server after {redial.ReachedMs} ms, largest ping gap {redial.LargestGapMs} ms");
            Assert.InRange(redial.ReachedMs, 0, 6_000);

            Assert.Equal(flapsBefore, vm.CarrierChanges()); // the VM's NIC never lost its link
            var status = node.Status("hv-cel")!;
            var vmStatus = status.Vms.Single();
            output.WriteLine($"dial {dialMs} ms, dhcp {dhcpMs} ms; vm: {vmStatus}; modem: {status.Modems.Single()}");
            Assert.Equal(redial.Address.ToString(), vmStatus.LeasedAddress);
            Assert.True(vmStatus.DhcpNaks >= 2, "each move went through a NAK of the old address");
            Assert.Equal(1, status.Modems.Single().Counters.BearerDrops);
        }
        finally
        {
            client?.Dispose();
            Sys.Stop(element);
            await Task.Delay(500);
            foreach (var f in new[] { $"{leases}.pid", $"{leases}.leases" }) File.Delete(f);
        }
    }

    private sealed record Move(Ipv4Address Address, long MovedMs, long ReachedMs, long LargestGapMs);

    /// <summary>
    /// Runs a 20 Hz ping from the VM, makes the change, and measures from the change: when the VM
    /// holds the modem's new address, and when a ping from it is answered.
    /// </summary>
    private async Task<Move> Follow(VmNamespace vm, BackgroundTool dhclient, Func<Ipv4Address> change)
    {
        using var ping = BackgroundTool.In(vm.Ns, "ping", $"-n -D -i 0.05 -W 1 -c 160 {Server}");
        await Task.Delay(1_000);
        var before = vm.Address();
        var clock = Stopwatch.StartNew();
        var t0 = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
        var expected = change();
        long movedMs = -1;
        string? now = null;
        while (clock.ElapsedMilliseconds < 15_000)
        {
            now = vm.Address();
            if (now is not null && now != before && (expected == Ipv4Address.Any || now == expected.ToString()))
            {
                movedMs = clock.ElapsedMilliseconds;
                break;
            }
            await Task.Delay(20);
        }
        Assert.True(movedMs >= 0, $"the VM never moved from {before} (now {now}); dhclient: {dhclient.Output}");
        ping.WaitForExit(TimeSpan.FromSeconds(15));

        // ping -D prints "[epoch] 64 bytes from ...": the first reply from the new address after the change,
        // and the longest silence between replies around it.
        var replies = ReplyTimes().Matches(ping.Output).Select(m => double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToList();
        var after = replies.Where(t => t >= t0 + (movedMs / 1000.0)).ToList();
        Assert.True(after.Count > 0, $"no ping answered after the VM moved: {ping.Output}");
        var reached = (long)((after[0] - t0) * 1000);
        var gap = replies.Zip(replies.Skip(1), (a, b) => (long)((b - a) * 1000)).DefaultIfEmpty(0).Max();
        return new Move(Ipv4Address.Parse(now!), movedMs, reached, gap);
    }

    [GeneratedRegex(@"^\[(\d+\.\d+)\] \d+ bytes from", RegexOptions.Multiline)]
    private static partial Regex ReplyTimes();
}
