using System.Collections.Immutable;
using Fabric.Actors.DataPlane.Wire;
using Fabric.Actors.Guardian;
using Fabric.Messages.Intent;

namespace Fabric.Actors.Ghost;

/// <summary>What one probe is for and how it is sent.</summary>
/// <param name="Key">Stable across runs (check, group, flow): the differential compares by it.</param>
/// <param name="Check">The declared check's name, or the implicit check's.</param>
/// <param name="Group">Probes judged together (an implicit check's subject, e.g. a trunk).</param>
public sealed record PlannedProbe(
    uint Id,
    string Key,
    string Check,
    string Group,
    bool Declared,
    CheckExpectation Expect,
    string Describe,
    GhostAttachment? From,
    GhostAttachment? To,
    byte[] Frame,
    string? Unresolved,
    ProbeProtocol Protocol = ProbeProtocol.Icmp,
    ushort? Port = null,
    CheckEndpoint? FromEnd = null,
    CheckEndpoint? ToEnd = null);

/// <summary>
/// Turns an intent's checks (declared, and each capability's implicit ones) into probe frames
/// for the ghost network: pure, no actors. A check end no capability can resolve gives a probe
/// with <see cref="PlannedProbe.Unresolved"/> set (judged as a finding, never sent).
/// </summary>
public static class ProbePlan
{
    /// <summary>
    /// The probes of <paramref name="intent"/>, ids from <paramref name="firstId"/>: every declared
    /// check, and the implicit probes <paramref name="include"/> keeps (all when null; see
    /// <see cref="ChangeScope"/>). Each implicit probe's ends are resolved once for all its flows.
    /// </summary>
    public static ImmutableArray<PlannedProbe> Build(IntentDocument intent, IReadOnlyList<IGhostAttachments> attachments, uint firstId,
        Func<ImplicitProbe, bool>? include = null)
    {
        var probes = ImmutableArray.CreateBuilder<PlannedProbe>();
        var id = firstId;
        foreach (var check in intent.Checks.OrderBy(c => c.Name, StringComparer.Ordinal))
        {
            var ends = Ends(intent, attachments, check.From, check.To);
            probes.Add(Make(ends, id++, check.Name, check.Name, check.Name, true, check.From, check.To, check.Protocol, check.Port, check.Expect));
        }
        foreach (var p in Implicit(intent, attachments, include))
        {
            var ends = Ends(intent, attachments, p.From, p.To);
            for (var flow = 0; flow < Math.Max(1, p.Flows); flow++)
            {
                probes.Add(Make(ends, id++, $"{p.Check}|{p.Group}|{flow}", p.Check, p.Group, false, p.From, p.To, p.Protocol, p.Port, p.Expect));
            }
        }
        return probes.ToImmutable();
    }

    /// <summary>How many probes <see cref="Build"/> gives, without resolving or framing any (ids are allocated from it).</summary>
    public static int Count(IntentDocument intent, IReadOnlyList<IGhostAttachments> attachments, Func<ImplicitProbe, bool>? include = null) =>
        intent.Checks.Length + Implicit(intent, attachments, include).Sum(p => Math.Max(1, p.Flows));

    /// <summary>The ghost ports the probes of <see cref="Build"/> are sent from or should arrive at, by node (the verifier waits until they are open).</summary>
    public static Dictionary<string, ImmutableArray<string>> Ports(IntentDocument intent, IReadOnlyList<IGhostAttachments> attachments, Func<ImplicitProbe, bool>? include = null) =>
        intent.Checks.Select(c => (c.From, c.To))
            .Concat(Implicit(intent, attachments, include).Select(p => (p.From, p.To)))
            .Select(e => Ends(intent, attachments, e.From, e.To))
            .SelectMany(e => new[] { e.Source, e.Destination })
            .OfType<GhostAttachment>()
            .Where(a => a.PortKey.Length > 0)
            .GroupBy(a => a.Node)
            .ToDictionary(g => g.Key, g => g.Select(a => a.PortKey).Distinct().ToImmutableArray());

    private static IEnumerable<ImplicitProbe> Implicit(IntentDocument intent, IReadOnlyList<IGhostAttachments> attachments, Func<ImplicitProbe, bool>? include) =>
        attachments.SelectMany(a => a.Implicit(intent)).Where(p => include is null || include(p));

    /// <summary>Where a probe from <paramref name="from"/> to <paramref name="to"/> enters and should leave the ghost network.</summary>
    private readonly record struct ProbeEnds(GhostAttachment? Source, GhostAttachment? Destination);

    private static ProbeEnds Ends(IntentDocument intent, IReadOnlyList<IGhostAttachments> attachments, CheckEndpoint from, CheckEndpoint to) =>
        new(Resolve(intent, attachments, from, to), Resolve(intent, attachments, to, from));

    private static PlannedProbe Make(ProbeEnds ends, uint id, string key, string check, string group,
        bool declared, CheckEndpoint from, CheckEndpoint to, ProbeProtocol protocol, ushort? port, CheckExpectation expect)
    {
        var describe = $"{Name(protocol)}{(port is { } p ? "/" + p : "")} from {from} to {to}";
        var (source, destination) = ends;
        string? unresolved = source is null ? $"no running capability attaches {from} to the ghost network"
            : source.PortKey.Length == 0 ? $"{source.Describe} has no port: nothing can be sent from it"
            : !to.IsOutside && destination is null ? $"no running capability attaches {to} to the ghost network"
            : null;
        // An end whose address the network assigns (a VM's cellular address) uses that address.
        var sender = source?.Address is { } fromAddress ? @from with { Address = fromAddress } : @from;
        var receiver = destination?.Address is { } toAddress && !to.IsOutside ? to with { Address = toAddress } : to;
        var frame = unresolved is null ? Frame(id, protocol, source!, sender, receiver, port) : [];
        return new PlannedProbe(id, key, check, group, declared, expect, describe, source, destination, frame, unresolved, protocol, port, sender, receiver);
    }

    /// <summary>The same probe under a new id (a re-send): a new frame, since the id is in the marker.</summary>
    public static PlannedProbe Reissue(PlannedProbe p, uint id) =>
        p.Unresolved is not null || p.From is null || p.FromEnd is null || p.ToEnd is null
            ? p with { Id = id }
            : p with { Id = id, Frame = Frame(id, p.Protocol, p.From, p.FromEnd, p.ToEnd, p.Port) };

    private static GhostAttachment? Resolve(IntentDocument intent, IReadOnlyList<IGhostAttachments> attachments, CheckEndpoint end, CheckEndpoint peer)
    {
        foreach (var a in attachments)
        {
            if (a.TryResolve(intent, end, peer, out var attachment)) return attachment;
        }
        return null;
    }

    private static byte[] Frame(uint id, ProbeProtocol protocol, GhostAttachment from, CheckEndpoint source, CheckEndpoint destination, ushort? port)
    {
        var buffer = new byte[256];
        var src = new Ipv4Address(source.Address.Value);
        var dst = new Ipv4Address(destination.Address.Value);
        var length = protocol == ProbeProtocol.Arp
            ? GhostProbe.BuildArp(buffer, id, src, dst, from.Vlan)
            : GhostProbe.BuildIp(buffer, id, protocol switch
            {
                ProbeProtocol.Tcp => IpProtocol.Tcp,
                ProbeProtocol.Udp => IpProtocol.Udp,
                _ => IpProtocol.Icmp,
            }, from.SourceMac, from.FirstHopMac, src, dst, port ?? 0, vlan: from.Vlan);
        return buffer[..length];
    }

    public static string Name(ProbeProtocol protocol) => protocol.ToString().ToLowerInvariant();
}
