using Akka.Actor;
using Akka.Event;
using Fabric.Actors.Guardian;

namespace Fabric.Actors.Switching.Actors;

/// <summary>
/// host-&lt;name&gt; under /user/fabric: the host element. Runs its MFE as mfe-&lt;name&gt; and hands
/// it every new spec; when the MFE is renamed it waits for the old one to stop (its VNIC ports
/// closed) before starting the new one.
/// </summary>
public sealed class HostActor : ReceiveActor, IWithStash
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly SwitchingNode _node;
    private MfeSpec _spec;
    private IActorRef _mfe = ActorRefs.Nobody;

    public HostActor(MfeSpec spec, SwitchingNode node)
    {
        _spec = spec;
        _node = node;
        Running();
    }

    public IStash Stash { get; set; } = null!;

    public static Props Props(MfeSpec spec, SwitchingNode node) => ActorProps.Of(() => new HostActor(spec, node));

    protected override void PreStart() => _mfe = StartMfe();

    private void Running()
    {
        Receive<ElementSpecChanged>(changed =>
        {
            var spec = (MfeSpec)changed.Spec.Spec;
            if (spec.Mfe == _spec.Mfe)
            {
                _spec = spec;
                _mfe.Tell(new MfeSpecChanged(spec));
                return;
            }

            _log.Info("Host {0}: MFE renamed {1} -> {2}", spec.Host, _spec.Mfe, spec.Mfe);
            _spec = spec;
            Context.Watch(_mfe);
            Context.Stop(_mfe);
            Become(Replacing);
        });
    }

    private void Replacing()
    {
        Receive<Terminated>(t => t.ActorRef.Equals(_mfe), _ =>
        {
            _mfe = StartMfe();
            Become(Running);
            Stash.UnstashAll();
        });
        ReceiveAny(_ => Stash.Stash());
    }

    private IActorRef StartMfe() => Context.ActorOf(MfeActor.Props(_spec, _node), "mfe-" + _spec.Mfe);
}
