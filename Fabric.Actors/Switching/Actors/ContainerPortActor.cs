using Akka.Actor;
using Akka.Event;
using Fabric.Actors.DataPlane.Io;

namespace Fabric.Actors.Switching.Actors;

/// <summary>
/// port-&lt;container&gt; under the MFE: owns one container's MFE port (its counters and its
/// capture file) from the moment the container is in the intent until it leaves it. The MFE puts
/// the port in its table once this actor reports it, and takes it out before stopping it.
/// </summary>
public sealed class ContainerPortActor : ReceiveActor
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly ContainerSpec _spec;
    private readonly SwitchingNode _node;
    private ContainerPort _port = null!;

    public ContainerPortActor(ContainerSpec spec, SwitchingNode node)
    {
        _spec = spec;
        _node = node;
        Receive<ContainerChanged>(c =>
        {
            _port.Spec = c.Spec;
            _log.Info("Port {0} changed (tag {1}, tenant {2})", c.Spec.Name, c.Spec.Tag, c.Spec.Tenant ?? "-");
        });
    }

    public static Props Props(ContainerSpec spec, SwitchingNode node) => ActorProps.Of(() => new ContainerPortActor(spec, node));

    protected override void PreStart()
    {
        _port = new ContainerPort(_spec, OpenCapture());
        Context.Parent.Tell(new PortUp(_port));
    }

    protected override void PostStop() => _port.Dispose();

    private PcapWriter? OpenCapture()
    {
        // A ghost copy writes nothing to the host; a capture that cannot be opened leaves the port forwarding.
        if (_spec.Capture is not { } path || _node.Ghost)
        {
            return null;
        }

        try
        {
            return new PcapWriter(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _log.Error("Port {0}: cannot open capture {1}: {2}", _spec.Name, path, e.Message);
            return null;
        }
    }
}
