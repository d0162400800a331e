using System.Collections.Immutable;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.Cellular.Modem;

/// <summary>
/// The AT dialogue of one modem (3GPP TS 27.007) as a pure function:
/// <c>Handle(state, input, now) → (state, effects)</c>. One command is on the line at a time;
/// unsolicited result codes are taken whenever they come, also between a command and its answer.
/// <code>
///   Opening ─LinkOpened→ Initializing: ATE0, AT+CMEE=1, AT+CGSN, AT+CEREG=2, AT+CGEREP=2,1, AT+CPIN?, AT+CEREG?
///     +CPIN not READY → SimNotReady (AT+CPIN? again every RegistrationPollMs)
///     not registered (CEREG, then CREG) → Searching (polled; a +CEREG: 1/5 URC wakes it at once)
///     registered → Registered: AT+CSQ, AT+CGDCONT=cid,"IP","apn", AT+CGACT=1,cid, AT+CGPADDR=cid
///       refused / no address → retry after DialRetryMs
///       address → Connected: AT+CGPADDR, AT+CSQ, AT+CEREG? every PollIntervalMs
///         new address (poll) → BearerChanged(new); none, +CGEV ... DEACT/DETACH, +CEREG: not registered → bearer down, re-dial
///         RDY or an unsolicited +CPIN: READY → the modem rebooted: bearer down, initialize again
///   MaxTimeouts unanswered commands in a row, link closed or open failed → Backoff → re-open (250 ms doubling to 10 s)
/// </code>
/// Lines that are not AT (noise, a wrong baud rate) are counted and ignored; a final result with
/// no command pending is noise too.
/// </summary>
public static partial class ModemMachine
{
    public static ModemState Initial(ModemConfig config) => new() { Config = config, ReopenDelayMs = config.Timings.ReopenMinMs };

    /// <summary>Starts the dialogue: the link is opened.</summary>
    public static ModemStep Start(ModemConfig config, long nowMs)
    {
        var t = new Transition(Initial(config), nowMs);
        t.Open();
        return t.Result();
    }

    public static ModemStep Handle(ModemState state, ModemInput input, long nowMs)
    {
        var t = new Transition(state, nowMs);
        switch (input)
        {
            case ModemInput.LinkOpened:
                t.S = t.S with { ConsecutiveTimeouts = 0, Pending = null, Queue = ImmutableQueue<ModemCommand>.Empty };
                t.EnterPhase(ModemPhase.Initializing);
                t.Run(InitScript);
                break;
            case ModemInput.LinkOpenFailed failed:
                t.S = t.S with { LastError = $"cannot open the control device: {failed.Reason}" };
                t.BackOff();
                break;
            case ModemInput.LinkClosed closed:
                t.BearerLost($"control device closed: {closed.Reason}");
                t.S = t.S with { LastError = $"control device closed: {closed.Reason}" };
                t.BackOff();
                break;
            case ModemInput.LineReceived line:
                t.Line(line.Line);
                break;
            case ModemInput.Tick:
                t.Tick();
                break;
        }
        t.Pump();
        return t.Result();
    }

    /// <summary>
    /// When a <see cref="ModemInput.Tick"/> next has anything to do in <paramref name="state"/>:
    /// the pending command's deadline, or the poll, retry or re-open time; null while only a line
    /// or a link event can move it. The shell wakes the machine then, not on a fixed tick.
    /// </summary>
    public static long? NextDueMs(ModemState state)
    {
        if (state.Pending is { } pending) return pending.DeadlineMs;
        if (!state.Queue.IsEmpty) return null;
        return state.Phase is ModemPhase.Backoff or ModemPhase.SimNotReady or ModemPhase.Searching or ModemPhase.Registered or ModemPhase.Connected
            ? state.WakeAtMs
            : null;
    }

    private static readonly ModemCommand[] InitScript =
    [
        ModemCommand.EchoOff, ModemCommand.NumericErrors, ModemCommand.SerialNumber, ModemCommand.RegistrationUrcs,
        ModemCommand.PacketEventUrcs, ModemCommand.SimStatus, ModemCommand.EpsRegistration,
    ];

