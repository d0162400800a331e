using Fabric.Actors.Cellular.Emulator;
using Fabric.Actors.Cellular.Modem;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Tests.Cellular;

/// <summary>The AT dialogue as a pure state machine, against the emulator and against hand-fed lines.</summary>
public class ModemMachineTests
{
    private static readonly ModemTimings Fast = new()
    {
        CommandTimeoutMs = 500,
        ActivationTimeoutMs = 1_000,
        PollIntervalMs = 1_000,
        RegistrationPollMs = 500,
        DialRetryMs = 1_000,
        MaxTimeouts = 2,
        ReopenMinMs = 250,
        ReopenMaxMs = 2_000,
    };

    [Fact]
    public void Dials_the_apn_and_reports_the_bearer_with_identity_sim_registration_and_signal()
    {
        var h = new ModemHarness(Fast, apn: "iot.example");
        h.RunUntil(s => s.Phase == ModemPhase.Connected);

        Assert.Equal(
            ["ATE0", "AT+CMEE=1", "AT+CGSN", "AT+CEREG=2", "AT+CGEREP=2,1", "AT+CPIN?", "AT+CEREG?", "AT+CSQ",
             "AT+CGDCONT=1,\"IP\",\"iot.example\"", "AT+CGACT=1,1", "AT+CGPADDR=1"],
            h.Sent.Take(11));
        var expected = CarrierPool.FirstAddressOf("hv-t", "m1");
        Assert.Equal(expected, h.State.Address);
        Assert.Equal(new ModemEffect.BearerChanged(expected, "bearer activated"), Assert.Single(h.Bearer));
        Assert.Equal(h.Emulator.SerialNumber, h.State.SerialNumber);
        Assert.Equal("READY", h.State.Sim);
        Assert.Equal(RegistrationStatus.Home, h.State.Registration);
        Assert.Equal(-71, h.State.SignalDbm);
        Assert.Equal("iot.example", h.Emulator.Apn);
        Assert.Equal(0, h.State.Counters.GarbageLines);
    }

    [Fact]
    public void Follows_an_address_change_announced_by_a_urc_at_once()
    {
        var h = new ModemHarness(Fast);
        h.RunUntil(s => s.Phase == ModemPhase.Connected);
        var before = h.State.Address;

        var changed = h.Emulator.ChangeAddress();
        h.Run(ModemHarness.TickMs); // the URC, then AT+CGPADDR before the next poll is due

        Assert.NotEqual(before, changed);
        Assert.Equal(changed, h.State.Address);
        Assert.Equal(new ModemEffect.BearerChanged(changed, $"address changed from {before}"), h.Bearer[^1]);
        Assert.Equal(1, h.State.Counters.AddressChanges);
    }

    [Fact]
    public void Finds_an_unannounced_address_change_with_the_periodic_address_poll()
    {
        var h = new ModemHarness(Fast);
        h.RunUntil(s => s.Phase == ModemPhase.Connected);
        h.Emulator.AnnounceAddressChanges = false;

        var changed = h.Emulator.ChangeAddress();
        var took = h.RunUntil(s => s.Address == changed);

        Assert.InRange(took, 0, Fast.PollIntervalMs + ModemHarness.TickMs);
    }

    [Fact]
    public void Re_dials_when_the_network_drops_the_bearer()
    {
        var h = new ModemHarness(Fast);
        h.RunUntil(s => s.Phase == ModemPhase.Connected);
        var first = h.State.Address;

        h.Emulator.DropBearer();
        h.Run(ModemHarness.TickMs);
        Assert.Contains(h.Bearer, b => b.Address is null && b.Reason.Contains("NetworkPdnDeactivated"));

        h.RunUntil(s => s.Phase == ModemPhase.Connected);
        Assert.NotNull(h.State.Address);
        Assert.NotEqual(first, h.State.Address);
        Assert.Equal(2, h.Emulator.BearerActivations);
        Assert.Equal(1, h.State.Counters.BearerDrops);
    }

    [Fact]
    public void Loses_the_bearer_when_deregistered_and_dials_again_once_registered()
    {
        var h = new ModemHarness(Fast);
        h.RunUntil(s => s.Phase == ModemPhase.Connected);

        h.Emulator.Deregister();
        h.Run(ModemHarness.TickMs);
        Assert.Equal(ModemPhase.Searching, h.State.Phase);
        Assert.Null(h.Bearer[^1].Address);
        h.Run(2_000);
        Assert.Equal(ModemPhase.Searching, h.State.Phase); // polled, still searching

        h.Emulator.Register();
        var took = h.RunUntil(s => s.Phase == ModemPhase.Connected);
        Assert.InRange(took, 0, 200); // the +CEREG: 1 URC wakes the dial, no wait for the poll
    }

