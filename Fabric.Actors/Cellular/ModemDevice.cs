using Fabric.Actors.Cellular.Emulator;
using Fabric.Actors.Cellular.Serial;
using Fabric.Actors.DataPlane.Io;

namespace Fabric.Actors.Cellular;

/// <summary>
/// What a modem is to the hypervisor: how to open its control channel, and its raw-IP data
/// interface (the bridge's other side). A simulated modem brings both; a real serial modem
/// brings the AT port only (its wwan data interface is not attached yet: see README).
/// </summary>
public sealed class ModemDevice : IDisposable
{
    private readonly Func<IModemLink> _open;

    private ModemDevice(string description, Func<IModemLink> open, IPort data, SimulatedModem? simulated)
    {
        Description = description;
        _open = open;
        Data = data;
        Simulated = simulated;
    }

    /// <summary>The device path, or <c>simulated (...)</c>.</summary>
    public string Description { get; }

    /// <summary>The raw-IP data interface (IPv4 packets, no link header).</summary>
    public IPort Data { get; }

    /// <summary>The emulator, for a simulated modem (tests and verifiers steer it).</summary>
    public SimulatedModem? Simulated { get; }

    /// <summary>Opens the control channel; throws (IOException and the like) with the reason when it cannot.</summary>
    public IModemLink OpenLink() => _open();

    public static ModemDevice ForSimulated(SimulatedModem modem, SimulatedLink link) =>
        new($"simulated ({(link == SimulatedLink.InMemory ? "in memory" : "pseudo-terminal")})", modem.OpenLink, modem.Data, modem);

    public static ModemDevice ForSerial(string path, ushort dataPortId) =>
        new(path, () => SerialModemLink.Open(path), new UnattachedDataPort($"{Path.GetFileName(path)}-data", dataPortId), null);

    public void Dispose()
    {
        Simulated?.Dispose();
        if (Simulated is null) Data.Dispose();
    }
}

/// <summary>The data interface of a modem whose data path is not attached: receives nothing, drops (and counts) what it is given.</summary>
public sealed class UnattachedDataPort(string name, ushort id) : Port(name, id)
{
    private readonly SemaphoreSlim _wake = new(0);

    /// <summary>Waits (nothing ever arrives) until the timeout or until the port is stopped.</summary>
    public override int ReceiveBatch(PacketBatch batch, int timeoutMs)
    {
        if (timeoutMs != 0 && !IsFinished && !StopRequested) _wake.Wait(timeoutMs < 0 ? Timeout.Infinite : timeoutMs);
        return 0;
    }

    protected override void WakeReceiver() => _wake.Release();

    protected override bool WakeEndsReceiveWait => true;

    public override int SendBatch(PacketBatch batch)
    {
        Counters.AddDrop(PortDropReason.TxPortGone, batch.Count);
        return 0;
    }

    protected override void DisposeCore() => _wake.Dispose();
}