    private static readonly ModemCommand[] DialScript =
        [ModemCommand.SignalQuality, ModemCommand.DefineContext, ModemCommand.Activate, ModemCommand.Address];

    private static readonly ModemCommand[] PollScript =
        [ModemCommand.Address, ModemCommand.SignalQuality, ModemCommand.EpsRegistration];

    /// <summary>The command line of <paramref name="command"/> for this modem.</summary>
    public static string LineOf(ModemCommand command, ModemConfig config) => command switch
    {
        ModemCommand.EchoOff => AtCommands.EchoOff,
        ModemCommand.NumericErrors => AtCommands.NumericErrors,
        ModemCommand.SerialNumber => AtCommands.SerialNumber,
        ModemCommand.RegistrationUrcs => AtCommands.EpsRegistrationUrcs,
        ModemCommand.PacketEventUrcs => AtCommands.PacketEventUrcs,
        ModemCommand.SimStatus => AtCommands.SimStatus,
        ModemCommand.EpsRegistration => AtCommands.EpsRegistration,
        ModemCommand.Registration => AtCommands.Registration,
        ModemCommand.SignalQuality => AtCommands.SignalQuality,
        ModemCommand.DefineContext => AtCommands.DefineContext(config.ContextId, config.Apn),
        ModemCommand.Activate => AtCommands.Activate(config.ContextId),
        ModemCommand.Address => AtCommands.Address(config.ContextId),
        _ => AtCommands.Attention,
    };

    /// <summary>The information-text name a command answers with (empty: plain text or none).</summary>
    private static string AnswerName(ModemCommand command) => command switch
    {
        ModemCommand.SerialNumber => AtSerialNumber.Name,
        ModemCommand.SimStatus => AtSimRepr.Name,
        ModemCommand.EpsRegistration => AtRegistrationRepr.Eps,
        ModemCommand.Registration => AtRegistrationRepr.CircuitSwitched,
        ModemCommand.SignalQuality => AtSignalRepr.Name,
        ModemCommand.Address => AtPdpAddressRepr.Name,
        _ => "",
    };

    /// <summary>The mutable scratch of one transition; the machine stays pure from the outside.</summary>
    private sealed partial class Transition(ModemState state, long now)
    {
        private readonly ImmutableArray<ModemEffect>.Builder _effects = ImmutableArray.CreateBuilder<ModemEffect>();

        public ModemState S = state;

        public long Now => now;

        public ModemStep Result() => new(S, _effects.ToImmutable());

        public void Emit(ModemEffect effect) => _effects.Add(effect);

        public void Count(Func<ModemCounters, ModemCounters> change) => S = S with { Counters = change(S.Counters) };

        public void EnterPhase(ModemPhase phase)
        {
            if (S.Phase == phase) return;
            Emit(new ModemEffect.Note($"modem {S.Phase} -> {phase}"));
            S = S with { Phase = phase, PhaseSinceMs = now };
        }

        public void Open()
        {
            if (S.Phase != ModemPhase.Closed) Count(c => c with { Reopens = c.Reopens + 1 });
            EnterPhase(ModemPhase.Opening);
            S = S with { Pending = null, Queue = ImmutableQueue<ModemCommand>.Empty };
            Emit(new ModemEffect.OpenLink());
        }

        /// <summary>Forget the dialogue and re-open after the current delay, doubling it.</summary>
        public void BackOff()
        {
            var delay = S.ReopenDelayMs <= 0 ? S.Config.Timings.ReopenMinMs : S.ReopenDelayMs;
            S = S with
            {
                Pending = null,
                Queue = ImmutableQueue<ModemCommand>.Empty,
                WakeAtMs = now + delay,
                ReopenDelayMs = Math.Min(delay * 2, S.Config.Timings.ReopenMaxMs),
                Registration = null,
                SignalDbm = null,
            };
            EnterPhase(ModemPhase.Backoff);
        }

