using System.Collections.Immutable;
using Fabric.Actors.Guardian;
using Fabric.Messages.Intent;

namespace Fabric.Actors.Ghost;

/// <summary>
/// What a change can affect, so the verifier probes only that. The changed elements are those
/// whose canonical text (<see cref="IntentJson.Elements"/>) differs between main and the proposal:
/// added, removed or changed. An implicit probe runs when something it depends on changed, read
/// in both documents (so a removed element still brings in the probes that depended on it):
/// <list type="bullet">
/// <item><c>trunk-members</c> of trunk T: T, its PE, its members, each member's remote PE, the PW
/// on that PE that answers the member (the one whose local label is the member's remote label)
/// and that PW's trunk.</item>
/// <item>an end at a gateway: the gateway (all its tenants), the tenants it serves, the hosts on
/// its node (a logical-switch downlink is a router port on their MFE).</item>
/// <item>an end at a container: its host, every other host (MFEs reach each other), its
/// tenant and the gateway routing that tenant; an end at a VM: its hypervisor; an end at an
/// attachment circuit: its PE.</item>
/// <item>every port with a <c>segment</c> involved: any element with a port on that segment.</item>
/// </list>
/// A probe none of these rules names anything for runs always. Declared checks always run. A
/// change to a node or to the lab section (underlay addresses, roles: everything) probes all.
/// Pure; built from the ghost copies' documents (after placement), which are what runs.
/// </summary>
public sealed class ChangeScope
{
    private readonly HashSet<string> _changedTags;
    private readonly Index? _main;
    private readonly Index? _proposed;

    private ChangeScope(bool all, ImmutableArray<string> changed, HashSet<string> changedTags, Index? main, Index? proposed)
    {
        All = all;
        Changed = changed;
        _changedTags = changedTags;
        _main = main;
        _proposed = proposed;
    }

    /// <summary>Every implicit probe runs (a first intent, a node or lab change).</summary>
    public bool All { get; }

    /// <summary>The changed elements (<c>KIND:NAME</c>), sorted.</summary>
    public ImmutableArray<string> Changed { get; }

    /// <summary>Probes everything: for callers with no main to compare with.</summary>
    public static ChangeScope Everything { get; } = new(true, [], [], null, null);

    public static ChangeScope Between(IntentDocument main, IntentDocument proposed)
    {
        // A first intent: every element is new, nothing to compare.
        if (main.Nodes.IsDefaultOrEmpty) return Everything;
        var before = IntentJson.Elements(main);
        var after = IntentJson.Elements(proposed);
        var changed = before.Keys.Where(k => !after.TryGetValue(k, out var text) || text != before[k])
            .Concat(after.Keys.Where(k => !before.ContainsKey(k)))
            .Order(StringComparer.Ordinal).ToImmutableArray();
        var all = changed.Any(k => k.StartsWith("node:", StringComparison.Ordinal) || k.StartsWith("lab:", StringComparison.Ordinal));
        var mainIndex = new Index(main);
        var proposedIndex = new Index(proposed);
        var tags = new HashSet<string>(StringComparer.Ordinal);
        foreach (var key in changed)
        {
            tags.Add(key);
            mainIndex.AddTags(key, tags);
            proposedIndex.AddTags(key, tags);
        }
        return new ChangeScope(all, changed, tags, mainIndex, proposedIndex);
    }

    /// <summary>True when <paramref name="probe"/> can see the change: it is probed.</summary>
    public bool Covers(ImplicitProbe probe)
    {
        if (All || _main is null || _proposed is null) return true;
        var named = false;
        foreach (var index in new[] { _main, _proposed })
        {
            foreach (var dependency in index.DependenciesOf(probe))
            {
                named = true;
                if (_changedTags.Contains(dependency)) return true;
            }
        }
        return !named;
    }

    /// <summary>One line for the verification's progress.</summary>
    public string Describe(int probes, int unscoped) => All
        ? $"scope: everything ({probes} probe(s))"
        : $"scope: {Changed.Length} changed element(s) ({string.Join(", ", Changed.Take(8))}{(Changed.Length > 8 ? ", ..." : "")}): {probes} of {unscoped} probe(s)";

    /// <summary>One document's elements by name, and what each depends on.</summary>
    private sealed class Index
    {
        private readonly IntentDocument _intent;
        private readonly Dictionary<string, PeIntent> _pes = new(StringComparer.Ordinal);
        private readonly Dictionary<string, PwIntent> _pws = new(StringComparer.Ordinal);
        private readonly Dictionary<string, TrunkIntent> _trunks = new(StringComparer.Ordinal);
        private readonly Dictionary<string, TrunkIntent> _trunkOfPw = new(StringComparer.Ordinal);
        private readonly Dictionary<(string Pe, string RemotePe, uint LocalLabel), PwIntent> _byLabel = [];
        private readonly Dictionary<string, GatewayIntent> _gateways = new(StringComparer.Ordinal);
        private readonly Dictionary<string, HostIntent> _hosts = new(StringComparer.Ordinal);

