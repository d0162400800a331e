using Fabric.Actors.Cellular.Emulator;
using Fabric.Actors.Cellular.Modem;
using Fabric.Actors.DataPlane.Wire;

namespace Fabric.Tests.Cellular;

/// <summary>
/// Drives the pure modem machine against the emulator on a simulated clock, with no thread and
/// no actor: every SendLine reaches the emulator at once, every line it answers is fed back
/// before the clock moves on. The link can be cut, and lines can be injected by hand.
/// </summary>
internal sealed class ModemHarness
{
    public const int TickMs = 50;

    private readonly Queue<string> _inbox = new();

    public ModemHarness(ModemTimings? timings = null, string apn = "internet", string hypervisor = "hv-t", string modem = "m1", bool emulatorAnswers = true)
    {
        EmulatorAnswers = emulatorAnswers;
        Emulator = new ModemEmulator(CarrierPool.For(hypervisor, modem));
        Emulator.Output = line => _inbox.Enqueue(line);
        Config = new ModemConfig(apn, timings ?? new ModemTimings());
        Apply(ModemMachine.Start(Config, Now));
    }

    public ModemEmulator Emulator { get; }

    public ModemConfig Config { get; }

    public ModemState State { get; private set; } = null!;

    public long Now { get; private set; }

    /// <summary>Every effect so far, in order.</summary>
    public List<ModemEffect> Effects { get; } = [];

    /// <summary>While false, commands do not reach the emulator: the test answers with <see cref="Line"/>.</summary>
    public bool EmulatorAnswers { get; set; }

    /// <summary>While false, opening the link fails (the device is not there).</summary>
    public bool DevicePresent { get; set; } = true;

    public List<string> Sent => Effects.OfType<ModemEffect.SendLine>().Select(s => s.Line).ToList();

    public List<ModemEffect.BearerChanged> Bearer => Effects.OfType<ModemEffect.BearerChanged>().ToList();

    public void Feed(ModemInput input) => Apply(ModemMachine.Handle(State, input, Now));

    /// <summary>A line as if the modem had sent it.</summary>
    public void Line(string line)
    {
        Feed(new ModemInput.LineReceived(line));
        Drain();
    }

    /// <summary>Lets <paramref name="ms"/> pass in ticks, delivering the emulator's lines as they come.</summary>
    public void Run(int ms)
    {
        for (var t = 0; t < ms; t += TickMs)
        {
            Drain();
            Now += TickMs;
            Tick();
            Drain();
        }
    }

    /// <summary>
    /// Gives the machine the time, holding it to <see cref="ModemMachine.NextDueMs"/> (what the
    /// modem actor arms its one timer for): a tick before it changes nothing, a tick at or after
    /// it changes something (else the actor would re-arm for a past time and spin).
    /// </summary>
    private void Tick()
    {
        var due = ModemMachine.NextDueMs(State);
        var step = ModemMachine.Handle(State, new ModemInput.Tick(), Now);
        if (due is null || Now < due)
        {
            Assert.True(step.Effects.IsEmpty && step.State == State, $"a tick at {Now} before the machine's next due time ({due?.ToString() ?? "none"}) changed it: phase {State.Phase}");
        }
        else
        {
            Assert.True(!step.Effects.IsEmpty || step.State != State, $"a tick at {Now}, at or after the machine's next due time {due}, did nothing: phase {State.Phase}");
        }
        Apply(step);
    }

    /// <summary>Runs until <paramref name="done"/> holds, failing after <paramref name="maxMs"/> of simulated time.</summary>
    public long RunUntil(Func<ModemState, bool> done, int maxMs = 60_000)
    {
        var start = Now;
        Drain();
        while (!done(State))
        {
            Assert.True(Now - start < maxMs, $"not reached within {maxMs} ms: phase {State.Phase}, last error {State.LastError}");
            Run(TickMs);
        }
        return Now - start;
    }

    public Ipv4Address? ConnectedAddress => State.Phase == ModemPhase.Connected ? State.Address : null;

    private void Drain()
    {
        while (_inbox.TryDequeue(out var line)) Feed(new ModemInput.LineReceived(line));
    }

    private void Apply(ModemStep step)
    {
        State = step.State;
        foreach (var effect in step.Effects)
        {
            Effects.Add(effect);
            switch (effect)
            {
                case ModemEffect.OpenLink:
                    Feed(DevicePresent ? new ModemInput.LinkOpened() : new ModemInput.LinkOpenFailed("no such device"));
                    break;
                case ModemEffect.SendLine send when DevicePresent && EmulatorAnswers:
                    Emulator.Receive(send.Line);
                    break;
            }
        }
    }
}
