using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Cluster.Sharding;
using Akka.Hosting;
using Fabric.Actors.DataPlane.Io;
using Fabric.Actors.Gateway.Actors;
using Fabric.Actors.Guardian;
using Fabric.Messages.Gateway;
using Fabric.Messages.Intent;

namespace Fabric.Actors.Gateway;

/// <summary>
/// The <c>gw</c> element kind: every gateway whose <c>node</c> is this node runs as
/// /user/fabric/gw-NAME. The fingerprint is the canonical JSON of the gateway and its tenants'
/// VNIs, so a change to either reconfigures the running gateway. <paramref name="patches"/> is the
/// node's patch panel, where a gateway's router ports meet the MFE carrying them (main plane; a
/// ghost gateway uses its ghost plane's).
/// </summary>
public sealed class GatewayElementKind(GhostPlaneContext? ghost = null, PatchPanel? patches = null, AttachmentDevices? devices = null) : IElementKind
{
    public string Kind => "gw";

    public IEnumerable<ElementSpec> Desired(IntentDocument intent, string node)
    {
        foreach (var g in intent.Gateways.Where(g => g.Node == node))
        {
            var tenants = intent.Tenants.Where(t => g.Tenants.Any(gt => gt.Tenant == t.Name)).ToImmutableArray();
            var vnis = tenants.Select(t => new TenantVni(t.Name, t.Vni)).ToImmutableArray();
            var fingerprint = IntentJson.Write(new IntentDocument { Tenants = tenants, Gateways = [g] });
            yield return new ElementSpec(Kind, g.Name, new GatewaySpec(g, vnis), fingerprint);
        }
    }

    public Props Props(ElementSpec spec)
    {
        var gateway = (GatewaySpec)spec.Spec;
        return GatewayActor.Props(gateway, gateway.Intent.Node, ghost, patches, devices);
    }

    /// <summary>The gateway left this node's intent: the TAPs the node created for its ports are deleted when they close.</summary>
    public void Removed(ElementSpec spec)
    {
        if (devices is null || ghost is not null) return;
        foreach (var t in ((GatewaySpec)spec.Spec).Intent.Tenants)
        {
            foreach (var port in new[] { t.Downlink, t.Uplink?.Port })
            {
                if (port is { Kind: PortKind.Tap }) devices.Retire(port.Namespace ?? "", port.Name);
            }
        }
    }
}

public static class GatewayHosting
{
    /// <summary>
    /// Gateways on this node: registers the <c>gw</c> element kind with the guardian, and starts
    /// the flow-cache shard region (entity = gateway bucket; role <c>fabric</c>; coordinator state
    /// in distributed data; remember-entities off: an entity that moves is rebuilt from the
    /// gateway's misses, not from a journal).
    /// </summary>
    public static AkkaConfigurationBuilder AddGateways(
        this AkkaConfigurationBuilder builder, ElementKindRegistry kinds, IReadOnlyCollection<string> roles, GhostPlaneContext? ghost = null, PatchPanel? patches = null,
        AttachmentDevices? devices = null)
    {
        // Ghost copies run their stages in process on a flow cache of their own (never main's region).
        if (ghost is not null)
        {
            ghost.Kinds.Add(new GatewayElementKind(ghost));
            ghost.Attachments.Add(new GatewayGhostAttachments());
        }
        if (!roles.Contains(GuardianHosting.Role)) return builder;
        return builder
            .AddElementKind(kinds, new GatewayElementKind(patches: patches, devices: devices))
            .WithShardRegion<FlowCacheRegion>(
                FlowCacheRegion.Name,
                entityId => ActorProps.Of(() => new FlowCacheEntity(entityId)),
                new FlowCacheMessageExtractor(),
                new ShardOptions
                {
                    Role = GuardianHosting.Role,
                    StateStoreMode = StateStoreMode.DData,
                    RememberEntities = false,
                    // An entity holds NAT bindings and connections the gateway's hits keep alive
                    // without messaging it: idle in sharding's eyes is not idle here.
                    ShouldPassivateIdleEntities = false,
                });
    }
}
