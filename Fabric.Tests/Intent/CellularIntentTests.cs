using Fabric.Messages.Intent;
using static Fabric.Tests.Intent.IntentTestDocs;

namespace Fabric.Tests.Intent;

/// <summary>The hypervisors section: modem devices and APNs, and how a VM attaches (port, modem, mode).</summary>
public class CellularIntentTests
{
    private const string Doc = """
        nodes:
          - name: node-1
            roles: [fabric]
        pes:
          - name: pe-a
            node: node-1
            routerId: 10.255.0.1
            attachmentCircuits:
              - name: ce-a
                port: { kind: tap, name: tap-ce-a }
        hypervisors:
          - name: hv-1
            node: node-1
            modems:
              - name: modem-1
                device: simulated
                apn: internet
              - name: modem-2
                device: /dev/serial/by-id/usb-Quectel_EG25-if02-port0
                apn: iot.example-1.net
            bridge: { name: cbr0, mac: 02:00:00:00:20:01 }
            vms:
              - name: vm-1
                mac: 02:00:00:00:21:01
                port: { kind: tap, name: celvm1 }
                modem: modem-2
                mode: passthrough
              - name: vm-2
                mac: 02:00:00:00:21:02
        """;

    [Fact]
    public void A_vm_names_its_port_modem_and_mode_and_gets_defaults_for_those_it_leaves_out()
    {
        var hv = Assert.Single(Valid(Doc).Hypervisors);
        var vm1 = hv.Vms.Single(v => v.Name == "vm-1");
        Assert.Equal(new PortRef(PortKind.Tap, "celvm1"), vm1.Port);
        Assert.Equal("modem-2", vm1.Modem);
        Assert.Equal(VmMode.Passthrough, vm1.Mode);

        var vm2 = hv.Vms.Single(v => v.Name == "vm-2");
        Assert.Equal(new PortRef(PortKind.Simulated, "vm-2"), vm2.Port);
        Assert.Equal("modem-1", vm2.Modem);
        Assert.Equal("/dev/serial/by-id/usb-Quectel_EG25-if02-port0", hv.Modems[1].Device);
    }

    [Fact]
    public void The_canonical_text_writes_the_defaults_and_parses_back_to_itself()
    {
        var canonical = IntentJson.Write(Valid(Doc));
        Assert.Contains("\"modem\": \"modem-1\"", canonical);
        Assert.Contains("\"mode\": \"passthrough\"", canonical);
        Assert.Contains("\"name\": \"vm-2\"", canonical);
        Assert.Equal(canonical, IntentJson.Write(Valid(canonical)));
    }

    [Theory]
    [InlineData("/dev/../etc/passwd", "'/dev/../etc/passwd' leaves /dev/ or is not canonical: '.' and '..' are not allowed in a device path")]
    [InlineData("/dev/./ttyUSB2", "'/dev/./ttyUSB2' leaves /dev/ or is not canonical: '.' and '..' are not allowed in a device path")]
    [InlineData("/dev/serial/../../etc/shadow", "'/dev/serial/../../etc/shadow' leaves /dev/ or is not canonical: '.' and '..' are not allowed in a device path")]
    [InlineData("/dev//ttyUSB2", "'/dev//ttyUSB2' has an empty path segment; expected a serial device path under /dev/ (like /dev/ttyUSB2) or 'simulated'")]
    [InlineData("/dev/", "'/dev/' has an empty path segment; expected a serial device path under /dev/ (like /dev/ttyUSB2) or 'simulated'")]
    [InlineData("/etc/passwd", "'/etc/passwd' is neither a serial device path under /dev/ (like /dev/ttyUSB2) nor 'simulated'")]
    [InlineData("/dev/tty USB2", "'/dev/tty USB2' holds a space or control character; expected a serial device path under /dev/ (like /dev/ttyUSB2) or 'simulated'")]
    public void A_device_path_that_is_not_a_plain_path_under_dev_is_refused_with_line_and_reason(string device, string reason)
    {
        SingleError(Hosts.With(27, $"        device: \"{device}\""), 27, "hypervisors[0].modems[0].device", reason);
    }

    [Theory]
    [InlineData("inter net")]
    [InlineData("internet\\\",\\\"evil")]
    [InlineData("-internet")]
    [InlineData("internet..com")]
    public void An_apn_that_is_not_a_3gpp_apn_is_refused_so_it_can_never_break_the_at_command(string apn)
    {
        SingleError(Hosts.With(28, $"        apn: \"{apn}\""), 28, "hypervisors[0].modems[0].apn",
            $"'{apn.Replace("\\\"", "\"")}' is not an APN: labels of letters, digits and '-' separated by '.', at most 100 characters (3GPP TS 23.003 §9.1)");
    }

    [Fact]
    public void Nat_mode_is_named_but_refused_until_it_is_built()
    {
        SingleError(Doc.With(27, "        mode: nat"), 27, "hypervisors[0].vms[0].mode",
            "NAT mode (the VM keeps a private address) is not built yet; use passthrough (see docs/intent-schema.md#hypervisors)");
        SingleError(Doc.With(27, "        mode: bridged"), 27, "hypervisors[0].vms[0].mode", "unknown mode 'bridged'; expected passthrough|nat");
    }

    [Fact]
    public void A_vm_on_an_unknown_modem_or_two_passthrough_vms_on_one_modem_are_refused()
    {
        SingleError(Doc.With(26, "        modem: modem-9"), 26, "hypervisors[0].vms[0].modem", "unknown modem 'modem-9' on hypervisor 'hv-1'");
        SingleError(Doc.Inserting(30, "        modem: modem-1").With(26, "        modem: modem-1"), 30, "hypervisors[0].vms[1].modem",
            "modem 'modem-1' already carries a passthrough VM (first at line 26); one VM per modem in passthrough mode");
    }

    [Fact]
    public void A_vm_tap_that_is_already_an_attachment_circuit_is_refused()
    {
        SingleError(Doc.With(25, "        port: { kind: tap, name: tap-ce-a }"), 25, "hypervisors[0].vms[0].port",
            "port tap:tap-ce-a on node 'node-1' is already used (first at line 10)");
    }
}
