using Akka.Actor;
using Akka.Event;
using Fabric.Messages.Intent;
using Fabric.Messages.Pseudowire;

namespace Fabric.Actors.Pseudowire;

/// <summary>
/// trunk-&lt;name&gt;: creates its member PWs (children pw-&lt;name&gt;), feeds its attachment
/// circuit into a <see cref="TrunkForwarder"/>, and keeps the forwarder's selector equal to the
/// members that are up: on every member transition it rebuilds the table (only the failed or
/// returning member's buckets change) and decides whether the trunk is up (at least MinActive
/// members). Every transition is logged and counted.
/// </summary>
public sealed class TrunkActor : ReceiveActor
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly TrunkIntent _intent;
    private readonly PwLink[] _members;
    private readonly AttachmentCircuit _ac;
    private readonly PwUnderlay _underlay;
    private readonly PseudowireNode _node;
    private readonly TrunkMemberWeight[] _weights;
    private readonly TrunkForwarder _forwarder;
    private readonly TrunkRuntime _runtime;
    private ulong _activeMask;

    public TrunkActor(TrunkIntent intent, PwConfig[] members, AttachmentCircuit ac, PwUnderlay underlay, PseudowireNode node)
    {
        _intent = intent;
        _ac = ac;
        _underlay = underlay;
        _node = node;
        var interval = TimeSpan.FromMilliseconds(intent.HelloIntervalMs);
        _members = members.Select(c => new PwLink(c, interval, intent.Multiplier) { Delivery = ac }).ToArray();
        _weights = members.Select(c => new TrunkMemberWeight(c.Name, c.Weight)).ToArray();
        var balance = Settings.FabricSettings.Get(Context.System).Pseudowire.Trunk; // read once per node, not once per trunk
        var leastLoaded = intent.Balance switch
        {
            TrunkBalance.LeastLoaded => true,
            TrunkBalance.Hash => false,
            _ => balance.LeastLoaded,
        };
        var pins = leastLoaded ? new TrunkFlowPins(_members.Length, balance) : null;
        _forwarder = new TrunkForwarder(intent.Name, intent.Mode, _members, underlay, TrunkSelector.Build(_weights, 0), pins) { Tracer = node.Tracer };
        _runtime = new TrunkRuntime(intent, _forwarder, ac);
        Receive<PwLivenessChanged>(OnMemberChanged);
    }

    public static Props Props(TrunkIntent intent, PwConfig[] members, AttachmentCircuit ac, PwUnderlay underlay, PseudowireNode node) =>
        ActorProps.Of(() => new TrunkActor(intent, members, ac, underlay, node));

    protected override void PreStart()
    {
        foreach (var pw in _members)
        {
            _node.Pws[pw.Name] = pw;
            Context.ActorOf(PwActor.Props(pw, _underlay), "pw-" + pw.Name);
        }

        _node.Trunks[_intent.Name] = _runtime;
        _ac.Forwarder = _forwarder;
        _log.Info("Trunk {0} on {1}: {2} member(s), {3} ({4}), min active {5}; down until {5} member(s) answer hellos",
            _intent.Name, _intent.AttachmentCircuit, _members.Length, _intent.Mode, _forwarder.Pins is null ? "hash" : "least-loaded", _intent.MinActive);
    }

    protected override void PostStop()
    {
        if (ReferenceEquals(_ac.Forwarder, _forwarder))
        {
            _ac.Forwarder = null;
        }

        _node.Trunks.TryRemove(new KeyValuePair<string, TrunkRuntime>(_intent.Name, _runtime));
        foreach (var pw in _members)
        {
            _node.Pws.TryRemove(new KeyValuePair<string, PwLink>(pw.Name, pw));
        }
    }

    private void OnMemberChanged(PwLivenessChanged change)
    {
        int index = Array.FindIndex(_members, m => m.Name == change.Pw);
        if (index < 0)
        {
            return;
        }

        ulong bit = 1UL << index;
        ulong next = change.Up ? _activeMask | bit : _activeMask & ~bit;
        if (next == _activeMask)
        {
            return;
        }

        _activeMask = next;
        Interlocked.Increment(ref _runtime.MemberTransitions);
        var selector = TrunkSelector.Build(_weights, _activeMask);
        _forwarder.Selector = selector;
        _log.Info("Trunk {0}: member {1} {2} ({3}); {4}/{5} active",
            _intent.Name, change.Pw, change.Up ? "joins" : "leaves", change.Reason, selector.ActiveCount, _members.Length);
        bool up = selector.ActiveCount >= _intent.MinActive;
        if (up != _forwarder.IsUp)
        {
            _forwarder.IsUp = up;
            Interlocked.Increment(ref _runtime.Transitions);
            if (up)
            {
                _log.Info("Trunk {0} is UP: {1} active member(s) >= min {2}", _intent.Name, selector.ActiveCount, _intent.MinActive);
            }
            else if (_node.IsGhost)
            {
                // A ghost copy's trunk goes down whenever the verifier moves the copy between
                // intents: the verifier reports what matters, and main's log stays about main.
                _log.Info("Ghost trunk {0} is DOWN: {1} active member(s) < min {2}", _intent.Name, selector.ActiveCount, _intent.MinActive);
            }
            else
            {
                _log.Warning("Trunk {0} is DOWN: {1} active member(s) < min {2}", _intent.Name, selector.ActiveCount, _intent.MinActive);
            }
        }
    }
}
