using Fabric.Actors.DataPlane.Flow;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Messages.Intent;

namespace Fabric.Actors.Switching;

/// <summary>
/// A container port's ACL compiled for the data path: the intent's rules (gateway firewall
/// shape) as masks and ranges in one array, tried in order, first match decides, otherwise the
/// default policy. Stateless: a reply is judged like any other packet. Only IPv4 is filtered;
/// ARP (answered by the MFE) and other EtherTypes pass. A rule with ports never matches a
/// fragment (fragments carry no ports).
/// </summary>
public sealed class PortAcl
{
    private readonly Rule[] _rules;
    private readonly bool _defaultAllow;

    private PortAcl(Rule[] rules, bool defaultAllow)
    {
        _rules = rules;
        _defaultAllow = defaultAllow;
    }

    /// <summary>Number of rules (for status).</summary>
    public int RuleCount => _rules.Length;

    /// <summary>Null for an absent ACL (everything passes).</summary>
    public static PortAcl? Compile(FirewallIntent? acl) => acl is null
        ? null
        : new PortAcl(
            acl.Rules.Select(r => new Rule(
                r.Action == FirewallAction.Allow,
                r.Protocol switch
                {
                    RuleProtocol.Tcp => IpProtocol.Tcp,
                    RuleProtocol.Udp => IpProtocol.Udp,
                    RuleProtocol.Icmp => IpProtocol.Icmp,
                    _ => (IpProtocol)0,
                },
                r.Protocol == RuleProtocol.Any,
                r.Source.Network.Value, r.Source.Mask,
                r.Destination.Network.Value, r.Destination.Mask,
                r.Ports is { } p,
                r.Ports?.From ?? 0, r.Ports?.To ?? 0)).ToArray(),
            acl.DefaultPolicy == FirewallPolicy.Allow);

    /// <summary>True when the packet whose key is <paramref name="key"/> passes.</summary>
    public bool Allows(in FlowKey key)
    {
        if ((key.Flags & FlowKeyFlags.Ipv4) == 0)
        {
            return true;
        }

        uint source = key.SourceAddress.ToUInt32();
        uint destination = key.DestinationAddress.ToUInt32();
        bool ports = (key.Flags & FlowKeyFlags.Transport) != 0;
        foreach (ref readonly Rule rule in _rules.AsSpan())
        {
            if ((rule.AnyProtocol || rule.Protocol == key.IpProtocol)
                && (source & rule.SourceMask) == rule.Source
                && (destination & rule.DestinationMask) == rule.Destination
                && (!rule.HasPorts || (ports && key.DestinationPort >= rule.PortFrom && key.DestinationPort <= rule.PortTo)))
            {
                return rule.Allow;
            }
        }

        return _defaultAllow;
    }

    /// <summary>A stable text of an ACL for fingerprints (the intent records' arrays do not compare by content).</summary>
    public static string Describe(FirewallIntent? acl) => acl is null
        ? "-"
        : $"{acl.DefaultPolicy}[{string.Join(";", acl.Rules.Select(r => $"{r.Name},{r.Action},{r.Protocol},{r.Source},{r.Destination},{r.Ports}"))}]";

    private readonly record struct Rule(
        bool Allow,
        IpProtocol Protocol,
        bool AnyProtocol,
        uint Source,
        uint SourceMask,
        uint Destination,
        uint DestinationMask,
        bool HasPorts,
        ushort PortFrom,
        ushort PortTo);
}
