using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.Cellular.Emulator;

/// <summary>SIM states the emulator can be put in.</summary>
public enum EmulatedSim
{
    Ready,
    Missing,
    PinLocked,
}

/// <summary>
/// A cellular modem's AT command interpreter (3GPP TS 27.007), for tests, the embedded default
/// (<c>device: simulated</c>) and ghost elements: it answers the commands the dialogue sends,
/// registers, activates a PDP context with an address from its <see cref="CarrierPool"/>, and can
/// be told to change the address, drop the bearer, deregister, reboot or go silent. It speaks
/// through <see cref="Output"/> (one line per call, no CR LF) over whatever link carries it: a
/// pseudo-terminal or an in-memory link. Thread-safe: commands and controls take one lock.
/// </summary>
public sealed class ModemEmulator
{
    private readonly Lock _lock = new();
    private readonly CarrierPool _pool;
    private Action<string> _output = _ => { };
    private bool _echo = true;
    private int _errorMode;
    private int _registrationUrcMode;
    private bool _packetEventUrcs;
    private RegistrationStatus _registration = RegistrationStatus.Home;
    private string? _apn;
    private Ipv4Address? _address;
    private long _commands;
    private long _bearerActivations;

    public ModemEmulator(CarrierPool pool, string serialNumber = "356938035643809")
    {
        _pool = pool;
        SerialNumber = serialNumber;
    }

    public string SerialNumber { get; }

    public CarrierPool Pool => _pool;

    /// <summary>Where the modem's lines go (set by the link that carries them).</summary>
    public Action<string> Output
    {
        get { lock (_lock) return _output; }
        set { lock (_lock) _output = value; }
    }

    /// <summary>A silent modem reads commands and answers nothing, URCs included (a hung firmware).</summary>
    public bool Silent { get; set; }

    /// <summary>When set, AT+CGACT is refused with +CME ERROR: 148 (the network rejects the activation).</summary>
    public bool RejectActivation { get; set; }

    /// <summary>When cleared, address changes are not announced with +CGEV (only a poll of AT+CGPADDR finds them).</summary>
    public bool AnnounceAddressChanges { get; set; } = true;

    public EmulatedSim Sim { get; set; } = EmulatedSim.Ready;

    /// <summary>Received signal, +CSQ rssi 0..31 (99 unknown).</summary>
    public int Rssi { get; set; } = 21;

    /// <summary>The bearer's address, null while no context is active.</summary>
    public Ipv4Address? Address
    {
        get { lock (_lock) return _address; }
    }

    public string? Apn
    {
        get { lock (_lock) return _apn; }
    }

    public RegistrationStatus Registration
    {
        get { lock (_lock) return _registration; }
    }

    public long CommandsReceived => Interlocked.Read(ref _commands);

    public long BearerActivations => Interlocked.Read(ref _bearerActivations);

    /// <summary>Raised (outside the lock) when the bearer's address changes, with the new one (null = down).</summary>
    public event Action<Ipv4Address?>? AddressChanged;

    /// <summary>One command line from the DTE (without its CR). Lines that are not commands are ignored, as modems do.</summary>
    public void Receive(string line)
    {
        List<string> lines = [];
        Ipv4Address? changed = null;
        var addressMoved = false;
        lock (_lock)
        {
            Interlocked.Increment(ref _commands);
            if (Silent) return;
            if (!AtCommandLine.TryParse(line, out var command)) return;
            if (_echo) lines.Add(line.Trim());
            var before = _address;
            Execute(command, lines);
            addressMoved = before != _address;
            changed = _address;
        }
        Send(lines);
        if (addressMoved) AddressChanged?.Invoke(changed);
    }

    /// <summary>The network gives the bearer a new address (announced by +CGEV: ME PDN ACT unless told not to).</summary>
    public Ipv4Address? ChangeAddress()
    {
        List<string> lines = [];
        Ipv4Address? address;
        lock (_lock)
        {
            if (_address is null) return null;
            _address = _pool.Next(_address);
            address = _address;
            if (_packetEventUrcs && AnnounceAddressChanges) lines.Add(new AtPdpEventRepr(AtPdpEvent.MePdnActivated, 1).Format());
        }
        Send(lines);
        AddressChanged?.Invoke(address);
        return address;
    }

