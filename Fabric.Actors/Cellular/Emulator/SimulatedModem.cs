using Fabric.Actors.Cellular.Serial;
using Fabric.Actors.DataPlane.Io;

namespace Fabric.Actors.Cellular.Emulator;

/// <summary>How a simulated modem's control channel reaches the modem actor.</summary>
public enum SimulatedLink
{
    /// <summary>A pseudo-terminal: the actor opens /dev/pts/N with the same code as a USB modem's AT port.</summary>
    PseudoTerminal,

    /// <summary>Lines handed over in memory (ghost elements: no device is opened).</summary>
    InMemory,
}

/// <summary>
/// A modem that exists only in this process: the <see cref="ModemEmulator"/>, its control
/// channel (<see cref="SimulatedLink"/>) and its raw-IP data interface (<see cref="Data"/>) in
/// front of a carrier. <see cref="Unplug"/> makes it vanish like a USB modem that resets:
/// the open link fails, and the next <see cref="OpenLink"/> finds it again (on a new
/// pseudo-terminal).
/// </summary>
public sealed class SimulatedModem : IDisposable
{
    private readonly Lock _lock = new();
    private readonly SimulatedLink _kind;
    private PtyModemHost? _pty;
    private InMemoryModemLink? _memory;
    private bool _disposed;

    public SimulatedModem(string hypervisor, string modem, SimulatedLink kind, IPort carrier, ushort dataPortId = 0)
    {
        _kind = kind;
        Name = $"{hypervisor}/{modem}";
        Emulator = new ModemEmulator(CarrierPool.For(hypervisor, modem));
        Emulator.Output = Deliver;
        Data = new ModemDataPort($"{modem}-data", dataPortId, Emulator, carrier);
        if (kind == SimulatedLink.PseudoTerminal) _pty = StartPty();
    }

    public string Name { get; }

    public ModemEmulator Emulator { get; }

    /// <summary>The raw-IP interface the bridge sends to and receives from.</summary>
    public ModemDataPort Data { get; }

    /// <summary>The pseudo-terminal the modem currently answers on (null for an in-memory link).</summary>
    public string? DevicePath
    {
        get { lock (_lock) return _pty?.DevicePath; }
    }

    /// <summary>Opens the control channel as the modem actor would: the serial port on the pty, or an in-memory link.</summary>
    public IModemLink OpenLink()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_kind == SimulatedLink.InMemory)
            {
                _memory?.Dispose();
                _memory = new InMemoryModemLink($"emulator {Name} (in memory)", Emulator.Receive);
                return _memory;
            }
            _pty ??= StartPty();
            return SerialModemLink.Open(_pty.DevicePath);
        }
    }

    /// <summary>The modem vanishes (USB reset): the open link fails now; it answers again on the next open.</summary>
    public void Unplug()
    {
        lock (_lock)
        {
            _memory?.Sever("emulator unplugged");
            _memory = null;
            _pty?.Dispose();
            _pty = _kind == SimulatedLink.PseudoTerminal && !_disposed ? StartPty() : null;
        }
        Emulator.Reboot();
    }

    private PtyModemHost StartPty()
    {
        var host = PtyModemHost.Open();
        host.Start(Emulator.Receive);
        return host;
    }

    private void Deliver(string line)
    {
        PtyModemHost? pty;
        InMemoryModemLink? memory;
        lock (_lock)
        {
            pty = _pty;
            memory = _memory;
        }
        pty?.Write(line);
        memory?.Deliver(line);
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            _memory?.Dispose();
            _pty?.Dispose();
            _pty = null;
        }
        Data.Dispose();
    }
}
