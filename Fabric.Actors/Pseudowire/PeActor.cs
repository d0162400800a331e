using Akka.Actor;
using Akka.Event;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Guardian;
using Fabric.Messages.Intent;
using Fabric.Messages.Pseudowire;

namespace Fabric.Actors.Pseudowire;

/// <summary>
/// pe-&lt;name&gt; under /user/fabric: owns the PE's attachment circuits (their ports) and starts a
/// trunk-&lt;name&gt; child per trunk and a pw-&lt;name&gt; child per PW outside any trunk (those only
/// run liveness). On a changed spec it stops its children, waits for them to end, keeps the
/// ports whose configuration did not change (a TAP moved into a namespace must survive), and
/// starts the new set. A circuit whose port cannot be opened (its namespace does not exist yet,
/// the name is taken by another kind of device) is retried with backoff; once it opens, the PE
/// restarts its trunks so the circuit's trunk starts too.
/// </summary>
public sealed class PeActor : ReceiveActor, IWithStash, IWithTimers
{
    /// <summary>Retry delays of a circuit whose port failed to open (as a gateway port's).</summary>
    private static readonly TimeSpan InitialBackoff = TimeSpan.FromMilliseconds(100), MaxBackoff = TimeSpan.FromSeconds(5), StableAfter = TimeSpan.FromSeconds(10);

    private readonly Dictionary<string, Gateway.PortRestartPolicy> _failedCircuits = new();

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly PseudowireNode _node;
    private readonly Dictionary<string, (PortRef Port, AttachmentCircuit Ac)> _acs = new();
    private PeElement _spec;
    private PwUnderlay _underlay = null!;
    private PeRuntime _runtime = null!;
    private int _stopping;

    public PeActor(PeElement spec, PseudowireNode node)
    {
        _spec = spec;
        _node = node;
        Running();
    }

    public IStash Stash { get; set; } = null!;

    public ITimerScheduler Timers { get; set; } = null!;

    private sealed class RetryCircuits
    {
        public static readonly RetryCircuits Instance = new();
    }

    protected override void PreStart()
    {
        _underlay = _node.EnsureUnderlay(_spec.Underlay);
        _runtime = new PeRuntime(_spec, _underlay.Local.ToString());
        _node.Pes[_spec.Pe.Name] = _runtime;
        StartElements();
    }

    protected override void PostStop()
    {
        _node.Pes.TryRemove(new KeyValuePair<string, PeRuntime>(_spec.Pe.Name, _runtime));
        foreach (var (_, ac) in _acs.Values)
        {
            ac.Dispose();
        }

        _acs.Clear();
    }

    private void Running()
    {
        Receive<ElementSpecChanged>(changed =>
        {
            _spec = (PeElement)changed.Spec.Spec;
            _log.Info("PE {0} changed: restarting its trunks and PWs", _spec.Pe.Name);
            RestartElements();
        });
        Receive<RetryCircuits>(_ =>
        {
            // Only when a missing circuit opens are the trunks restarted (the others keep forwarding meanwhile).
            var open = _acs.Count;
            OpenAttachmentCircuits();
            if (_acs.Count > open) RestartElements();
        });
        Receive<PwLivenessChanged>(c => _log.Info("PW {0} (no trunk) is {1}", c.Pw, c.State));
    }

    /// <summary>Stops the trunk and PW children, then (once they ended) opens what is missing and starts them again.</summary>
    private void RestartElements()
    {
        var children = Context.GetChildren().ToList();
        if (children.Count == 0)
        {
            StartElements();
            return;
        }

        _stopping = children.Count;
        foreach (var child in children)
        {
            Context.Watch(child);
            Context.Stop(child);
        }

        Become(Restarting);
    }

    private void Restarting()
    {
        Receive<Terminated>(_ =>
        {
            if (--_stopping == 0)
            {
                StartElements();
                Become(Running);
                Stash.UnstashAll();
            }
        });
        ReceiveAny(_ => Stash.Stash());
    }

    private void StartElements()
    {
        _runtime.Element = _spec;
        OpenAttachmentCircuits();
        foreach (var trunk in _spec.Trunks)
        {
            if (!_acs.TryGetValue(trunk.AttachmentCircuit, out var ac))
            {
                _log.Error("Trunk {0}: attachment circuit {1} is not open; trunk not started", trunk.Name, trunk.AttachmentCircuit);
                continue;
            }

            var members = trunk.Members.Select(m => _spec.Pws.First(p => p.Name == m)).ToArray();
            Context.ActorOf(TrunkActor.Props(trunk, members, ac.Ac, _underlay, _node), "trunk-" + trunk.Name);
        }

        foreach (var pw in _spec.Pws.Where(p => p.Trunk is null))
        {
            var link = new PwLink(pw, TimeSpan.FromMilliseconds(50), 3);
            _node.Pws[pw.Name] = link;
            Context.ActorOf(PwActor.Props(link, _underlay), "pw-" + pw.Name);
        }
    }

