using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Actors.Cellular.Modem;

public static partial class ModemMachine
{
    private sealed partial class Transition
    {
        /// <summary>One line from the modem: part of the pending command's answer, its final result, or a URC.</summary>
        public void Line(string text)
        {
            if (!AtLine.TryParse(text, out var line, out _))
            {
                Garbage();
                return;
            }
            if (line.Kind is AtLineKind.Empty or AtLineKind.Echo) return;
            S = S with { ConsecutiveTimeouts = 0 };

            if (S.Pending is { } pending)
            {
                if (line.IsFinal)
                {
                    S = S with { Pending = null };
                    Complete(pending, line);
                    return;
                }
                if (BelongsTo(pending.Command, line))
                {
                    S = S with { Pending = pending with { Lines = pending.Lines.Add(line.Text.ToString()) } };
                    return;
                }
            }
            else if (line.IsFinal)
            {
                Garbage(); // a result with nothing asked
                return;
            }
            Unsolicited(line);
        }

        private void Garbage() => Count(c => c with { GarbageLines = c.GarbageLines + 1 });

        private static bool BelongsTo(ModemCommand command, AtLine line)
        {
            if (command == ModemCommand.SerialNumber && line.Kind == AtLineKind.Text)
            {
                return AtSerialNumber.TryParse(line, out _);
            }
            var name = AnswerName(command);
            if (name.Length == 0 || line.Kind != AtLineKind.Information || !line.IsNamed(name)) return false;
            // A +CEREG URC may arrive while AT+CEREG? is pending: only the read shape answers it.
            return command is not (ModemCommand.EpsRegistration or ModemCommand.Registration)
                || (AtRegistrationRepr.TryParse(line, out var reg) && !reg.IsUnsolicited);
        }

        /// <summary>A URC, or a line that fits nothing: act on what we know, count the rest.</summary>
        private void Unsolicited(AtLine line)
        {
            if (line.Kind == AtLineKind.Text && (line.Text.SequenceEqual("RDY") || line.Text.SequenceEqual("+PBREADY")))
            {
                Rebooted(line.Text.ToString());
                return;
            }
            if (line.Kind != AtLineKind.Information)
            {
                Garbage();
                return;
            }
            if (AtRegistrationRepr.TryParse(line, out var reg))
            {
                Count(c => c with { Urcs = c.Urcs + 1 });
                RegistrationSeen(reg.Status);
                return;
            }
            if (AtPdpEventRepr.TryParse(line, out var ev))
            {
                Count(c => c with { Urcs = c.Urcs + 1 });
                PdpEvent(ev);
                return;
            }
            if (AtSimRepr.TryParse(line, out var sim))
            {
                // Modems announce +CPIN: READY when they (re)start; nobody asked, so it rebooted.
                Count(c => c with { Urcs = c.Urcs + 1 });
                if (sim.IsReady && S.Phase is not (ModemPhase.Initializing or ModemPhase.Opening)) Rebooted(line.Text.ToString());
                return;
            }
            Garbage();
        }

        private void Rebooted(string what)
        {
            if (S.Phase is ModemPhase.Opening or ModemPhase.Initializing) return; // starting anyway
            Count(c => c with { Reboots = c.Reboots + 1 });
            Emit(new ModemEffect.Note($"modem restarted ('{what}'): initializing again"));
            BearerLost("modem restarted");
            S = S with { Pending = null, Registration = null, Address = null };
            EnterPhase(ModemPhase.Initializing);
            Run(InitScript);
        }

        private void PdpEvent(AtPdpEventRepr ev)
        {
            if (ev.ContextId is { } cid && cid != S.Config.ContextId) return;
            if (ev.EndsBearer)
            {
                if (S.Phase != ModemPhase.Connected) return;
                BearerLost($"bearer ended by the network/modem (+CGEV {ev.Event})");
                RedialSoon();
                return;
            }
            if (ev.Event is AtPdpEvent.MePdnActivated or AtPdpEvent.NetworkPdnActivated && S.Phase == ModemPhase.Connected
                && S.Pending?.Command != ModemCommand.Address && !S.Queue.Contains(ModemCommand.Address))
            {
                Then(ModemCommand.Address); // a new PDN may carry a new address
            }
        }

        private void RegistrationSeen(RegistrationStatus status)
        {
            S = S with { Registration = status };
            if (status.IsRegistered())
            {
                if (S.Phase == ModemPhase.Searching && S.Pending is null) Run([ModemCommand.EpsRegistration]);
                return;
            }
            if (S.Phase is ModemPhase.Connected or ModemPhase.Registered)
            {
                BearerLost($"deregistered ({status.Describe()})");
                EnterPhase(ModemPhase.Searching);
                WaitFor(S.Config.Timings.RegistrationPollMs);
            }
        }

