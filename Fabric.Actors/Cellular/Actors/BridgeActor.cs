using Akka.Actor;
using Akka.Event;
using Fabric.Actors.Cellular.Bridge;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Scheduling;
using Fabric.Messages.Intent;

namespace Fabric.Actors.Cellular.Actors;

/// <summary>
/// /user/fabric/hv-H/bridge: the hypervisor's virtual L2 bridge interface (its MAC owns the
/// cellular addresses). Opens each VM's port, runs a <see cref="VmBridge"/> between it and its
/// modem's raw-IP interface (the data path runs on the ports' receive threads), hands each
/// bridge its modem's address as the modem reports it, and re-opens a VM port that failed or
/// vanished, with backoff (250 ms doubling to 10 s). Healthy ports cost no wake-up: a port that
/// goes away tells the actor (<see cref="IPort.WentAway"/>), and the check timer runs only while
/// a re-open is due.
/// </summary>
public sealed class BridgeActor : ReceiveActor, IWithTimers
{

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly HypervisorIntent _intent;
    private readonly HypervisorRuntime _runtime;
    private readonly CellularNode _node;
    private readonly IReadOnlyDictionary<string, IPort> _modemData;
    private readonly LeaseTerms _lease;
    private readonly int _retryMinMs, _retryMaxMs;
    private readonly Dictionary<string, Ipv4Address?> _addresses = new();
    private readonly Dictionary<string, (long RetryAt, int DelayMs)> _retry = new();
    private long _retryAt = long.MaxValue;

    public BridgeActor(HypervisorIntent intent, HypervisorRuntime runtime, CellularNode node, IReadOnlyDictionary<string, IPort> modemData, CellularSettings settings)
    {
        _intent = intent;
        _runtime = runtime;
        _node = node;
        _modemData = modemData;
        _lease = settings.Lease;
        _retryMinMs = (int)settings.BridgeRetryMin.TotalMilliseconds;
        _retryMaxMs = (int)settings.BridgeRetryMax.TotalMilliseconds;

        Receive<ModemBearerChanged>(changed =>
        {
            _addresses[changed.Modem] = changed.Address;
            foreach (var vm in _runtime.Vms.Values.Where(v => v.Intent.Modem == changed.Modem))
            {
                vm.Bridge?.SetAddress(changed.Address);
            }
        });
        Receive<CheckPorts>(_ =>
        {
            _retryAt = long.MaxValue; // fired, or a port went away: Check re-arms for what is due
            Check();
        });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(HypervisorIntent intent, HypervisorRuntime runtime, CellularNode node, IReadOnlyDictionary<string, IPort> modemData, CellularSettings settings) =>
        ActorProps.Of(() => new BridgeActor(intent, runtime, node, modemData, settings));

    protected override void PreStart()
    {
        foreach (var vm in _intent.Vms)
        {
            _runtime.Vms[vm.Name] = new VmRuntime(vm);
            Open(_runtime.Vms[vm.Name]);
        }
        ArmRetry();
    }

    protected override void PostStop()
    {
        foreach (var vm in _runtime.Vms.Values)
        {
            Close(vm);
        }
    }

    private void Open(VmRuntime vm)
    {
        if (!_modemData.TryGetValue(vm.Intent.Modem, out var modemPort))
        {
            vm.PortError = $"modem '{vm.Intent.Modem}' is not running";
            return;
        }
        IPort port;
        try
        {
            port = _node.PortFactory(vm.Intent.Port, _node.NextPortId());
        }
        catch (Exception e)
        {
            vm.PortError = $"cannot open {vm.Intent.Port.Kind.ToString().ToLowerInvariant()} port {vm.Intent.Port.Name}: {e.Message}";
            var delay = _retry.TryGetValue(vm.Intent.Name, out var r) ? Math.Min(r.DelayMs * 2, _retryMaxMs) : _retryMinMs;
            _retry[vm.Intent.Name] = (Environment.TickCount64 + delay, delay);
            _log.Warning("VM {0}: {1}; retrying in {2} ms", vm.Intent.Name, vm.PortError, delay);
            return;
        }
        var bridge = new VmBridge(vm.Intent.Name, Mac(_intent.Bridge.Mac), Mac(vm.Intent.Mac), _lease, port, modemPort, _node.Pool)
        {
            Ghost = _node.Ghost,
            Tracer = _node.Tracer,
        };
        bridge.SetAddress(_addresses.GetValueOrDefault(vm.Intent.Modem));
        var self = Self;
        port.WentAway += () => self.Tell(CheckPorts.Instance);
        bridge.Start();
        vm.Bridge = bridge;
        vm.PortError = null;
        _retry.Remove(vm.Intent.Name);
        _log.Info("VM {0} ({1}) mapped to bridge {2} ({3}) on port {4}, modem {5}",
            vm.Intent.Name, vm.Intent.Mac, _intent.Bridge.Name, _intent.Bridge.Mac, port.Name, vm.Intent.Modem);
    }

    private static void Close(VmRuntime vm)
    {
        var bridge = vm.Bridge;
        if (bridge is null) return;
        vm.Bridge = null;
        bridge.Stop();
        bridge.VmPort.Dispose();
    }

    /// <summary>A VM port that is gone is closed and re-opened; one that could not be opened is tried again when due.</summary>
    private void Check()
    {
        var now = Environment.TickCount64;
        foreach (var vm in _runtime.Vms.Values)
        {
            if (vm.Bridge is { } bridge && bridge.VmPort.State == PortState.Gone)
            {
                _log.Warning("VM {0}: port {1} is gone ({2}); re-opening", vm.Intent.Name, bridge.VmPort.Name, bridge.VmPort.StateDetail);
                vm.PortError = bridge.VmPort.StateDetail;
                Close(vm);
                vm.CountRestart();
                _retry[vm.Intent.Name] = (now + _retryMinMs, _retryMinMs);
                continue;
            }
            if (vm.Bridge is null && (!_retry.TryGetValue(vm.Intent.Name, out var r) || now >= r.RetryAt))
            {
                Open(vm);
            }
        }
        ArmRetry();
    }

    /// <summary>Wakes the actor when the first re-open is due, or not at all while none is.</summary>
    private void ArmRetry() =>
        Timers.ArmAt(CheckPorts.Instance, _retry.Count == 0 ? long.MaxValue : _retry.Values.Min(r => r.RetryAt), ref _retryAt);

    private static MacAddress Mac(Mac48 mac) => MacAddress.Parse(mac.ToString());

    private sealed class CheckPorts
    {
        public static readonly CheckPorts Instance = new();
    }
}