        public Index(IntentDocument intent)
        {
            _intent = intent;
            foreach (var pe in intent.Pes) _pes.TryAdd(pe.Name, pe);
            foreach (var pw in intent.Pws)
            {
                _pws.TryAdd(pw.Name, pw);
                _byLabel.TryAdd((pw.Pe, pw.RemotePe, pw.LocalLabel), pw);
            }
            foreach (var trunk in intent.Trunks)
            {
                _trunks.TryAdd(trunk.Name, trunk);
                foreach (var member in trunk.Members) _trunkOfPw.TryAdd(member, trunk);
            }
            foreach (var gateway in intent.Gateways) _gateways.TryAdd(gateway.Name, gateway);
            foreach (var host in intent.Hosts) _hosts.TryAdd(host.Name, host);
        }

        /// <summary>Adds what a change of element <paramref name="key"/> (as this document has it) stands for: its segments, its kind for wildcard rules.</summary>
        public void AddTags(string key, HashSet<string> tags)
        {
            var colon = key.IndexOf(':');
            var (kind, name) = (key[..colon], key[(colon + 1)..]);
            IEnumerable<PortRef?> ports = kind switch
            {
                "pe" when _pes.TryGetValue(name, out var pe) => pe.AttachmentCircuits.Select(a => (PortRef?)a.Port),
                "gateway" when _gateways.TryGetValue(name, out var gw) => GatewayPorts(gw),
                "host" when _hosts.TryGetValue(name, out var host) => host.ContainerDcns.Select(d => (PortRef?)d.VnicPort),
                "hypervisor" => _intent.Hypervisors.Where(h => h.Name == name).SelectMany(h => h.Vms).Select(v => (PortRef?)v.Port),
                _ => [],
            };
            foreach (var port in ports)
            {
                if (port?.Segment is { } segment) tags.Add(Segment(segment));
            }
            if (kind == "host") tags.Add(AnyHost);
        }

        public IEnumerable<string> DependenciesOf(ImplicitProbe probe)
        {
            if (probe.Check == "trunk-members") return Trunk(probe.Group);
            return End(probe.From).Concat(End(probe.To));
        }

        private IEnumerable<string> Trunk(string name)
        {
            if (!_trunks.TryGetValue(name, out var trunk)) yield break;
            yield return "trunk:" + trunk.Name;
            foreach (var d in Pe(trunk.Pe, trunk.AttachmentCircuit)) yield return d;
            foreach (var member in trunk.Members)
            {
                yield return "pw:" + member;
                if (!_pws.TryGetValue(member, out var pw)) continue;
                yield return "pe:" + pw.RemotePe;
                // The PW on the remote PE that receives what the member sends.
                if (!_byLabel.TryGetValue((pw.RemotePe, pw.Pe, pw.RemoteLabel), out var answer)) continue;
                yield return "pw:" + answer.Name;
                if (!_trunkOfPw.TryGetValue(answer.Name, out var far)) continue;
                yield return "trunk:" + far.Name;
                foreach (var d in Pe(far.Pe, far.AttachmentCircuit)) yield return d;
            }
        }

        /// <summary>A PE, and the segment of its circuit <paramref name="circuit"/> (null: of all its circuits).</summary>
        private IEnumerable<string> Pe(string name, string? circuit)
        {
            yield return "pe:" + name;
            if (!_pes.TryGetValue(name, out var pe)) yield break;
            foreach (var ac in pe.AttachmentCircuits)
            {
                if ((circuit is null || ac.Name == circuit) && ac.Port.Segment is { } segment) yield return Segment(segment);
            }
        }

        private IEnumerable<string> End(CheckEndpoint end)
        {
            if (end.AttachmentCircuit is { } ac)
            {
                var slash = ac.IndexOf('/');
                foreach (var d in slash < 0 ? Pe(ac, null) : Pe(ac[..slash], ac[(slash + 1)..])) yield return d;
            }
            if (end.Gateway is { } g)
            {
                foreach (var d in Gateway(g)) yield return d;
            }
            if (end.Container is { } c)
            {
                var host = c.Split('/')[0];
                yield return "host:" + host;
                // MFEs carry each other's containers: any host's change can reach this one.
                yield return AnyHost;
                var tenant = _hosts.TryGetValue(host, out var h) ? h.Containers.FirstOrDefault(x => $"{host}/{x.Name}" == c)?.Tenant : null;
                if (tenant is not null)
                {
                    yield return "tenant:" + tenant;
                    if (_intent.RouterOf(tenant) is { } router)
                    {
                        foreach (var d in Gateway(router.Gateway.Name)) yield return d;
                    }
                }
            }
            if (end.Vm is { } v)
            {
                yield return "hypervisor:" + v.Split('/')[0];
            }
        }

        private IEnumerable<string> Gateway(string name)
        {
            yield return "gateway:" + name;
            if (!_gateways.TryGetValue(name, out var gw)) yield break;
            foreach (var t in gw.Tenants) yield return "tenant:" + t.Tenant;
            foreach (var port in GatewayPorts(gw))
            {
                if (port?.Segment is { } segment) yield return Segment(segment);
            }
            // A logical-switch downlink is a router port on the MFE of the host on the gateway's node.
            foreach (var host in _intent.Hosts.Where(h => h.Node == gw.Node)) yield return "host:" + host.Name;
        }

        private static IEnumerable<PortRef?> GatewayPorts(GatewayIntent gw) =>
            gw.Tenants.SelectMany(t => new[] { t.Downlink, t.Uplink?.Port });
    }

    private static string Segment(string name) => "segment:" + name;

    /// <summary>The tag every host change carries (container ends depend on every MFE).</summary>
    private const string AnyHost = "host:*";
}