    [Fact]
    public void A_silent_modem_is_closed_and_reopened_with_a_doubling_backoff_until_it_answers()
    {
        var h = new ModemHarness(Fast);
        h.RunUntil(s => s.Phase == ModemPhase.Connected);
        h.Emulator.Silent = true;

        h.RunUntil(s => s.Phase == ModemPhase.Backoff, maxMs: 5_000);
        Assert.Contains(h.Effects, e => e is ModemEffect.CloseLink c && c.Reason.Contains("no answer to AT+CGPADDR=1"));
        Assert.Null(h.Bearer[^1].Address);

        // Each re-open meets silence again: 250, 500, 1000 ms between the attempts.
        var opens = new List<long>();
        for (var i = 0; i < 4; i++)
        {
            h.RunUntil(s => s.Phase == ModemPhase.Initializing, maxMs: 10_000);
            opens.Add(h.Now);
            h.RunUntil(s => s.Phase == ModemPhase.Backoff, maxMs: 10_000);
        }
        var gaps = opens.Zip(opens.Skip(1), (a, b) => b - a).ToList();
        Assert.True(gaps.Zip(gaps.Skip(1), (a, b) => b > a).All(x => x), $"gaps between re-opens should grow: {string.Join(", ", gaps)}");

        h.Emulator.Silent = false;
        h.RunUntil(s => s.Phase == ModemPhase.Connected, maxMs: 10_000);
        Assert.Equal(Fast.ReopenMinMs, h.State.ReopenDelayMs);
        Assert.True(h.State.Counters.Reopens >= 5);
    }

    [Fact]
    public void An_unplugged_modem_is_reopened_with_backoff_and_dialed_again()
    {
        var h = new ModemHarness(Fast);
        h.RunUntil(s => s.Phase == ModemPhase.Connected);

        h.DevicePresent = false;
        h.Feed(new ModemInput.LinkClosed("read: Input/output error (errno 5)"));
        Assert.Equal(ModemPhase.Backoff, h.State.Phase);
        Assert.Contains("control device closed", h.State.LastError);
        h.Run(3_000);
        Assert.Contains("cannot open the control device: no such device", h.State.LastError);

        h.DevicePresent = true;
        h.RunUntil(s => s.Phase == ModemPhase.Connected, maxMs: 10_000);
    }

    [Fact]
    public void A_refused_activation_is_reported_with_its_cme_error_and_retried()
    {
        var h = new ModemHarness(Fast);
        h.Emulator.RejectActivation = true;
        h.Run(1_500);

        Assert.Equal(ModemPhase.Registered, h.State.Phase);
        Assert.Equal("AT+CGACT=1,1: +CME ERROR 148", h.State.LastError);
        var dials = h.State.Counters.Dials;
        h.Run(2_500);
        Assert.True(h.State.Counters.Dials > dials, "the dial is retried after DialRetryMs");

        h.Emulator.RejectActivation = false;
        h.RunUntil(s => s.Phase == ModemPhase.Connected);
        Assert.Null(h.State.LastError);
    }

    [Fact]
    public void A_missing_sim_waits_and_is_checked_again()
    {
        var h = new ModemHarness(Fast);
        h.Emulator.Sim = EmulatedSim.Missing;
        h.Run(1_000);
        Assert.Equal(ModemPhase.SimNotReady, h.State.Phase);
        Assert.Equal("AT+CPIN?: +CME ERROR 10", h.State.LastError);

        h.Emulator.Sim = EmulatedSim.PinLocked;
        h.Run(1_000);
        Assert.Equal("SIM PIN", h.State.Sim);
        Assert.Equal(ModemPhase.SimNotReady, h.State.Phase);

        h.Emulator.Sim = EmulatedSim.Ready;
        h.RunUntil(s => s.Phase == ModemPhase.Connected);
    }

    [Fact]
    public void A_plain_error_without_cmee_is_an_error_too()
    {
        var h = new ModemHarness(Fast, emulatorAnswers: false);
        (string Command, string[] Answer)[] script =
        [
            ("ATE0", ["OK"]), ("AT+CMEE=1", ["ERROR"]), ("AT+CGSN", ["356938035643809", "OK"]), ("AT+CEREG=2", ["OK"]),
            ("AT+CGEREP=2,1", ["OK"]), ("AT+CPIN?", ["+CPIN: READY", "OK"]), ("AT+CEREG?", ["+CEREG: 2,1", "OK"]),
            ("AT+CSQ", ["+CSQ: 10,99", "OK"]), ("AT+CGDCONT=1,\"IP\",\"internet\"", ["ERROR"]),
        ];
        foreach (var (command, answer) in script)
        {
            Assert.Equal(command, h.State.Pending?.Line);
            foreach (var line in answer) h.Line(line);
        }

        Assert.Equal(ModemPhase.Registered, h.State.Phase);
        Assert.Equal("AT+CGDCONT=1,\"IP\",\"internet\": ERROR", h.State.LastError);
        Assert.Equal("356938035643809", h.State.SerialNumber);
        Assert.Equal(-93, h.State.SignalDbm);
        Assert.Null(h.State.Pending);
    }

