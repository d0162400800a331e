using System.Net;
using System.Text.Json.Nodes;
using Fabric.Actors.Cellular;
using Fabric.Actors.Cellular.Emulator;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Node.Cli;
using Fabric.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using static Fabric.Tests.Cellular.VmFrames;

namespace Fabric.Tests.Cellular;

/// <summary>
/// A whole node: a committed intent starts /user/fabric/hv-H (the one AddCellular line), the
/// modem dials over a pseudo-terminal, the VM (an in-memory port) gets its address by DHCP, and
/// the operations API and CLI show it; bad names get 400 problem+json.
/// </summary>
public sealed class CellularNodeTests : IAsyncLifetime
{
    private readonly TempDir _dir = new();
    private TestNode _node = null!;

    private const string Intent = """
        version: 1
        nodes:
          - name: node-a
            roles: [fabric, ghost-shadow]
        hypervisors:
          - name: hv-n
            node: node-a
            modems:
              - name: modem-1
                device: simulated
                apn: internet
            bridge: { name: cbr0, mac: 02:00:00:00:2b:00 }
            vms:
              - name: vm-1
                mac: 02:00:00:00:2b:01
        """;

    public async Task InitializeAsync()
    {
        _node = await TestNode.StartAsync("node-a", _dir.Sub("a"));
        await Eventually.Holds(async () => await _node.UpCount() == 1, TimeSpan.FromSeconds(30), "node Up");
    }

    public async Task DisposeAsync()
    {
        await _node.DisposeAsync();
        _dir.Dispose();
    }

    [Fact]
    public async Task A_committed_hypervisor_dials_serves_its_vm_and_shows_in_the_api_and_the_cli()
    {
        var id = await _node.Propose(Intent);
        await Eventually.Holds(async () => await _node.ChangeStatus(id) == "committed", TimeSpan.FromSeconds(45), $"change {id} committed");
        await Eventually.Holds(async () => (await _node.Get("/hypervisors"))["hypervisors"]!.AsArray()
            .Any(h => h!["modems"]!.AsArray().Any(m => m!["bearer"]!.ToString() == "up")), TimeSpan.FromSeconds(20), "the modem dialed");

        var address = CarrierPool.FirstAddressOf("hv-n", "modem-1");
        var cellular = _node.Services.GetRequiredService<CellularNode>();
        var port = (MemoryPort)cellular.Hypervisors["hv-n"].Vms["vm-1"].Bridge!.VmPort;
        var vmMac = MacAddress.Parse("02:00:00:00:2b:01");
        port.Inject(Discover(vmMac, 9));
        Assert.NotNull(port.WaitForSent(f => IsDhcp(f, DhcpMessageType.Offer), TimeSpan.FromSeconds(5)));
        port.Inject(Select(vmMac, address, Actors.Cellular.Bridge.LeaseTerms.DefaultGateway, 9));
        Assert.NotNull(port.WaitForSent(f => IsDhcp(f, DhcpMessageType.Ack), TimeSpan.FromSeconds(5)));

        var hv = await _node.Get("/hypervisors/hv-n");
        Assert.Equal("cbr0", hv["bridge"]!["name"]!.ToString());
        var modem = hv["modems"]![0]!;
        Assert.Equal(("connected", address.ToString(), "registered (home)", -71),
            (modem["phase"]!.ToString(), modem["address"]!.ToString(), modem["registration"]!.ToString(), modem["signalDbm"]!.GetValue<int>()));
        Assert.StartsWith("/dev/pts/", modem["link"]!.ToString());
        Assert.Equal(address.ToString(), hv["vms"]![0]!["leasedAddress"]!.ToString());
        Assert.Equal("up", (await _node.Get("/hypervisors/hv-n/modems/modem-1"))["bearer"]!.ToString());

        using var bad = await _node.Http.GetAsync("/hypervisors/bad!name");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal("application/problem+json", bad.Content.Headers.ContentType?.MediaType);
        Assert.Contains("not a valid hypervisor name", JsonNode.Parse(await bad.Content.ReadAsStringAsync())!["detail"]!.ToString());
        using var missing = await _node.Http.GetAsync("/hypervisors/hv-zz");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        using var badModem = await _node.Http.GetAsync("/hypervisors/hv-n/modems/%2E%2E%2Fx");
        Assert.Equal(HttpStatusCode.BadRequest, badModem.StatusCode);

        var output = new StringWriter();
        var management = $"{_node.Http.BaseAddress!.Host}:{_node.Http.BaseAddress.Port}";
        Assert.Equal(0, await OperatorCommands.RunAsync(["hv", "show", "hv-n", "--management", management], output, TextWriter.Null));
        var text = output.ToString();
        Assert.Contains("hypervisor hv-n on node-a: bridge cbr0 02:00:00:00:2b:00", text);
        Assert.Contains("connected", text);
        Assert.Contains(address.ToString(), text);
        output.GetStringBuilder().Clear();
        Assert.Equal(0, await OperatorCommands.RunAsync(["modem", "show", "hv-n/modem-1", "--management", management], output, TextWriter.Null));
        Assert.Contains("bearer up, address " + address, output.ToString());
        var error = new StringWriter();
        Assert.NotEqual(0, await OperatorCommands.RunAsync(["hv", "show", "hv-zz", "--management", management], TextWriter.Null, error));
        Assert.Contains("no hypervisor 'hv-zz' on this node", error.ToString());
    }
}
