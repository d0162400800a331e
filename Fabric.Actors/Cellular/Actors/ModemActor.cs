using Akka.Actor;
using Akka.Event;
using Fabric.Actors.Scheduling;
using Fabric.Actors.Cellular.Modem;
using Fabric.Actors.Cellular.Serial;

namespace Fabric.Actors.Cellular.Actors;

/// <summary>
/// /user/fabric/hv-H/modem-M: a thin shell around <see cref="ModemMachine"/>. It feeds the
/// machine the lines of the modem's control link, the link's loss and the time, and carries out
/// its effects: open or close the link, write commands, tell the hypervisor about the bearer.
/// Re-opening with backoff is the machine's decision (phase Backoff); a link that vanished
/// reports itself through its reader thread. The machine is woken when it says something falls
/// due (<see cref="ModemMachine.NextDueMs"/>: a command's deadline, the next poll or re-open),
/// not on a fixed tick. The last state is published for management.
/// </summary>
public sealed class ModemActor : ReceiveActor, IWithTimers
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly ModemRuntime _runtime;
    private readonly ModemConfig _config;
    private long _armedAt = long.MaxValue;
    private ModemState _state;
    private IModemLink? _link;
    private int _generation;

    public ModemActor(ModemRuntime runtime, ModemConfig config)
    {
        _runtime = runtime;
        _config = config;
        _state = ModemMachine.Initial(config);

        Receive<LineArrived>(l => l.Generation == _generation, l => Feed(new ModemInput.LineReceived(l.Line)));
        Receive<LinkLost>(l => l.Generation == _generation, l =>
        {
            CloseLink();
            Feed(new ModemInput.LinkClosed(l.Reason));
        });
        Receive<LineArrived>(_ => { }); // from a link closed since
        Receive<LinkLost>(_ => { });
        Receive<Tick>(_ =>
        {
            _armedAt = long.MaxValue; // fired
            Feed(new ModemInput.Tick());
        });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(ModemRuntime runtime, ModemConfig config) =>
        ActorProps.Of(() => new ModemActor(runtime, config));

    private static long Now => Environment.TickCount64;

    protected override void PreStart()
    {
        Apply(ModemMachine.Start(_config, Now));
    }

    protected override void PostStop()
    {
        CloseLink();
        _runtime.Link = "closed";
    }

    private void Feed(ModemInput input) => Apply(ModemMachine.Handle(_state, input, Now));

    private void Apply(ModemStep step)
    {
        _state = step.State;
        foreach (var effect in step.Effects)
        {
            switch (effect)
            {
                case ModemEffect.OpenLink:
                    OpenLink();
                    break;
                case ModemEffect.CloseLink close:
                    _log.Warning("Modem {0}: closing {1}: {2}", _runtime.Intent.Name, _runtime.Device.Description, close.Reason);
                    CloseLink();
                    break;
                case ModemEffect.SendLine send:
                    if (_link is null || !_link.TrySend(send.Line))
                    {
                        // Written to a link that is gone: the machine learns it as a closed link.
                        Self.Tell(new LinkLost(_generation, $"write of {send.Line} failed"));
                    }
                    break;
                case ModemEffect.BearerChanged bearer:
                    _log.Info("Modem {0}: bearer {1} ({2})", _runtime.Intent.Name, bearer.Address?.ToString() ?? "down", bearer.Reason);
                    Context.Parent.Tell(new ModemBearerChanged(_runtime.Intent.Name, bearer.Address, bearer.Reason));
                    break;
                case ModemEffect.Note note:
                    _log.Info("Modem {0}: {1}", _runtime.Intent.Name, note.Message);
                    break;
            }
        }
        _runtime.State = _state;
        ArmTick();
    }

    /// <summary>One timer, for when the machine next has something to do (re-armed when that moves).</summary>
    private void ArmTick() => Timers.ArmAt(Tick.Instance, ModemMachine.NextDueMs(_state) ?? long.MaxValue, ref _armedAt);

    private void OpenLink()
    {
        CloseLink();
        var generation = ++_generation;
        IModemLink link;
        try
        {
            link = _runtime.Device.OpenLink();
        }
        catch (Exception e)
        {
            _runtime.Link = $"open failed: {e.Message}";
            Feed(new ModemInput.LinkOpenFailed(e.Message));
            return;
        }
        _link = link;
        _runtime.Link = link.Description;
        var self = Self;
        link.Start(line => self.Tell(new LineArrived(generation, line)), reason => self.Tell(new LinkLost(generation, reason)));
        Feed(new ModemInput.LinkOpened());
    }

    private void CloseLink()
    {
        _link?.Dispose();
        _link = null;
        _generation++;
    }

    private sealed record LineArrived(int Generation, string Line);

    private sealed record LinkLost(int Generation, string Reason);

    private sealed class Tick
    {
        public static readonly Tick Instance = new();
    }
}