    [Fact]
    public void Garbage_lines_are_counted_and_change_nothing()
    {
        var h = new ModemHarness(Fast);
        h.RunUntil(s => s.Phase == ModemPhase.Connected);
        var address = h.State.Address;

        foreach (var noise in new[] { "\u0001\u0002\u00ff", "lorem ipsum", "OK", "+CEREG: banana", "+XYZ: 1,2", new string('~', 2000), "+CGPADDR: 1,\"999.1.1.1\"" })
        {
            h.Line(noise);
        }
        h.Run(3_000);

        Assert.Equal(ModemPhase.Connected, h.State.Phase);
        Assert.Equal(address, h.State.Address);
        Assert.Equal(7, h.State.Counters.GarbageLines);
        Assert.Single(h.Bearer);
    }

    [Fact]
    public void Noise_inside_an_answer_does_not_confuse_the_answer()
    {
        var h = new ModemHarness(Fast);
        h.RunUntil(s => s.Phase == ModemPhase.Connected);
        var urcs = h.State.Counters.Urcs;
        h.EmulatorAnswers = false; // answer by hand from here
        h.Run(Fast.PollIntervalMs);
        Assert.Equal(ModemCommand.Address, h.State.Pending?.Command);

        h.Line("+CEREG: 1,\"1A2B\",\"01A2B3C4\",7"); // a URC between command and answer
        h.Line("\u0007garbage");
        h.Line("+CGPADDR: 1,\"100.127.0.99\"");
        h.Line("OK");

        Assert.Equal(Ipv4Address.Parse("100.127.0.99"), h.State.Address);
        Assert.Equal(1, h.State.Counters.GarbageLines);
        Assert.Equal(urcs + 1, h.State.Counters.Urcs);
    }

    [Fact]
    public void A_modem_that_reboots_while_connected_is_initialized_and_dialed_again()
    {
        var h = new ModemHarness(Fast);
        h.RunUntil(s => s.Phase == ModemPhase.Connected);
        var sentBefore = h.Sent.Count;

        h.Emulator.Reboot(); // RDY, +CPIN: READY; echo back on, URCs off, no bearer
        h.Run(ModemHarness.TickMs);
        Assert.Equal(1, h.State.Counters.Reboots);
        Assert.Null(h.Bearer[1].Address);

        h.RunUntil(s => s.Phase == ModemPhase.Connected);
        Assert.Equal("ATE0", h.Sent[sentBefore]);
        Assert.Equal(2, h.Emulator.BearerActivations);
        Assert.Equal(0, h.State.Counters.GarbageLines); // the echoed commands were recognised as echo
    }

    [Fact]
    public void A_reboot_found_only_by_polling_is_a_lost_bearer_and_a_new_dial()
    {
        var h = new ModemHarness(Fast);
        h.RunUntil(s => s.Phase == ModemPhase.Connected);
        h.Emulator.Silent = true;
        h.Emulator.Reboot(); // its RDY is lost
        h.Emulator.Silent = false;

        h.RunUntil(_ => h.Bearer.Count >= 3, maxMs: 3_000);
        Assert.Null(h.Bearer[1].Address);
        Assert.Contains("no address", h.Bearer[1].Reason);
        Assert.NotNull(h.Bearer[2].Address);
        Assert.Equal("ATE0", h.Sent[^11]); // dialed from the top: settings sent again
    }

    [Fact]
    public void Twenty_thousand_random_lines_never_throw_and_the_modem_connects_again_once_they_stop()
    {
        var h = new ModemHarness(Fast);
        h.RunUntil(s => s.Phase == ModemPhase.Connected);
        var random = new Random(12);
        string[] fragments =
        [
            "OK", "ERROR", "+CME ERROR: ", "+CEREG: ", "+CGEV: ", "ME PDN ", "DEACT ", "+CGPADDR: 1,\"", "+CSQ: ", "RDY", "+CPIN: ",
            "\"", ",", "1", "99", "255.255.255.255", "AT+", "\u0000", "\u00ff", "\r", " ",
        ];
        for (var i = 0; i < 20_000; i++)
        {
            var line = random.Next(3) switch
            {
                0 => string.Concat(Enumerable.Range(0, random.Next(1, 6)).Select(_ => fragments[random.Next(fragments.Length)])),
                1 => new string(Enumerable.Range(0, random.Next(0, 40)).Select(_ => (char)random.Next(0, 256)).ToArray()),
                _ => fragments[random.Next(fragments.Length)] + random.Next(-5, 300),
            };
            h.Line(line);
            if (i % 500 == 0) h.Run(ModemHarness.TickMs);
        }
        h.RunUntil(s => s.Phase == ModemPhase.Connected, maxMs: 30_000);
        Assert.True(h.State.Counters.GarbageLines > 1_000);
    }
}