        /// <summary>Replaces whatever was queued with <paramref name="commands"/>.</summary>
        public void Run(IEnumerable<ModemCommand> commands) =>
            S = S with { Queue = ImmutableQueue.CreateRange(commands) };

        public void Then(ModemCommand command) => S = S with { Queue = S.Queue.Enqueue(command) };

        public void WaitFor(int ms) => S = S with { Queue = ImmutableQueue<ModemCommand>.Empty, WakeAtMs = now + ms };

        public void BearerUp(Ipv4Address address)
        {
            if (S.Address == address && S.Phase == ModemPhase.Connected) return;
            var reason = S.Address is { } old && S.Phase == ModemPhase.Connected ? $"address changed from {old}" : "bearer activated";
            if (S.Address is not null && S.Phase == ModemPhase.Connected) Count(c => c with { AddressChanges = c.AddressChanges + 1 });
            S = S with { Address = address, ReopenDelayMs = S.Config.Timings.ReopenMinMs, LastError = null };
            EnterPhase(ModemPhase.Connected);
            Emit(new ModemEffect.BearerChanged(address, reason));
        }

        /// <summary>The bearer is gone (if it was up): tell the bridge, count it.</summary>
        public void BearerLost(string reason)
        {
            if (S.Phase != ModemPhase.Connected) return;
            Count(c => c with { BearerDrops = c.BearerDrops + 1 });
            S = S with { Address = null };
            EnterPhase(ModemPhase.Registered);
            Emit(new ModemEffect.BearerChanged(null, reason));
        }

        /// <summary>Sends the next queued command when nothing is on the line.</summary>
        public void Pump()
        {
            if (S.Pending is not null || S.Queue.IsEmpty || S.Phase is ModemPhase.Backoff or ModemPhase.Opening or ModemPhase.Closed) return;
            var next = S.Queue.Dequeue(out var command);
            S = S with { Queue = next };
            Send(command, resent: false);
        }

        private void Send(ModemCommand command, bool resent)
        {
            var line = LineOf(command, S.Config);
            var timeout = command == ModemCommand.Activate ? S.Config.Timings.ActivationTimeoutMs : S.Config.Timings.CommandTimeoutMs;
            S = S with { Pending = new PendingCommand(command, line, now + timeout, resent, []) };
            if (command == ModemCommand.Activate) Count(c => c with { Dials = c.Dials + 1 });
            Count(c => c with { CommandsSent = c.CommandsSent + 1 });
            Emit(new ModemEffect.SendLine(line));
        }

        public void Tick()
        {
            if (S.Pending is { } pending)
            {
                if (now < pending.DeadlineMs) return;
                Count(c => c with { Timeouts = c.Timeouts + 1 });
                S = S with { ConsecutiveTimeouts = S.ConsecutiveTimeouts + 1, Pending = null };
                if (S.ConsecutiveTimeouts >= S.Config.Timings.MaxTimeouts)
                {
                    var reason = $"no answer to {pending.Line} ({S.ConsecutiveTimeouts} commands in a row unanswered)";
                    BearerLost($"modem not answering: {reason}");
                    S = S with { LastError = reason, ConsecutiveTimeouts = 0 };
                    Emit(new ModemEffect.CloseLink(reason));
                    BackOff();
                    return;
                }
                Send(pending.Command, resent: true);
                return;
            }
            if (!S.Queue.IsEmpty || now < S.WakeAtMs) return;
            switch (S.Phase)
            {
                case ModemPhase.Backoff:
                    Open();
                    break;
                case ModemPhase.SimNotReady:
                    Run([ModemCommand.SimStatus, ModemCommand.EpsRegistration]);
                    break;
                case ModemPhase.Searching:
                case ModemPhase.Registered:
                    Run([ModemCommand.EpsRegistration]);
                    break;
                case ModemPhase.Connected:
                    Run(PollScript);
                    S = S with { WakeAtMs = now + S.Config.Timings.PollIntervalMs };
                    break;
            }
        }

        public void Dial()
        {
            EnterPhase(ModemPhase.Registered);
            Run(DialScript);
        }
    }
}
