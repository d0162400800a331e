using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;
using Fabric.Actors.Settings;

namespace Fabric.Actors.Switching.Actors;

/// <summary>
/// vnic-&lt;dcn&gt; under the MFE: owns a container DCN's VNIC port (opened through the plane's
/// port factory: a TAP, a simulated port, or a ghost port). Its receive thread feeds the MFE's
/// data path. A port that fails to open, or whose device goes away, is opened again after
/// vnic-retry-min, doubling to vnic-retry-max (fabric.switching; 100 ms to 5 s as shipped); the
/// MFE hears of each up and down and rebuilds its table. A port that goes away says so
/// (<see cref="DataPlane.Io.IPort.WentAway"/>): nothing polls a healthy one.
/// </summary>
public sealed class VnicActor : ReceiveActor, IWithTimers
{
    private readonly SwitchingSettings _settings = FabricSettings.Get(Context.System).Switching;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly DcnSpec _spec;
    private readonly SwitchingNode _node;
    private readonly MfeDatapath _datapath;
    private readonly MfeRuntime _runtime;
    private DcnVnic? _vnic;
    private TimeSpan _retry;

    public VnicActor(DcnSpec spec, SwitchingNode node, MfeDatapath datapath, MfeRuntime runtime)
    {
        _spec = spec;
        _node = node;
        _datapath = datapath;
        _runtime = runtime;
        _retry = _settings.VnicRetryMin;
        Receive<Open>(_ => TryOpen());
        Receive<Check>(_ =>
        {
            if (_vnic is { Port.State: DataPlane.Io.PortState.Gone } gone)
            {
                _log.Warning("DCN {0}: VNIC port {1} is gone ({2}); re-opening", _spec.Name, _spec.Port.Name, gone.Port.StateDetail);
                _runtime.VnicErrors[_spec.Name] = gone.Port.StateDetail ?? "gone";
                Context.Parent.Tell(new VnicDown(_spec.Name));
                gone.Dispose();
                _vnic = null;
                Timers.StartSingleTimer(Open.Instance, Open.Instance, _retry);
            }
        });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(DcnSpec spec, SwitchingNode node, MfeDatapath datapath, MfeRuntime runtime) =>
        ActorProps.Of(() => new VnicActor(spec, node, datapath, runtime));

    protected override void PreStart() => TryOpen();

    protected override void PostStop()
    {
        _vnic?.Dispose();
        _vnic = null;
    }

    private void TryOpen()
    {
        try
        {
            var port = _node.PortFactory(_spec.Port, _node.NextPortId());
            var self = Self;
            // Before its receive thread starts, so a port gone at once is not missed; Check reads the current port.
            port.WentAway += () => self.Tell(Check.Instance);
            var vnic = new DcnVnic(_spec, port, _datapath);
            vnic.Start();
            _vnic = vnic;
            _retry = _settings.VnicRetryMin;
            _runtime.VnicErrors.TryRemove(_spec.Name, out _);
            Context.Parent.Tell(new VnicUp(vnic));
            _log.Info("DCN {0}: VNIC on {1} port {2}{3}", _spec.Name, _spec.Port.Kind, _spec.Port.Name, _node.Ghost ? " (ghost)" : "");
        }
        catch (Exception e) when (e is IOException or ArgumentException or InvalidOperationException or SocketException)
        {
            _runtime.VnicErrors[_spec.Name] = e.Message;
            _log.Error("DCN {0}: cannot open VNIC port {1} ({2}); retrying in {3} ms", _spec.Name, _spec.Port.Name, e.Message, _retry.TotalMilliseconds);
            Timers.StartSingleTimer(Open.Instance, Open.Instance, _retry);
            _retry = _retry * 2 > _settings.VnicRetryMax ? _settings.VnicRetryMax : _retry * 2;
        }
    }

    private sealed class Open
    {
        public static readonly Open Instance = new();
    }

    private sealed class Check
    {
        public static readonly Check Instance = new();
    }
}
