using Fabric.Messages.Intent;

namespace Fabric.Actors.Switching;

/// <summary>
/// Where a container attaches, for a ghost verifier that must inject a frame as that container
/// (or recognise one delivered to it): the DCN VNIC port to inject on (the <see cref="PortRef"/>
/// the plane's port factory is called with), the 802.1Q tag to carry, and the container's
/// addresses. A frame sent into <see cref="VnicPort"/> with tag <see cref="Tag"/> and source MAC
/// <see cref="Mac"/> is this container's; a frame the MFE writes to that port with that tag is
/// for it.
/// </summary>
public sealed record MfeAttachment(
    string Host,
    string Node,
    string Mfe,
    string Container,
    string Dcn,
    PortRef VnicPort,
    Mac48 VnicMac,
    ushort Tag,
    Mac48 Mac,
    Ipv4 Ip,
    string? Tenant,
    uint? Vni);

public static class MfeAttachments
{
    /// <summary>The attachment of container <paramref name="container"/> on host <paramref name="host"/>, or null when the intent has no such container (pure).</summary>
    public static MfeAttachment? Resolve(IntentDocument intent, string host, string container)
    {
        ArgumentNullException.ThrowIfNull(intent);
        var h = intent.Hosts.FirstOrDefault(x => x.Name == host);
        var c = h?.Containers.FirstOrDefault(x => x.Name == container);
        var dcn = c is null ? null : h!.ContainerDcns.FirstOrDefault(d => d.Name == c.Dcn);
        if (h is null || c is null || dcn is null)
        {
            return null;
        }

        uint? vni = c.Tenant is { } t ? intent.Tenants.FirstOrDefault(x => x.Name == t)?.Vni : null;
        return new MfeAttachment(h.Name, h.Node, h.Mfe.Name, c.Name, dcn.Name, dcn.VnicPort, dcn.VnicMac, c.LocalTag, c.Mac, c.Ip, c.Tenant, vni);
    }

    /// <summary>Resolves a check endpoint written <c>HOST/NAME</c> (the <c>container:</c> form of the ghost checks).</summary>
    public static MfeAttachment? Resolve(IntentDocument intent, string hostSlashContainer)
    {
        ArgumentNullException.ThrowIfNull(hostSlashContainer);
        var slash = hostSlashContainer.IndexOf('/');
        return slash <= 0 || slash == hostSlashContainer.Length - 1
            ? null
            : Resolve(intent, hostSlashContainer[..slash], hostSlashContainer[(slash + 1)..]);
    }

    /// <summary>Every container attachment of the intent, host by host.</summary>
    public static IEnumerable<MfeAttachment> All(IntentDocument intent)
    {
        ArgumentNullException.ThrowIfNull(intent);
        return intent.Hosts
            .OrderBy(h => h.Name, StringComparer.Ordinal)
            .SelectMany(h => h.Containers.OrderBy(c => c.Name, StringComparer.Ordinal).Select(c => Resolve(intent, h.Name, c.Name)))
            .Where(a => a is not null)
            .Select(a => a!);
    }
}