    private void OpenAttachmentCircuits()
    {
        var wanted = _spec.Pe.AttachmentCircuits.ToDictionary(a => a.Name);
        foreach (var name in _acs.Keys.ToList())
        {
            if (!wanted.TryGetValue(name, out var a) || a.Port != _acs[name].Port)
            {
                RetireIfUnwanted(_acs[name].Port);
                _acs[name].Ac.Dispose();
                _acs.Remove(name);
                _runtime.AttachmentCircuits.TryRemove(name, out _);
            }
        }

        foreach (var a in _spec.Pe.AttachmentCircuits.Where(a => !_acs.ContainsKey(a.Name)))
        {
            if (_acs.Values.FirstOrDefault(x => (x.Port.Kind, x.Port.Name) == (a.Port.Kind, a.Port.Name)).Ac is { } sharing)
            {
                _log.Error("PE {0}: attachment circuit {1} names port {2}, already attachment circuit {3}: one circuit per port (several VLANs on one port are not supported yet)",
                    _spec.Pe.Name, a.Name, a.Port.Name, sharing.Name);
                continue;
            }

            try
            {
                var port = _node.PortFactory(a.Port, _node.NextPortId());
                TellAttachmentMtu(a.Name, port);
                var ac = new AttachmentCircuit(a.Name, port, _node.Pool, a.Vlan is { } vlan ? new VlanId(vlan) : (VlanId?)null, _node.IsGhost, _node.Tracer);
                ac.Start(_underlay.Port.Loop);
                _acs[a.Name] = (a.Port, ac);
                _runtime.AttachmentCircuits[a.Name] = ac;
                _runtime.FailedCircuits.TryRemove(a.Name, out _);
                if (_failedCircuits.Remove(a.Name, out var failed))
                    _log.Info("PE {0}: attachment circuit {1} on {2} port {3} opened after {4} failed attempt(s)", _spec.Pe.Name, a.Name, a.Port.Kind, a.Port.Name, failed.OpenFailures);
                else
                    _log.Info("PE {0}: attachment circuit {1} on {2} port {3}", _spec.Pe.Name, a.Name, a.Port.Kind, a.Port.Name);
            }
            catch (Exception e) when (e is IOException or ArgumentException or InvalidOperationException)
            {
                if (!_failedCircuits.TryGetValue(a.Name, out var policy)) _failedCircuits[a.Name] = policy = new Gateway.PortRestartPolicy(InitialBackoff, MaxBackoff, StableAfter);
                var delay = policy.Failed(e.Message, openFailed: true);
                _runtime.FailedCircuits[a.Name] = (a.Port, e.Message);
                _log.Error("PE {0}: cannot open port {1} for attachment circuit {2}: {3}; retrying in {4} ms", _spec.Pe.Name, a.Port.Name, a.Name, e.Message, (int)delay.TotalMilliseconds);
                // One timer for the PE: the shortest pending delay wins (a restart retries every missing circuit).
                if (!Timers.IsTimerActive(RetryCircuits.Instance)) Timers.StartSingleTimer(RetryCircuits.Instance, RetryCircuits.Instance, delay);
            }
        }

        foreach (var name in _failedCircuits.Keys.Where(n => !wanted.ContainsKey(n)).ToList())
        {
            _failedCircuits.Remove(name);
            _runtime.FailedCircuits.TryRemove(name, out _);
        }
    }

    /// <summary>
    /// A circuit's port is closing because the intent changed: when no circuit of the new spec uses
    /// its TAP device any more, a device the node created is deleted as it closes (one it attached
    /// to, made by someone else, is only detached).
    /// </summary>
    private void RetireIfUnwanted(PortRef old)
    {
        if (old.Kind != PortKind.Tap || _node.Devices is not { } devices)
        {
            return;
        }

        if (!_spec.Pe.AttachmentCircuits.Any(a => a.Port.Kind == PortKind.Tap && a.Port.Name == old.Name && a.Port.Namespace == old.Namespace))
        {
            devices.Retire(old.Namespace ?? "", old.Name);
        }
    }

    /// <summary>
    /// Sets a TAP attachment's MTU to what its trunk's PWs carry over this node's underlay
    /// (<see cref="PeElement.AttachmentMtu"/>), so the CE never sends a packet the underlay would
    /// have to fragment. A simulated or ghost port has no MTU to set.
    /// </summary>
    private void TellAttachmentMtu(string circuit, IPort port)
    {
        if (port is not TapPort tap)
        {
            return;
        }

        var underlayMtu = PwMtu.UnderlayMtu(_spec.Underlay);
        if (_spec.AttachmentMtu(circuit, underlayMtu) is not { } mtu)
        {
            return;
        }

        try
        {
            tap.SetMtu(mtu);
            _log.Info("PE {0}: attachment circuit {1} ({2}) MTU {3} (underlay {4} MTU {5})", _spec.Pe.Name, circuit, tap.InterfaceName, mtu, _spec.Underlay,
                underlayMtu?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown");
        }
        catch (IOException e)
        {
            _log.Warning("PE {0}: cannot set the MTU of {1} to {2}: {3}", _spec.Pe.Name, tap.InterfaceName, mtu, e.Message);
        }
    }
}
