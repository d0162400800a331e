using Akka.Actor;
using Akka.Event;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Messages.Pseudowire;

namespace Fabric.Actors.Pseudowire;

/// <summary>
/// pw-&lt;name&gt;: owns one <see cref="PwLink"/>: registers it with the node's underlay (so its
/// label is demultiplexed to it) and its session with the node's <see cref="PwLivenessClock"/>
/// (which sends the hellos and evaluates the session off the actor dispatcher, so a busy node
/// cannot delay them), logs every session transition the clock reports, and tells its parent
/// (trunk or PE) when the PW enters or leaves Up.
/// </summary>
public sealed class PwActor : ReceiveActor
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly PwLink _link;
    private readonly PwUnderlay _underlay;
    private bool _reportedUp;

    public PwActor(PwLink link, PwUnderlay underlay)
    {
        _link = link;
        _underlay = underlay;
        Receive<LivenessTransition>(OnTransition);
    }

    public static Props Props(PwLink link, PwUnderlay underlay) =>
        ActorProps.Of(() => new PwActor(link, underlay));

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

        IActorRef self = Self;
        _underlay.Liveness.Add(_link, (before, after, diagnostic) => self.Tell(new LivenessTransition(before, after, diagnostic)));
    }

    protected override void PostStop()
    {
        _underlay.Liveness.Remove(_link);
        _underlay.Unregister(_link);
    }

    private void OnTransition(LivenessTransition t)
    {
        string reason = t.Diagnostic switch
        {
            1 => "hellos missed (detection time expired)",
            3 => "peer signalled down",
            _ => "hello exchange",
        };
        _log.Info("PW {0} liveness {1} -> {2} ({3})", _link.Name, t.Before, t.After, reason);
        bool up = t.After == BfdState.Up;
        if (up != _reportedUp)
        {
            _reportedUp = up;
            Context.Parent.Tell(new PwLivenessChanged(_link.Name, up, t.After.ToString().ToLowerInvariant(), reason));
        }
    }

    /// <summary>Told by the liveness clock's thread, one per session transition.</summary>
    private sealed record LivenessTransition(BfdState Before, BfdState After, byte Diagnostic);
}
