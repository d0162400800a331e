using Akka.Actor;
using Akka.Event;
using Fabric.Actors.Cellular.Modem;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.Guardian;
using Fabric.Actors.Settings;
using Fabric.Messages.Intent;

namespace Fabric.Actors.Cellular.Actors;

/// <summary>
/// /user/fabric/hv-H: one hypervisor. It opens its modems' devices (a simulated modem, or a
/// serial AT port) and runs <c>modem-M</c> per modem and one <c>bridge</c>; it passes each
/// modem's bearer changes to the bridge. A changed configuration stops the children, waits for
/// them to end, closes the devices and starts again from the new intent. A child that throws is
/// restarted (the modem's dialogue starts over; a VM port is re-opened).
/// </summary>
public sealed class HypervisorActor : ReceiveActor, IWithStash
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly CellularNode _node;
    private readonly Dictionary<string, ModemDevice> _devices = new();
    private readonly HashSet<IActorRef> _children = [];
    private HypervisorIntent _intent;
    private IActorRef _bridge = ActorRefs.Nobody;

    public HypervisorActor(HypervisorIntent intent, CellularNode node)
    {
        _intent = intent;
        _node = node;
        Running();
    }

    public IStash Stash { get; set; } = null!;

    public static Props Props(HypervisorIntent intent, CellularNode node) => ActorProps.Of(() => new HypervisorActor(intent, node));

    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(10, TimeSpan.FromMinutes(1), _ => Directive.Restart);

    protected override void PreStart() => StartChildren();

    protected override void PostStop()
    {
        CloseDevices();
        _node.Hypervisors.TryRemove(_intent.Name, out _);
    }

    private void Running()
    {
        Receive<ModemBearerChanged>(changed => _bridge.Forward(changed));
        Receive<ElementSpecChanged>(changed =>
        {
            _intent = ((HypervisorElement)changed.Spec.Spec).Intent;
            _log.Info("Hypervisor {0} changed: restarting its modems and bridge", _intent.Name);
            foreach (var child in _children) Context.Stop(child);
            Become(Restarting);
        });
        Receive<Terminated>(t => _children.Remove(t.ActorRef));
    }

    private void Restarting()
    {
        Receive<Terminated>(t =>
        {
            _children.Remove(t.ActorRef);
            if (_children.Count > 0) return;
            CloseDevices();
            StartChildren();
            Become(Running);
            Stash.UnstashAll();
        });
        ReceiveAny(_ => Stash.Stash());
    }

    private void StartChildren()
    {
        var settings = _node.Settings ?? FabricSettings.Get(Context.System).Cellular;
        var runtime = new HypervisorRuntime(_intent, _intent.Node, settings.Lease);
        _node.Hypervisors[_intent.Name] = runtime;
        var data = new Dictionary<string, IPort>();
        foreach (var modem in _intent.Modems)
        {
            var device = _node.OpenDevice(_intent.Name, modem);
            _devices[modem.Name] = device;
            data[modem.Name] = device.Data;
            var modemRuntime = new ModemRuntime(modem, device);
            runtime.Modems[modem.Name] = modemRuntime;
            Watch(Context.ActorOf(ModemActor.Props(modemRuntime, new ModemConfig(modem.Apn, settings.Timings)), $"modem-{modem.Name}"));
        }
        _bridge = Context.ActorOf(BridgeActor.Props(_intent, runtime, _node, data, settings), "bridge");
        Watch(_bridge);
    }

    private void Watch(IActorRef child)
    {
        Context.Watch(child);
        _children.Add(child);
    }

    private void CloseDevices()
    {
        foreach (var device in _devices.Values) device.Dispose();
        _devices.Clear();
    }
}