    /// <summary>The network tears the bearer down: +CGEV: NW PDN DEACT.</summary>
    public void DropBearer()
    {
        List<string> lines = [];
        lock (_lock)
        {
            if (_address is null) return;
            _address = null;
            if (_packetEventUrcs) lines.Add(new AtPdpEventRepr(AtPdpEvent.NetworkPdnDeactivated, 1).Format());
        }
        Send(lines);
        AddressChanged?.Invoke(null);
    }

    /// <summary>Lost the network: bearer down, +CEREG: 2 (searching) when URCs are on.</summary>
    public void Deregister()
    {
        List<string> lines = [];
        var hadBearer = false;
        lock (_lock)
        {
            hadBearer = _address is not null;
            _address = null;
            _registration = RegistrationStatus.Searching;
            if (_packetEventUrcs && hadBearer) lines.Add(new AtPdpEventRepr(AtPdpEvent.Detached, null).Format());
            if (_registrationUrcMode > 0) lines.Add(new AtRegistrationRepr(AtRegistrationRepr.Eps, _registration).Format());
        }
        Send(lines);
        if (hadBearer) AddressChanged?.Invoke(null);
    }

    /// <summary>Found the network again: +CEREG: 1 when URCs are on.</summary>
    public void Register()
    {
        List<string> lines = [];
        lock (_lock)
        {
            _registration = RegistrationStatus.Home;
            if (_registrationUrcMode > 0) lines.Add(new AtRegistrationRepr(AtRegistrationRepr.Eps, _registration).Format());
        }
        Send(lines);
    }

    /// <summary>
    /// The modem restarts on the same line: settings back to defaults (echo on, URCs off), no
    /// bearer, then it says RDY and +CPIN: READY as modules do after boot.
    /// </summary>
    public void Reboot()
    {
        var hadBearer = false;
        lock (_lock)
        {
            hadBearer = _address is not null;
            _address = null;
            _apn = null;
            _echo = true;
            _errorMode = 0;
            _registrationUrcMode = 0;
            _packetEventUrcs = false;
            _registration = RegistrationStatus.Home;
        }
        Send(["RDY", new AtSimRepr(AtSimRepr.Ready).Format()]);
        if (hadBearer) AddressChanged?.Invoke(null);
    }

    /// <summary>Sends arbitrary text as if the modem had (line noise, a firmware's banner).</summary>
    public void Emit(string line) => Send([line]);

    private void Send(List<string> lines)
    {
        if (lines.Count == 0 || Silent) return;
        var output = Output;
        foreach (var l in lines) output(l);
    }

    private void Execute(AtCommandLine command, List<string> lines)
    {
        if (command.Name.IsEmpty)
        {
            lines.Add(AtLayout.Ok);
            return;
        }
        if (command.IsNamed("E0") || command.IsNamed("E1") || command.IsNamed("E"))
        {
            _echo = command.Name.Length == 2 && command.Name[1] == '1';
            lines.Add(AtLayout.Ok);
            return;
        }
        var upper = command.Name.ToString().ToUpperInvariant();
        switch (upper, command.Form)
        {
            case ("+CMEE", AtCommandForm.Set):
                SetInteger(command, 0, 2, v => _errorMode = v, lines);
                return;
            case ("+CGSN", AtCommandForm.Action):
                lines.Add(SerialNumber);
                lines.Add(AtLayout.Ok);
                return;
            case ("+CPIN", AtCommandForm.Read):
                if (Sim == EmulatedSim.Missing)
                {
                    Error(AtCmeErrorRepr.SimNotInserted, lines);
                    return;
                }
                lines.Add(new AtSimRepr(Sim == EmulatedSim.Ready ? AtSimRepr.Ready : "SIM PIN").Format());
                lines.Add(AtLayout.Ok);
                return;
            case ("+CEREG", AtCommandForm.Set):
                SetInteger(command, 0, 5, v => _registrationUrcMode = v, lines);
                return;
            case ("+CEREG", AtCommandForm.Read):
                lines.Add(RegistrationAnswer(AtRegistrationRepr.Eps, _registrationUrcMode));
                lines.Add(AtLayout.Ok);
                return;
            case ("+CREG", AtCommandForm.Read):
                // An LTE-only modem: not registered in the circuit-switched domain.
                lines.Add(new AtRegistrationRepr(AtRegistrationRepr.CircuitSwitched, RegistrationStatus.NotRegistered) { Mode = 0 }.Format());
                lines.Add(AtLayout.Ok);
                return;
            case ("+CGEREP", AtCommandForm.Set):
                SetInteger(command, 0, 2, v => _packetEventUrcs = v > 0, lines);
                return;
            case ("+CSQ", AtCommandForm.Action):
                lines.Add(new AtSignalRepr(Sim == EmulatedSim.Missing ? AtSignalRepr.NotKnown : Rssi, AtSignalRepr.NotKnown).Format());
                lines.Add(AtLayout.Ok);
                return;
            case ("+CGDCONT", AtCommandForm.Set):
                DefineContext(command, lines);
                return;
            case ("+CGACT", AtCommandForm.Set):
                Activate(command, lines);
                return;
            case ("+CGACT", AtCommandForm.Read):
                lines.Add($"+CGACT: 1,{(_address is null ? 0 : 1)}");
                lines.Add(AtLayout.Ok);
                return;
            case ("+CGPADDR", AtCommandForm.Set):
            case ("+CGPADDR", AtCommandForm.Action):
                lines.Add(new AtPdpAddressRepr(1, _address).Format());
                lines.Add(AtLayout.Ok);
                return;
            default:
                lines.Add(AtLayout.Error);
                return;
        }
    }

