using Fabric.Actors.Cellular.Emulator;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Tests.Cellular;

/// <summary>The simulated modem's raw-IP interface passes packets only with a bearer and only with its address, both ways.</summary>
public sealed class ModemDataPortTests : IDisposable
{
    private static readonly Ipv4Address Elsewhere = Ipv4Address.Parse("198.51.100.7");

    private readonly ModemEmulator _emulator = new(CarrierPool.For("hv-data", "m1"));
    private readonly MemoryPort _carrier = new("carrier");
    private readonly ModemDataPort _port;

    public ModemDataPortTests()
    {
        _emulator.Output = _ => { };
        _port = new ModemDataPort("m1-data", 1, _emulator, _carrier);
    }

    public void Dispose() => _port.Dispose();

    [Fact]
    public void Without_a_bearer_nothing_passes_and_each_packet_is_counted_as_no_bearer()
    {
        var from = CarrierPool.FirstAddressOf("hv-data", "m1");

        Assert.Equal(0, _port.SendBatch(Batch(VmFrames.EchoPacket(from, Elsewhere))));
        _carrier.Inject(VmFrames.EchoPacket(Elsewhere, from));
        Assert.Equal(0, _port.ReceiveBatch(new PacketBatch(), 1_000));

        Assert.Empty(_carrier.Sent);
        Assert.Equal(2, _port.Dropped(ModemDataDrop.NoBearer));
    }

    [Fact]
    public void With_a_bearer_only_its_address_passes_and_the_rest_is_counted_by_reason()
    {
        Activate();
        var bearer = _emulator.Address!.Value;

        // Towards the network: from the bearer passes; a spoofed source and a non-IPv4 frame do not.
        Assert.Equal(1, _port.SendBatch(Batch(VmFrames.EchoPacket(bearer, Elsewhere), VmFrames.EchoPacket(Elsewhere, Elsewhere), [0x60, 0, 0, 0])));
        var sent = Assert.Single(_carrier.Sent);
        Assert.True(Ipv4View.TryParse(sent, out var ip, out _));
        Assert.Equal(bearer, ip.Source);
        Assert.Equal(1, _port.Dropped(ModemDataDrop.WrongSource));
        Assert.Equal(1, _port.Dropped(ModemDataDrop.NotIpv4));

        // From the network: for the bearer passes; for another address does not.
        _carrier.Inject(VmFrames.EchoPacket(Elsewhere, Elsewhere));
        _carrier.Inject(VmFrames.EchoPacket(Elsewhere, bearer));
        var received = new PacketBatch();
        Assert.Equal(1, _port.ReceiveBatch(received, 1_000));
        Assert.True(Ipv4View.TryParse(received.Frame(0), out var inbound, out _));
        Assert.Equal(bearer, inbound.Destination);
        Assert.Equal(1, _port.Dropped(ModemDataDrop.NotForBearer));
        Assert.Equal(0, _port.Dropped(ModemDataDrop.NoBearer));
    }

    private void Activate()
    {
        _emulator.Receive("AT+CGDCONT=1,\"IP\",\"iot.example\"");
        _emulator.Receive("AT+CGACT=1,1");
        Assert.NotNull(_emulator.Address);
    }

    private static PacketBatch Batch(params byte[][] packets)
    {
        var batch = new PacketBatch();
        foreach (var p in packets)
        {
            Assert.True(batch.TryAppend(p));
        }

        return batch;
    }
}
