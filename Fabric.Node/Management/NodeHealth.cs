using Akka.Actor;
using Akka.Cluster;
using Akka.Hosting;
using Fabric.Actors.Config;
using Fabric.Actors.Guardian;
using Fabric.Actors.Settings;
using Fabric.Messages.Config;
using Fabric.Messages.Node;

namespace Fabric.Node.Management;

/// <summary>
/// The node's own health, one answer for both servers: the Fabric API's <c>/health/ready</c> and
/// the Akka.Management endpoint's <c>/ready</c> (<see cref="Hosting.AkkaManagementServer"/>). Ready = this member is Up, the config store answers, and the
/// guardian runs the committed intent version (its elements are applied).
/// </summary>
public static class NodeHealth
{
    public sealed record Health(string Status, string Member, bool ConfigStore, long? IntentVersion, long? AppliedVersion, string? Reason)
    {
        [System.Text.Json.Serialization.JsonIgnore]
        public bool Ready => Status == "ready";
    }

    public static async Task<Health> ReadyAsync(ActorSystem system, CancellationToken ct = default)
    {
        var askTimeout = FabricSettings.Get(system).Management.HealthTimeout;
        var self = Cluster.Get(system).SelfMember;
        var member = self.Status.ToString();
        if (self.Status != MemberStatus.Up)
            return new Health("not-ready", member, false, null, null, $"member is {member}, not Up");
        var registry = ActorRegistry.For(system);
        if (!registry.TryGet<ConfigStoreActor>(out var store))
            return new Health("not-ready", member, false, null, null, "the config store is not started");
        CurrentIntent intent;
        try
        {
            intent = await store.Ask<CurrentIntent>(GetIntent.Instance, askTimeout, ct);
        }
        catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
        {
            return new Health("not-ready", member, false, null, null, "the config store does not answer");
        }
        if (!registry.TryGet<FabricGuardianActor>(out var guardian)) return new Health("ready", member, true, intent.Version, null, null);
        try
        {
            var applied = await guardian.Ask<AppliedIntent>(GetAppliedIntent.Instance, askTimeout, ct);
            return applied.Version >= intent.Version
                ? new Health("ready", member, true, intent.Version, applied.Version, null)
                : new Health("not-ready", member, true, intent.Version, applied.Version,
                    $"applying: the node runs intent version {applied.Version}, the committed one is {intent.Version}");
        }
        catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
        {
            return new Health("not-ready", member, true, intent.Version, null, "the guardian does not answer");
        }
    }
}