    private string RegistrationAnswer(string name, int mode)
    {
        var repr = new AtRegistrationRepr(name, _registration) { Mode = mode };
        if (mode >= 2 && _registration.IsRegistered())
        {
            repr = repr with { Area = "1A2B", CellId = "01A2B3C4", AccessTechnology = 7 };
        }
        return repr.Format();
    }

    private void DefineContext(AtCommandLine command, List<string> lines)
    {
        var reader = command.ReadParameters();
        if (!reader.TryReadInteger(out var cid) || cid is < 1 or > 15 || !reader.TryReadQuoted(out var type) || !type.SequenceEqual("IP")
            || !reader.TryReadQuoted(out var apn) || apn.IsEmpty)
        {
            lines.Add(_errorMode == 0 ? AtLayout.Error : new AtCmeErrorRepr(50, null).Format()); // 50: incorrect parameters
            return;
        }
        if (cid == 1) _apn = apn.ToString();
        lines.Add(AtLayout.Ok);
    }

    private void Activate(AtCommandLine command, List<string> lines)
    {
        var reader = command.ReadParameters();
        if (!reader.TryReadInteger(out var state) || state > 1 || !reader.TryReadInteger(out var cid))
        {
            Error(50, lines);
            return;
        }
        if (cid != 1)
        {
            Error(AtCmeErrorRepr.UnspecifiedGprsError, lines);
            return;
        }
        if (state == 0)
        {
            _address = null;
            lines.Add(AtLayout.Ok);
            return;
        }
        if (Sim != EmulatedSim.Ready || !_registration.IsRegistered())
        {
            Error(AtCmeErrorRepr.NoNetworkService, lines);
            return;
        }
        if (_apn is null)
        {
            Error(AtCmeErrorRepr.MissingOrUnknownApn, lines);
            return;
        }
        if (RejectActivation)
        {
            Error(AtCmeErrorRepr.UnspecifiedGprsError, lines);
            return;
        }
        if (_address is null)
        {
            _address = _pool.Next();
            Interlocked.Increment(ref _bearerActivations);
        }
        lines.Add(AtLayout.Ok);
        if (_packetEventUrcs) lines.Add(new AtPdpEventRepr(AtPdpEvent.MePdnActivated, 1).Format());
    }

    private void SetInteger(AtCommandLine command, int min, int max, Action<int> set, List<string> lines)
    {
        var reader = command.ReadParameters();
        if (!reader.TryReadInteger(out var value) || value < min || value > max)
        {
            Error(50, lines);
            return;
        }
        set(value);
        lines.Add(AtLayout.Ok);
    }

    private void Error(int code, List<string> lines) =>
        lines.Add(_errorMode == 0 ? AtLayout.Error : new AtCmeErrorRepr(code, null).Format());
}
