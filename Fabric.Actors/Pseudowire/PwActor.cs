using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Messages.Pseudowire;

namespace Fabric.Actors.Pseudowire;

/// <summary>
/// pw-&lt;name&gt;: owns one <see cref="PwLink"/>: registers it with the node's underlay (so its
/// label is demultiplexed to it), sends its hellos every interval, and evaluates its liveness
/// five times per interval, telling its parent (trunk or PE) when it enters or leaves Up.
/// </summary>
public sealed class PwActor : ReceiveActor, IWithTimers
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly PwLink _link;
    private readonly PwUnderlay _underlay;
    private readonly PacketBatchPool _pool;
    private bool _reportedUp;

    public PwActor(PwLink link, PwUnderlay underlay, PacketBatchPool pool)
    {
        _link = link;
        _underlay = underlay;
        _pool = pool;
        Receive<SendHello>(_ => SendHelloNow());
        Receive<CheckLiveness>(_ => Check());
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(PwLink link, PwUnderlay underlay, PacketBatchPool pool) =>
        Akka.Actor.Props.Create(() => new PwActor(link, underlay, pool));

    protected override void PreStart()
    {
        _underlay.Register(_link);
        if (!_link.HasLiveness)
        {
            _log.Warning("PW {0} has no control word: no in-band liveness, counted as up", _link.Name);
            _reportedUp = true;
            Context.Parent.Tell(new PwLivenessChanged(_link.Name, true, "up", "no control word"));
            return;
        }

        var interval = _link.Liveness.Interval;
        Timers.StartPeriodicTimer(SendHello.Instance, SendHello.Instance, TimeSpan.Zero, interval);
        var check = TimeSpan.FromTicks(Math.Max(interval.Ticks / 5, TimeSpan.TicksPerMillisecond));
        Timers.StartPeriodicTimer(CheckLiveness.Instance, CheckLiveness.Instance, check, check);
    }

    protected override void PostStop() => _underlay.Unregister(_link);

    private void SendHelloNow()
    {
        var batch = _pool.Rent();
        try
        {
            if (_link.AppendHello(batch))
            {
                _underlay.SendControl(batch);
            }
        }
        finally
        {
            batch.Return();
        }
    }

    private void Check()
    {
        var before = _link.Liveness.State;
        if (!_link.Liveness.Evaluate(Stopwatch.GetTimestamp()))
        {
            return;
        }

        var now = _link.Liveness.State;
        string reason = _link.Liveness.Diagnostic switch
        {
            1 => "hellos missed (detection time expired)",
            3 => "peer signalled down",
            _ => "hello exchange",
        };
        _log.Info("PW {0} liveness {1} -> {2} ({3})", _link.Name, before, now, reason);
        bool up = now == BfdState.Up;
        if (up != _reportedUp)
        {
            _reportedUp = up;
            Context.Parent.Tell(new PwLivenessChanged(_link.Name, up, now.ToString().ToLowerInvariant(), reason));
            if (now == BfdState.Up || before == BfdState.Up)
            {
                SendHelloNow(); // tell the peer at once rather than at the next interval
            }
        }
    }

    private sealed class SendHello
    {
        public static readonly SendHello Instance = new();
    }

    private sealed class CheckLiveness
    {
        public static readonly CheckLiveness Instance = new();
    }
}
