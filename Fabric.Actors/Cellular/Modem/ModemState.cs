using System.Collections.Immutable;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.Cellular.Modem;

/// <summary>Where the modem dialogue is, as an operator reads it.</summary>
public enum ModemPhase
{
    /// <summary>Not started.</summary>
    Closed,

    /// <summary>The control device is being opened.</summary>
    Opening,

    /// <summary>Echo off, numeric errors, IMEI, URCs on, SIM check.</summary>
    Initializing,

    /// <summary>The SIM is missing or locked (+CPIN not READY); checked again periodically.</summary>
    SimNotReady,

    /// <summary>Not registered on a network (CEREG/CREG stat 0, 2, 3, 4); polled, or woken by a +CEREG URC.</summary>
    Searching,

    /// <summary>Registered; the PDP context is being defined and activated (or a failed dial waits to retry).</summary>
    Registered,

    /// <summary>The bearer is up with an address; polled for address, signal and registration.</summary>
    Connected,

    /// <summary>The control device vanished, could not be opened or stopped answering: re-opened after a backoff.</summary>
    Backoff,
}

/// <summary>The commands of the dialogue (each knows its information-text name).</summary>
public enum ModemCommand
{
    EchoOff,
    NumericErrors,
    SerialNumber,
    RegistrationUrcs,
    PacketEventUrcs,
    SimStatus,
    EpsRegistration,
    Registration,
    SignalQuality,
    DefineContext,
    Activate,
    Address,
}

/// <summary>Timeouts, poll intervals and backoff of one modem, in milliseconds.</summary>
public sealed record ModemTimings
{
    /// <summary>Answer time allowed for an ordinary command.</summary>
    public int CommandTimeoutMs { get; init; } = 3_000;

    /// <summary>Answer time allowed for AT+CGACT (activation waits for the network).</summary>
    public int ActivationTimeoutMs { get; init; } = 30_000;

    /// <summary>While connected: how often the address, signal and registration are read.</summary>
    public int PollIntervalMs { get; init; } = 1_000;

    /// <summary>While searching or the SIM is not ready: how often it is checked again.</summary>
    public int RegistrationPollMs { get; init; } = 1_000;

    /// <summary>After a failed dial (CGDCONT/CGACT refused, no address): wait before dialing again.</summary>
    public int DialRetryMs { get; init; } = 2_000;

    /// <summary>Unanswered commands in a row after which the modem counts as gone and is re-opened.</summary>
    public int MaxTimeouts { get; init; } = 2;

    /// <summary>First re-open delay; doubles per failure up to <see cref="ReopenMaxMs"/>, reset once connected.</summary>
    public int ReopenMinMs { get; init; } = 250;

    public int ReopenMaxMs { get; init; } = 10_000;
}

/// <summary>What the dialogue is configured with: the APN to dial on PDP context <see cref="ContextId"/>.</summary>
public sealed record ModemConfig(string Apn, ModemTimings Timings)
{
    public int ContextId { get; init; } = 1;
}

/// <summary>Counters of one modem's dialogue.</summary>
public readonly record struct ModemCounters(
    long CommandsSent,
    long Timeouts,
    long Errors,
    long GarbageLines,
    long Urcs,
    long Reopens,
    long Dials,
    long BearerDrops,
    long AddressChanges,
    long Reboots);

/// <summary>The command on the line, waiting for its final result.</summary>
public sealed record PendingCommand(ModemCommand Command, string Line, long DeadlineMs, bool Resent, ImmutableArray<string> Lines);

/// <summary>
/// The whole state of one modem's AT dialogue: an immutable value, changed only by
/// <see cref="ModemMachine.Handle"/>. Times are milliseconds of a monotonic clock the caller owns.
/// </summary>
public sealed record ModemState
{
    public required ModemConfig Config { get; init; }

    public ModemPhase Phase { get; init; } = ModemPhase.Closed;

    /// <summary>Commands still to send in the current step, in order.</summary>
    public ImmutableQueue<ModemCommand> Queue { get; init; } = ImmutableQueue<ModemCommand>.Empty;

    public PendingCommand? Pending { get; init; }

    /// <summary>When the next poll, retry or re-open is due (with nothing queued or pending).</summary>
    public long WakeAtMs { get; init; }

    public int ReopenDelayMs { get; init; }

    public int ConsecutiveTimeouts { get; init; }

    public string? SerialNumber { get; init; }

    public string? Sim { get; init; }

    public RegistrationStatus? Registration { get; init; }

    public int? SignalDbm { get; init; }

    /// <summary>The bearer's address while <see cref="ModemPhase.Connected"/>.</summary>
    public Ipv4Address? Address { get; init; }

    public string? LastError { get; init; }

    public long PhaseSinceMs { get; init; }

    public ModemCounters Counters { get; init; }
}

/// <summary>What the shell around the machine must do.</summary>
public abstract record ModemEffect
{
    /// <summary>Open the control device; answer with LinkOpened or LinkOpenFailed.</summary>
    public sealed record OpenLink : ModemEffect;

    /// <summary>Close the control device (it stopped answering).</summary>
    public sealed record CloseLink(string Reason) : ModemEffect;

    /// <summary>Write one command line (the link adds the CR).</summary>
    public sealed record SendLine(string Line) : ModemEffect;

    /// <summary>The bearer came up, moved to a new address, or went down (null).</summary>
    public sealed record BearerChanged(Ipv4Address? Address, string Reason) : ModemEffect;

    /// <summary>Something an operator wants in the log: phase changes, errors.</summary>
    public sealed record Note(string Message) : ModemEffect;
}

/// <summary>What happens to the machine.</summary>
public abstract record ModemInput
{
    public sealed record LinkOpened : ModemInput;

    public sealed record LinkOpenFailed(string Reason) : ModemInput;

    public sealed record LinkClosed(string Reason) : ModemInput;

    public sealed record LineReceived(string Line) : ModemInput;

    /// <summary>Time passed: timeouts, polls, retries and re-opens fall due.</summary>
    public sealed record Tick : ModemInput;
}

/// <summary>The new state and what to do.</summary>
public readonly record struct ModemStep(ModemState State, ImmutableArray<ModemEffect> Effects);