        /// <summary>
        /// Dial again at once, from the top of the dialogue: a bearer that vanished without a URC
        /// may mean a modem that rebooted unseen (echo back on, URCs off), so settings are re-sent.
        /// </summary>
        private void RedialSoon()
        {
            EnterPhase(ModemPhase.Initializing);
            Run(InitScript);
        }

        /// <summary>The pending command ended: act on its answer.</summary>
        private void Complete(PendingCommand pending, AtLine final)
        {
            var ok = final.Kind == AtLineKind.Ok;
            string? error = null;
            if (!ok)
            {
                Count(c => c with { Errors = c.Errors + 1 });
                error = AtCmeErrorRepr.TryParse(final, out var cme) ? $"{pending.Line}: {cme}" : $"{pending.Line}: {final.Text}";
            }
            switch (pending.Command)
            {
                case ModemCommand.EchoOff:
                case ModemCommand.NumericErrors:
                case ModemCommand.RegistrationUrcs:
                case ModemCommand.PacketEventUrcs:
                    break; // optional features: a modem without them still dials
                case ModemCommand.SerialNumber:
                    foreach (var l in pending.Lines)
                    {
                        if (AtLine.TryParse(l, out var parsed, out _) && AtSerialNumber.TryParse(parsed, out var imei)) S = S with { SerialNumber = imei };
                    }
                    break;
                case ModemCommand.SimStatus:
                    SimAnswered(ok, pending, error);
                    break;
                case ModemCommand.EpsRegistration:
                case ModemCommand.Registration:
                    RegistrationAnswered(pending, ok);
                    break;
                case ModemCommand.SignalQuality:
                    foreach (var l in pending.Lines)
                    {
                        if (AtLine.TryParse(l, out var parsed, out _) && AtSignalRepr.TryParse(parsed, out var csq)) S = S with { SignalDbm = csq.Dbm };
                    }
                    break;
                case ModemCommand.DefineContext:
                case ModemCommand.Activate:
                    if (!ok) DialFailed(error!);
                    break;
                case ModemCommand.Address:
                    AddressAnswered(pending, ok, error);
                    break;
            }
        }

        private void SimAnswered(bool ok, PendingCommand pending, string? error)
        {
            string? code = null;
            foreach (var l in pending.Lines)
            {
                if (AtLine.TryParse(l, out var parsed, out _) && AtSimRepr.TryParse(parsed, out var sim)) code = sim.Code;
            }
            S = S with { Sim = code ?? (ok ? S.Sim : "error") };
            if (ok && code == AtSimRepr.Ready) return;
            BearerLost("SIM not ready");
            S = S with { LastError = error ?? $"SIM not ready: {code ?? "no +CPIN answer"}" };
            EnterPhase(ModemPhase.SimNotReady);
            WaitFor(S.Config.Timings.RegistrationPollMs);
        }

        private void RegistrationAnswered(PendingCommand pending, bool ok)
        {
            RegistrationStatus? status = null;
            foreach (var l in pending.Lines)
            {
                if (AtLine.TryParse(l, out var parsed, out _) && AtRegistrationRepr.TryParse(parsed, out var reg)) status = reg.Status;
            }
            if (status is { } s) S = S with { Registration = s };
            if (ok && status is { } st && st.IsRegistered())
            {
                if (S.Phase != ModemPhase.Connected) Dial();
                return;
            }
            if (S.Phase == ModemPhase.Connected)
            {
                // A failed poll proves nothing; a read saying "not registered" ends the bearer.
                if (status is { } lost) RegistrationSeen(lost);
                return;
            }
            if (pending.Command == ModemCommand.EpsRegistration)
            {
                Run([ModemCommand.Registration]); // not on LTE: a 2G/3G registration carries data too
                return;
            }
            EnterPhase(ModemPhase.Searching);
            WaitFor(S.Config.Timings.RegistrationPollMs);
        }

        private void DialFailed(string error)
        {
            S = S with { LastError = error };
            Emit(new ModemEffect.Note($"dial failed: {error}"));
            EnterPhase(ModemPhase.Registered);
            WaitFor(S.Config.Timings.DialRetryMs);
        }

        private void AddressAnswered(PendingCommand pending, bool ok, string? error)
        {
            Ipv4Address? address = null;
            foreach (var l in pending.Lines)
            {
                if (AtLine.TryParse(l, out var parsed, out _) && AtPdpAddressRepr.TryParse(parsed, out var a) && a.ContextId == S.Config.ContextId) address = a.Address;
            }
            if (address is { } up)
            {
                var wasConnected = S.Phase == ModemPhase.Connected;
                BearerUp(up);
                if (!wasConnected) S = S with { WakeAtMs = Now + S.Config.Timings.PollIntervalMs };
                return;
            }
            if (S.Phase == ModemPhase.Connected)
            {
                BearerLost(ok ? "the context has no address any more" : $"address query failed: {error}");
                RedialSoon();
                return;
            }
            DialFailed(ok ? "activated, but the context has no address" : error!);
        }
    }
}
