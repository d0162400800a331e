using System.Net.Sockets;
using Akka.Actor;
using Akka.Event;

namespace Fabric.Actors.Switching.Actors;

/// <summary>
/// mfe-&lt;name&gt; under host-&lt;host&gt;: the host's managed forwarding element. Supervises one
/// vnic-&lt;dcn&gt; actor per container DCN (owns the VNIC port) and one port-&lt;container&gt; actor
/// per container (owns the container's port: counters, capture), and keeps the data path's table
/// in step with them: every change builds a new <see cref="MfeTable"/> and swaps it in.
/// </summary>
/// <remarks>
/// A new spec is applied as a difference: only the VNICs and ports whose own configuration
/// changed are stopped or started, the others keep forwarding (a container added or removed
/// touches nothing but its port). A removed port leaves the table before its actor stops; a port
/// that must be re-made (new capture file, new VNIC port) is started again once the old actor
/// has ended, so it never meets its predecessor's device.
/// </remarks>
public sealed class MfeActor : ReceiveActor
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly SwitchingNode _node;
    private readonly MfeDatapath _datapath;
    private readonly MfeRuntime _runtime;
    private readonly Dictionary<string, (DcnSpec Spec, IActorRef Actor)> _vnicActors = new();
    private readonly Dictionary<string, (ContainerSpec Spec, IActorRef Actor)> _portActors = new();
    private readonly Dictionary<string, DcnVnic> _vnics = new();
    private readonly Dictionary<string, ContainerPort> _ports = new();
    private readonly Dictionary<string, RouterPort> _routers = new();
    private readonly Dictionary<IActorRef, Action> _whenStopped = new();
    private readonly HashSet<string> _stopping = new(); // child names whose actor is still stopping
    private MfeSpec _spec;
    private long _generation;

    public MfeActor(MfeSpec spec, SwitchingNode node)
    {
        _spec = spec;
        _node = node;
        _datapath = new MfeDatapath(spec.Host, node.Pool, node.Ghost, node.Tracer);
        _runtime = new MfeRuntime(spec, _datapath);

        Receive<MfeSpecChanged>(c => Apply(c.Spec));
        Receive<VnicUp>(u =>
        {
            if (!IsCurrent(_vnicActors, u.Vnic.Name))
            {
                return;
            }

            _vnics[u.Vnic.Name] = u.Vnic;
            _runtime.Vnics[u.Vnic.Name] = u.Vnic;
            Rebuild();
        });
        Receive<VnicDown>(d =>
        {
            if (IsCurrent(_vnicActors, d.Dcn) && _vnics.Remove(d.Dcn))
            {
                _runtime.Vnics.TryRemove(d.Dcn, out _);
                Rebuild();
            }
        });
        Receive<PortUp>(u =>
        {
            if (!IsCurrent(_portActors, u.Port.Name))
            {
                return;
            }

            _ports[u.Port.Name] = u.Port;
            _runtime.Ports[u.Port.Name] = u.Port;
            Rebuild();
        });
        Receive<Terminated>(t =>
        {
            if (_whenStopped.Remove(t.ActorRef, out var then))
            {
                then();
            }
        });
    }

    public static Props Props(MfeSpec spec, SwitchingNode node) => ActorProps.Of(() => new MfeActor(spec, node));

    protected override void PreStart()
    {
        _node.Mfes[_spec.Host] = _runtime;
        AttachUnderlay();
        Apply(_spec, first: true);
    }

    protected override void PostStop()
    {
        _datapath.Table = MfeTable.Empty;
        foreach (var router in _routers.Values)
        {
            router.Dispose();
        }

        _datapath.Underlay?.Detach(_datapath);
        _node.Mfes.TryRemove(new KeyValuePair<string, MfeRuntime>(_spec.Host, _runtime));
    }

    private void AttachUnderlay()
    {
        try
        {
            _node.EnsureUnderlay(_spec.Underlay).Attach(_datapath);
            _log.Info("MFE {0} of host {1}: Geneve underlay on {2}:{3}{4}", _spec.Mfe, _spec.Host, _spec.Underlay, _node.GenevePort,
                _node.Ghost ? " (ghost)" : "");
        }
        catch (Exception e) when (e is SocketException or IOException)
        {
            // Local forwarding works without it; frames for other hosts are counted as no-underlay.
            _log.Error(e, "MFE {0}: cannot open the Geneve underlay on {1}:{2}", _spec.Mfe, _spec.Underlay, _node.GenevePort);
        }
    }

    private void Apply(MfeSpec spec, bool first = false)
    {
        var oldUnderlay = _spec.Underlay;
        _spec = spec;
        _runtime.Spec = spec;
        if (!first && spec.Underlay != oldUnderlay)
        {
            _datapath.Underlay?.Detach(_datapath);
            _datapath.Underlay = null;
            AttachUnderlay();
        }

        var dcns = spec.Dcns.ToDictionary(d => d.Name);
        foreach (var (name, running) in _vnicActors.ToList())
        {
            if (!dcns.TryGetValue(name, out var wanted) || wanted.Fingerprint != running.Spec.Fingerprint)
            {
                StopVnic(name);
            }
        }

        foreach (var dcn in spec.Dcns)
        {
            StartVnic(dcn.Name);
        }

        var containers = spec.Containers.ToDictionary(c => c.Name);
        foreach (var (name, running) in _portActors.ToList())
        {
            if (!containers.TryGetValue(name, out var wanted) || wanted.Capture != running.Spec.Capture)
            {
                StopPort(name);
            }
            else if (wanted.Fingerprint != running.Spec.Fingerprint)
            {
                _portActors[name] = (wanted, running.Actor);
                running.Actor.Tell(new ContainerChanged(wanted));
            }
        }

        foreach (var container in spec.Containers)
        {
            StartPort(container.Name);
        }

        ApplyRouters(spec);
        Rebuild();
    }

    /// <summary>
    /// Makes the router ports the spec has and drops those it no longer has (a router port has no
    /// device: attaching to the node's patch link is all there is to start, so no actor).
    /// </summary>
    private void ApplyRouters(MfeSpec spec)
    {
        var wanted = spec.RouterPorts.Where(r => r.IsLocal).ToDictionary(r => r.Link);
        foreach (var (link, running) in _routers.ToList())
        {
            if (!wanted.TryGetValue(link, out var w) || w.ToString() != running.Spec.ToString())
            {
                running.Dispose();
                _routers.Remove(link);
                _runtime.Routers.TryRemove(link, out _);
            }
        }

        foreach (var (link, router) in wanted)
        {
            if (!_routers.ContainsKey(link))
            {
                _routers[link] = _runtime.Routers[link] = new RouterPort(router, _node.Patches, _datapath);
                _log.Info("MFE {0}: router port of gateway {1} on logical switch {2} (vni {3}, {4})", _spec.Mfe, router.Gateway, router.Tenant,
                    router.Vni, router.Mac);
            }
        }
    }

    /// <summary>Starts the VNIC of DCN <paramref name="name"/> as the spec has it, unless it runs or its predecessor is still stopping.</summary>
    private void StartVnic(string name)
    {
        if (_vnicActors.ContainsKey(name) || _stopping.Contains("vnic-" + name) || _spec.Dcns.FirstOrDefault(d => d.Name == name) is not { } dcn)
        {
            return;
        }

        var actor = Context.ActorOf(VnicActor.Props(dcn, _node, _datapath, _runtime), "vnic-" + name);
        _vnicActors[name] = (dcn, actor);
    }

    /// <summary>Takes the VNIC out of the table, then stops its actor; once it has ended the DCN starts again if the spec still has it.</summary>
    private void StopVnic(string name)
    {
        var actor = _vnicActors[name].Actor;
        _vnicActors.Remove(name);
        _vnics.Remove(name);
        _runtime.Vnics.TryRemove(name, out _);
        StopChild("vnic-" + name, actor, () => StartVnic(name));
    }

    private void StartPort(string name)
    {
        if (_portActors.ContainsKey(name) || _stopping.Contains("port-" + name) || _spec.Containers.FirstOrDefault(c => c.Name == name) is not { } container)
        {
            return;
        }

        var actor = Context.ActorOf(ContainerPortActor.Props(container, _node), "port-" + name);
        _portActors[name] = (container, actor);
    }

    private void StopPort(string name)
    {
        var actor = _portActors[name].Actor;
        _portActors.Remove(name);
        _ports.Remove(name);
        _runtime.Ports.TryRemove(name, out _);
        StopChild("port-" + name, actor, () => StartPort(name));
    }

    /// <summary>
    /// Rebuilds the tables without the child's entry (taken out by the caller), then stops the
    /// child; once it has ended, <paramref name="startAgain"/> runs (it starts the element again
    /// if the spec still has it).
    /// </summary>
    private void StopChild(string child, IActorRef actor, Action startAgain)
    {
        Rebuild();
        _stopping.Add(child);
        Context.Watch(actor);
        Context.Stop(actor);
        _whenStopped[actor] = () =>
        {
            _stopping.Remove(child);
            startAgain();
        };
    }

    /// <summary>True when <see cref="Sender"/> is the actor currently running <paramref name="name"/> (late news from a stopped one is ignored).</summary>
    private bool IsCurrent<T>(Dictionary<string, (T Spec, IActorRef Actor)> actors, string name) =>
        actors.TryGetValue(name, out var running) && running.Actor.Equals(Sender);

    private void Rebuild() => _datapath.Table = MfeTable.Build(_spec, _vnics, _ports, ++_generation, _routers);
}
